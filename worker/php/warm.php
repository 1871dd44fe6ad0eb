<?php
/**
 * warm.php - mwworker's PHP side of a warm worker (MediaWiki 1.39).
 *
 * Run once as the main script of the worker's one long PHP request: it
 * runs includes/WebStart.php -> Setup.php and stops Setup.php where its
 * per-request part starts (the SetupAfterCache hook, just after the
 * WebRequest is made), so the worker can take its checkpoint there.
 * Then, for every HTTP request, the worker calls MwsupWarm::request()
 * with the entry point (index, api, load, rest, opensearch_desc,
 * img_auth, thumb, thumb_handler): it redoes what
 * WebStart.php and the tail of Setup.php do per request, then runs the
 * body of the entry script.  The entry scripts themselves cannot run:
 * they require WebStart.php, which redefines functions.
 *
 * How per-request state is reset without MediaWiki's test-only reset
 * methods (which throw outside PHPUnit):
 *  - Globals and class statics go back to the checkpoint in C
 *    (worker/checkpoint.c): RequestContext::$instance, SessionManager's
 *    singleton and global session, WebResponse's cookie list, DeferredUpdates'
 *    queues, Title's and User's static caches, WebRequest's request id,
 *    Rest\EntryPoint::$mainRequest, HeaderCallback's state ... all are
 *    statics, all are null or empty at the checkpoint because the bootstrap
 *    stops before they are filled (and the few filled are cleared below
 *    before the checkpoint).
 *  - Services: the bootstrap's MediaWikiServices container serves every
 *    request.  The services named "service:Name" in mw.yaml's
 *    snapshot.exclude, made from the site's configuration only, are kept
 *    as they are.  Those of snapshot.reset (by default all of core's but
 *    the few made from the request) are made once and, after every
 *    request, set back to the state they were made in: the properties of
 *    the service and of each object it owns are recorded when it is made
 *    and put back (mwsup_put_back(), worker/putback.c), so per-user and
 *    per-request state (PermissionManager's rights cache, UserOptionsManager,
 *    LinkCache, the message cache...) does not outlive its request.  They
 *    go with the load balancer they may hold (after a write; on a database
 *    that is not kept).  Every other service is dropped from the container
 *    (its private instance table, reached with a closure bound to
 *    ServiceContainer) after each request, so the next one makes it anew.
 *    A kept service is checked once (its whole object graph) for a
 *    reference to a service that is not kept, a User, a request, a
 *    session, a database connection...; a reset one, once set back, for a
 *    user, a request, a session or a service made per request; one that
 *    holds any is made per request from then on (logged), so a wrong entry
 *    in mw.yaml costs speed, not isolation.
 *  - PHP's session: written and closed after each request as PHP's request
 *    shutdown would; the save handler is installed again by each request.
 *  - What MediaWiki derives from the request while it bootstraps is kept
 *    out of the bootstrap and derived by each request: $wgCookieSecure's
 *    'detect' (setupCallback(), deriveFromRequest()), the request id
 *    (afterBoot()).  The worker compares what two bootstraps for
 *    different synthetic requests leave (fingerprints()) and serves a site
 *    whose settings differ between them cold.
 *
 * Entry-point constants (MW_ENTRY_POINT, MW_API, MW_REST_API,
 * MW_NO_SESSION) are set by the worker before each call; the worker
 * compiles PHP without the defined() opcode, whose per-opline cache would
 * otherwise remember a constant defined for an earlier request.
 */

use MediaWiki\HeaderCallback;
use MediaWiki\Logger\LegacyLogger;
use MediaWiki\Logger\LoggerFactory;
use MediaWiki\MainConfigNames;
use MediaWiki\MediaWikiServices;
use MediaWiki\ResourceLoader\Context as ResourceLoaderContext;
use MediaWiki\Rest\EntryPoint as RestEntryPoint;
use MediaWiki\Session\PHPSessionHandler;
use MediaWiki\Session\SessionManager;

final class MwsupWarmBootstrapDone extends Exception {
}

final class MwsupWarm {
	/** @var bool Setup.php ran up to its per-request part */
	private static $booted = false;
	/** @var string[] services kept across requests (set by the worker) */
	public static $keepServices = [];
	/** @var bool mwsup -v: log the lists of services (set by the worker) */
	public static $debug = false;
	/** @var bool the first request dropped the bootstrap's services */
	private static $ready = false;
	/** @var bool[] kept service names (keys) */
	private static $keep = [];

	/** SetupAfterCache handler, registered first: ends the bootstrap. */
	public static function onSetupAfterCache() {
		if ( !self::$booted ) {
			throw new MwsupWarmBootstrapDone();
		}
	}

	/**
	 * @var bool $wgCookieSecure is 'detect' in the site's settings: each
	 * request derives it from its own protocol (in webStart())
	 */
	private static $cookieSecureDetect = false;

	// mirrors includes/WebStart.php:73-84 sha256:ff91e94152ac2073
	/**
	 * MW_SETUP_CALLBACK: WebStart's, minus its output buffer (per request).
	 * Called after LocalSettings.php, before Setup.php computes the
	 * dynamic defaults.  $wgCookieSecure's ('detect': secure when the
	 * request came over https) would come from the bootstrap's synthetic
	 * request and then serve every request: the bootstrap gets false
	 * instead, and each request its own (webStart()).
	 */
	public static function setupCallback( $settings ) {
		global $wgHooks;

		$wgHooks['SetupAfterCache'] = array_merge(
			[ [ self::class, 'onSetupAfterCache' ] ],
			$wgHooks['SetupAfterCache'] ?? []
		);
		$builder = $settings->getConfigBuilder();
		if ( $builder->get( MainConfigNames::CookieSecure ) ===
			$settings->getConfigSchema()->getDefaultFor( MainConfigNames::CookieSecure )
		) {
			self::$cookieSecureDetect = true;
			$settings->putConfigValue( MainConfigNames::CookieSecure, false );
		}
	}

	// mirrors includes/MainConfigSchema.php:9041-9048 sha256:038c4cec50e270d3
	/**
	 * What the bootstrap derived from its synthetic request and each
	 * request derives again: the globals set (before anything of the
	 * request reads them), the statics emptied (MediaWiki fills them on
	 * first use).
	 */
	private static function deriveFromRequest(): void {
		global $wgCookieSecure, $wgForceHTTPS;

		if ( self::$cookieSecureDetect ) {
			$wgCookieSecure = MediaWiki\MainConfigSchema::getDefaultCookieSecure( $wgForceHTTPS );
		}
	}

	/** After the bootstrap stopped: forget the per-request objects it made. */
	public static function afterBoot() {
		global $wgRequest;

		self::$booted = true;
		$wgRequest = null;
		( static function () {
			self::$instance = null;
		} )->bindTo( null, RequestContext::class )();
		// The request id (X-Request-Id, wgRequestId) is made on first use
		// from the request (its X-Request-Id with $wgAllowExternalReqID,
		// else random): one made by the bootstrap would be every
		// request's.  MediaWiki's header callback asks for it when the
		// headers go, which for the bootstrap is when the worker drops
		// them: it is not called then (each request registers it again).
		WebRequest::overrideRequestId( null );
		header_register_callback( static function () {
		} );
		while ( ob_get_level() ) {
			ob_end_clean();
		}
	}

	/**
	 * Objects that belong to one request or one user, or to the database
	 * layer (LBFactory is made per request: it captures the client and the
	 * HTTP method).  A kept service that reaches one of these is not kept.
	 */
	private const REQUEST_CLASSES = [
		...self::USER_CLASSES,
		Wikimedia\Rdbms\ILBFactory::class, Wikimedia\Rdbms\ILoadBalancer::class,
		Wikimedia\Rdbms\IDatabase::class,
	];

	/** Objects of one request or one user: no reset service may hold one. */
	private const USER_CLASSES = [
		User::class, MediaWiki\Permissions\Authority::class,
		WebRequest::class, WebResponse::class, IContextSource::class,
		OutputPage::class, Skin::class,
		MediaWiki\Session\Session::class, MediaWiki\Session\SessionBackend::class,
		MediaWiki\Session\SessionManager::class,
	];

	/**
	 * Objects a reset service may hold that are not its own, so not set
	 * back with it: the database layer and the object caches with
	 * connections (kept from one request to the next by their own rules,
	 * see keepDatabase() and keepObjectCaches()), loggers, closures (what
	 * they capture is not followed) and the container.
	 */
	private const NOT_OWNED = [
		Wikimedia\Rdbms\ILBFactory::class, Wikimedia\Rdbms\ILoadBalancer::class,
		Wikimedia\Rdbms\IDatabase::class, SqlBagOStuff::class,
		Psr\Log\LoggerInterface::class, Wikimedia\Services\ServiceContainer::class,
	];

	/**
	 * Properties of kept services that a request may change and that go
	 * back to their state after the bootstrap: handlers registered at run
	 * time (an extension function may register one per request).
	 */
	private const RESET_PROPERTIES = [
		'HookContainer' => [ 'dynamicHandlers', 'tombstones', 'nextScopedRegisterId' ],
	];

	/**
	 * Properties of kept services set to a fixed value after each request,
	 * before the check: caches of objects made for one request.
	 * LanguageConverterFactory keeps a converter per language, and a
	 * converter remembers the variant of the request's user and holds the
	 * title formatter, which is made per request.
	 */
	private const CLEAR_PROPERTIES = [
		'LanguageConverterFactory' => [ 'cache' => [] ],
	];

	/**
	 * Properties of services dropped after a request that are emptied as
	 * they go, so that what they hold is freed at once by reference
	 * counting instead of being left to the cycle collector.  The
	 * ResourceLoader and its module objects form reference cycles: after a
	 * load.php startup request ~9,500 values waited for a collection (which
	 * then ran after every second such request, 2-3 ms each).  The table
	 * is a cache: a loader emptied of it makes each module again on demand
	 * from its registry, should anything still ask it.
	 */
	private const EMPTY_WHEN_DROPPED = [
		'ResourceLoader' => [
			MediaWiki\ResourceLoader\ResourceLoader::class => [ 'modules' => [] ],
		],
	];

	/** @var array[] service name => property => value after the bootstrap */
	private static $resetValues = [];

	/** @var int[] spl_object_id => 1 of kept instances already checked */
	private static $checked = [];

	/**
	 * A hash of each value of $values (name => value: the globals and
	 * class statics the checkpoint would take, handed by the worker) that
	 * two bootstraps for different synthetic requests can be compared by
	 * (worker/warm.c).  Arrays and scalars by content; objects by class
	 * and properties; an object met again (in any value) by the order in
	 * which it was first met; closures by their code's place, bound object
	 * and captured variables.  Passed over: the container of services (the
	 * bootstrap's services are dropped or checked by their own rules), and
	 * $wgSettings, the settings as Setup.php loaded them, whose contents
	 * depend on whether the extension registry was in this process's cache
	 * (the first bootstrap fills it) and of which only the schema is used
	 * after Setup.php; the settings themselves are globals, compared.
	 */
	public static function fingerprints( array $values ): array {
		$seen = [];
		$out = [];
		$container = MediaWikiServices::getInstance();
		foreach ( $values as $name => $value ) {
			if ( $name[0] !== '$' && self::hasObject( $value ) ) {
				continue;
			}
			$ctx = hash_init( 'md5' );
			self::feed( $ctx, $value, $seen, $container );
			$out[$name] = hash_final( $ctx );
		}
		return $out;
	}

	private static function hasObject( $v ): bool {
		if ( is_object( $v ) ) {
			return true;
		}
		if ( is_array( $v ) ) {
			foreach ( $v as $e ) {
				if ( self::hasObject( $e ) ) {
					return true;
				}
			}
		}
		return false;
	}

	private static function feed( HashContext $ctx, $v, array &$seen, object $container ): void {
		if ( is_array( $v ) ) {
			hash_update( $ctx, 'a' . count( $v ) . '{' );
			foreach ( $v as $k => $e ) {
				hash_update( $ctx, is_int( $k ) ? "i$k=" : 's' . strlen( $k ) . ":$k=" );
				self::feed( $ctx, $e, $seen, $container );
			}
			hash_update( $ctx, '}' );
			return;
		}
		if ( !is_object( $v ) ) {
			hash_update( $ctx, is_resource( $v ) || gettype( $v ) === 'resource (closed)'
				? 'resource' : gettype( $v ) . ':' . var_export( $v, true ) . ';' );
			return;
		}
		$id = spl_object_id( $v );
		if ( isset( $seen[$id] ) ) {
			hash_update( $ctx, 'r' . $seen[$id] . ';' );
			return;
		}
		$seen[$id] = count( $seen );
		hash_update( $ctx, 'o' . get_class( $v ) . '{' );
		if ( $v === $container || $v instanceof MediaWiki\Settings\SettingsBuilder ) {
			$inner = null;
		} elseif ( $v instanceof Closure ) {
			$r = new ReflectionFunction( $v );
			$inner = [ $r->getFileName() . ':' . $r->getStartLine(), $r->getClosureThis(),
				$r->getStaticVariables() ];
		} else {
			$inner = get_mangled_object_vars( $v );
		}
		self::feed( $ctx, $inner, $seen, $container );
		hash_update( $ctx, '}' );
	}

	/** The container's instances made so far: service name => instance. */
	// mirrors vendor/wikimedia/services/src/ServiceContainer.php:50-50 sha256:52520cec883aae66
	private static function serviceTable(): array {
		return self::inContainer( function () {
			return $this->services;
		} );
	}

	/** Run $fn with $this = the container, in ServiceContainer's scope. */
	private static function inContainer( Closure $fn ) {
		return Closure::bind( $fn, MediaWikiServices::getInstance(),
			Wikimedia\Services\ServiceContainer::class )();
	}

	/**
	 * What in $value's object graph makes it unfit to outlive the request:
	 * an instance of a service that is not kept ($forbidden, by object id)
	 * or of a per-request class; null when nothing.  Closures are followed
	 * through their bound object and captured variables; the container
	 * itself is kept, so holding it is fine.
	 */
	private static function leakIn( $value, array $forbidden, object $container,
		array &$seen, int $depth = 0, array $classes = self::REQUEST_CLASSES, array $stop = []
	): ?string {
		if ( $depth > 200 ) {
			return null;
		}
		if ( is_array( $value ) ) {
			foreach ( $value as $v ) {
				if ( is_array( $v ) || is_object( $v ) ) {
					$why = self::leakIn( $v, $forbidden, $container, $seen, $depth + 1,
						$classes, $stop );
					if ( $why !== null ) {
						return $why;
					}
				}
			}
			return null;
		}
		if ( !is_object( $value ) || $value === $container ) {
			return null;
		}
		$id = spl_object_id( $value );
		if ( isset( $seen[$id] ) ) {
			return null;
		}
		$seen[$id] = true;
		if ( isset( $forbidden[$id] ) ) {
			return 'service ' . $forbidden[$id];
		}
		foreach ( $classes as $class ) {
			if ( $value instanceof $class ) {
				return 'a ' . get_class( $value );
			}
		}
		foreach ( $stop as $class ) {
			if ( $value instanceof $class ) {
				return null;
			}
		}
		if ( $value instanceof Closure ) {
			$r = new ReflectionFunction( $value );
			$inner = [ $r->getClosureThis(), $r->getStaticVariables() ];
		} elseif ( $value instanceof SplObjectStorage ) {
			$inner = [];
			foreach ( $value as $i => $obj ) {
				$inner[] = $obj;
				$inner[] = $value[$obj];
			}
		} elseif ( $value instanceof ArrayObject || $value instanceof ArrayIterator ) {
			$inner = $value->getArrayCopy();
		} else {
			$inner = get_mangled_object_vars( $value );
		}
		$why = self::leakIn( $inner, $forbidden, $container, $seen, $depth + 1, $classes, $stop );
		return $why === null ? null : get_class( $value ) . ' -> ' . $why;
	}

	/**
	 * Kept services made since the last check must not hold anything of
	 * this request: each one's object graph is searched once (a service
	 * gets its collaborators when it is made).  One that does is not kept
	 * after all (logged), and then every kept one is checked again, since
	 * another may hold it.  With MWSUP_WARM_VERIFY set in the
	 * environment, every kept service is checked after every request.
	 */
	private static function checkKept() {
		$container = MediaWikiServices::getInstance();
		$table = self::serviceTable();
		$all = getenv( 'MWSUP_WARM_VERIFY' ) !== false;
		if ( !$all ) {
			$new = false;
			foreach ( self::$keep as $name => $_ ) {
				$instance = $table[$name] ?? null;
				$new = $new || ( is_object( $instance ) && !isset( self::$checked[spl_object_id( $instance )] ) );
			}
			if ( !$new ) {
				return;
			}
		}
		do {
			// By object: an alias (RevisionLookup for RevisionStore) is
			// the same object under another name.
			$forbidden = $kept = [];
			foreach ( $table as $name => $instance ) {
				if ( is_object( $instance ) ) {
					if ( isset( self::$keep[$name] ) ) {
						$kept[spl_object_id( $instance )] = true;
					} else {
						$forbidden[spl_object_id( $instance )] = $name;
					}
				}
			}
			$forbidden = array_diff_key( $forbidden, $kept );
			$again = false;
			foreach ( $table as $name => $instance ) {
				if ( !isset( self::$keep[$name] ) || !is_object( $instance ) ||
					( !$all && isset( self::$checked[spl_object_id( $instance )] ) )
				) {
					continue;
				}
				$seen = [];
				$why = self::leakIn( $instance, $forbidden, $container, $seen );
				if ( $why === null ) {
					self::$checked[spl_object_id( $instance )] = true;
					continue;
				}
				error_log( "warm mode: service $name is not kept across requests: " .
					"it holds $why" );
				unset( self::$keep[$name] );
				self::$madeChanged = true;
				self::$checked = [];
				$again = true;
				break;
			}
		} while ( $again );
	}

	/** Sets properties of $instance as seen from class $scope. */
	private static function setProperties( object $instance, string $scope, array $values ): void {
		Closure::bind( static function () use ( $instance, $values ) {
			foreach ( $values as $prop => $value ) {
				$instance->$prop = $value;
			}
		}, null, $scope )();
	}

	/** @var string[] snapshot.reset (set by the worker) */
	public static $resetServices = [];

	/** @var bool[] names of the services reset after each request */
	private static $resetNames = [];

	/** @var bool[] those of them named in snapshot.reset (not by "core") */
	private static $namedReset = [];

	/**
	 * Services of MediaWiki core made from the request: what they are made
	 * with is not the site's configuration alone, so they are made anew
	 * for each request even when snapshot.reset names them.
	 */
	private const MADE_FROM_REQUEST = [
		'AuthManager' => 'it is made with the request',
		'CommentFormatter' => "it is made with the user's language",
		'RowCommentFormatter' => "it is made with the user's language",
		'UrlUtils' => "it is made with the request's protocol",
		'WRStatsFactory' => "it is made with the request's id",
	];

	/**
	 * @var array[] name => [ instance, [ object id => [ object, its
	 * properties ] ] of it and every object it owned when made, object ids
	 * of the services it held then ] for the reset services made since the
	 * last time they were all dropped
	 */
	private static $made = [];

	/**
	 * Made: a reset service's state, and that of every object it owns
	 * (reached through its properties, not through another service or a
	 * NOT_OWNED object), is recorded, to be put back after each request.
	 * A service made holding a per-user or per-request object, or an
	 * object whose state PHP does not show (an internal class), is not
	 * reset but dropped after each request like the others (logged once).
	 */
	private static function made( string $name, $service ): void {
		if ( !is_object( $service ) ) {
			return;
		}
		$services = [];
		foreach ( self::serviceTable() as $n => $instance ) {
			if ( is_object( $instance ) ) {
				$services[spl_object_id( $instance )] = $n;
			}
		}
		$owned = $held = [];
		$todo = [ $service ];
		$why = null;
		while ( $todo && $why === null ) {
			$value = array_pop( $todo );
			if ( is_array( $value ) ) {
				foreach ( $value as $v ) {
					if ( is_array( $v ) || is_object( $v ) ) {
						$todo[] = $v;
					}
				}
				continue;
			}
			$id = spl_object_id( $value );
			if ( isset( $owned[$id] ) ) {
				continue;
			}
			if ( $value !== $service && isset( $services[$id] ) ) {
				$held[$id] = $services[$id];
				continue;
			}
			if ( isset( self::$ownerOf[$id] ) ) {
				// Owned by a reset service made before, and set back with it.
				$held[$id] = self::$ownerOf[$id];
				continue;
			}
			if ( $value instanceof Closure ) {
				continue;
			}
			foreach ( self::NOT_OWNED as $class ) {
				if ( $value instanceof $class ) {
					continue 2;
				}
			}
			foreach ( self::USER_CLASSES as $class ) {
				if ( $value instanceof $class ) {
					$why = 'a ' . get_class( $value );
					break 2;
				}
			}
			if ( !( $value instanceof stdClass ) &&
				( new ReflectionObject( $value ) )->isInternal()
			) {
				$why = 'a ' . get_class( $value );
				break;
			}
			$vars = get_mangled_object_vars( $value );
			$owned[$id] = [ $value, $vars ];
			$todo[] = $vars;
		}
		$quiet = false;
		foreach ( $held as $n ) {
			if ( $why === null && !isset( self::$keep[$n] ) && !isset( self::$resetNames[$n] ) ) {
				$why = "service $n, which is made for each request";
				// Expected of some of core's (logged if named).
				$quiet = !isset( self::$namedReset[$name] );
			}
		}
		if ( $why !== null ) {
			if ( !$quiet ) {
				error_log( "warm mode: service $name is not reset but made for each request: " .
					"it is made holding $why" );
			}
			unset( self::$resetNames[$name] );
			return;
		}
		self::$made[$name] = [ $service, $owned, $held ];
		foreach ( $owned as $id => $_ ) {
			self::$ownerOf[$id] = $name;
		}
		self::$madeChanged = true;
	}

	/** @var string[] object id => name of the reset service that owns it */
	private static $ownerOf = [];

	/**
	 * After a request: every reset service is set back to its state when
	 * made, or, if any can no longer be (the load balancer or an SQL
	 * object cache it may hold was not kept), all are forgotten, to be
	 * made anew by the requests that need them.  Returns the names of the
	 * services to keep in the container.
	 */
	private static function putBackMade( bool $all ): array {
		if ( !$all ) {
			self::forgetMade();
			return [];
		}
		$table = self::serviceTable();
		foreach ( self::$made as $name => $made ) {
			if ( ( $table[$name] ?? null ) !== $made[0] ) {
				self::$madeChanged = true;
				break;
			}
		}
		if ( self::$madeChanged ) {
			self::sortMade( $table );
		}
		$left = function_exists( 'mwsup_put_back' ) ?
			mwsup_put_back( self::$records, self::$keptIds ) : array_keys( self::$records );
		foreach ( $left as $i ) {
			self::putBack( self::$records[$i][0], self::$records[$i][1], self::$keptIds );
		}
		// Set back, each must hold nothing of the request: checked once
		// for each instance, or every time with MWSUP_WARM_VERIFY.
		$verify = getenv( 'MWSUP_WARM_VERIFY' ) !== false;
		$forbidden = null;
		foreach ( self::$made as $name => [ $instance ] ) {
			if ( !$verify && isset( self::$resetChecked[spl_object_id( $instance )] ) ) {
				continue;
			}
			if ( $forbidden === null ) {
				// One walk for all: what one reaches that another reached
				// before was clean.  The services kept as they are were
				// checked on their own (checkKept()); not walked again.
				$forbidden = $seen = [];
				foreach ( $table as $n => $other ) {
					if ( !is_object( $other ) ) {
						continue;
					}
					if ( !isset( self::$keptIds[spl_object_id( $other )] ) ) {
						$forbidden[spl_object_id( $other )] = $n;
					} elseif ( isset( self::$keep[$n] ) ) {
						$seen[spl_object_id( $other )] = true;
					}
				}
			}
			$why = self::leakIn( $instance, $forbidden, MediaWikiServices::getInstance(), $seen, 0,
				self::USER_CLASSES, self::NOT_OWNED );
			if ( $why === null ) {
				self::$resetChecked[spl_object_id( $instance )] = true;
				continue;
			}
			error_log( "warm mode: service $name is not reset but made for each request: " .
				"after a request it holds $why" );
			unset( self::$resetNames[$name], self::$made[$name] );
			// Those holding it go too; the others are set back again.
			self::$madeChanged = true;
			return self::putBackMade( true );
		}
		return array_fill_keys( array_keys( self::$made ), true );
	}

	/** No reset service is kept any more: all are made anew when asked for. */
	private static function forgetMade(): void {
		self::$made = self::$ownerOf = self::$resetChecked = self::$records = self::$keptIds = [];
		self::$madeChanged = false;
	}

	/**
	 * After reset services were made or dropped: those holding a service
	 * that goes (or an object owned by one) go too, and what is set back
	 * is listed again.
	 */
	private static function sortMade( array $table ): void {
		do {
			$again = false;
			foreach ( self::$made as $name => [ $instance, , $held ] ) {
				$gone = ( $table[$name] ?? null ) !== $instance;
				foreach ( $held as $n ) {
					$gone = $gone || !( isset( self::$keep[$n] ) || isset( self::$made[$n] ) );
				}
				if ( $gone ) {
					unset( self::$made[$name] );
					$again = true;
				}
			}
		} while ( $again );
		self::$keptIds = self::$ownerOf = self::$records = [];
		foreach ( $table as $name => $instance ) {
			if ( is_object( $instance ) && ( isset( self::$keep[$name] ) || isset( self::$made[$name] ) ) ) {
				self::$keptIds[spl_object_id( $instance )] = true;
			}
		}
		foreach ( self::$made as $name => [ , $owned ] ) {
			foreach ( $owned as $id => $record ) {
				self::$records[] = $record;
				self::$ownerOf[$id] = $name;
			}
		}
		self::$madeChanged = false;
	}

	/** @var array[] [ object, its properties as made ] of every reset service's objects */
	private static $records = [];

	/** @var bool[] object id => true of kept and reset service instances */
	private static $keptIds = [];

	/** @var bool reset services were made or dropped since sortMade() */
	private static $madeChanged = false;

	/** @var bool[] object id => true: reset service instances checked */
	private static $resetChecked = [];

	/**
	 * Puts an object's properties back to $vars (as get_mangled_object_vars()
	 * has them), except one that was null and now holds a service that
	 * stays ($kept, by object id): a factory's link to the instance it
	 * made for the container (ParserFactory's main Parser) stays.
	 */
	private static function putBack( object $object, array $vars, array $kept ): void {
		$now = get_mangled_object_vars( $object );
		if ( $now === $vars ) {
			return;
		}
		$byScope = [];
		foreach ( $vars as $key => $value ) {
			if ( !array_key_exists( $key, $now ) || ( $now[$key] !== $value &&
				!( $value === null && is_object( $now[$key] ) && isset( $kept[spl_object_id( $now[$key] )] ) ) )
			) {
				$byScope[self::scopeOf( $key, $object )][self::propOf( $key )] = [ true, $value ];
			}
		}
		foreach ( $now as $key => $value ) {
			if ( !array_key_exists( $key, $vars ) ) {
				$byScope[self::scopeOf( $key, $object )][self::propOf( $key )] = [ false, null ];
			}
		}
		foreach ( $byScope as $scope => $props ) {
			Closure::bind( static function () use ( $object, $props ) {
				foreach ( $props as $prop => [ $set, $value ] ) {
					if ( $set ) {
						$object->$prop = $value;
					} else {
						unset( $object->$prop );
					}
				}
			}, null, $scope )();
		}
	}

	/** The class scope a mangled property name is reached from. */
	private static function scopeOf( string $key, object $object ): string {
		if ( $key !== '' && $key[0] === "\0" ) {
			$class = substr( $key, 1, strpos( $key, "\0", 1 ) - 1 );
			if ( $class !== '*' ) {
				return $class;
			}
		}
		return get_class( $object );
	}

	/** The property name in a mangled one. */
	private static function propOf( string $key ): string {
		return $key !== '' && $key[0] === "\0" ? substr( $key, strpos( $key, "\0", 1 ) + 1 ) : $key;
	}

	/** A kept service's instance, if a request made it. */
	private static function keptInstance( string $name ): ?object {
		return isset( self::$keep[$name] ) ?
			MediaWikiServices::getInstance()->peekService( $name ) : null;
	}

	/**
	 * After a request: every instantiated service that is not kept is
	 * dropped from the container (destroyed if it says how, emptied if
	 * EMPTY_WHEN_DROPPED says so), so that the next request that asks for
	 * it gets a new one.
	 */
	private static function resetServices( bool $resetKept = false ) {
		foreach ( self::CLEAR_PROPERTIES as $name => $values ) {
			$instance = self::keptInstance( $name );
			if ( $instance !== null ) {
				self::setProperties( $instance, get_class( $instance ), $values );
			}
		}
		self::checkKept();
		foreach ( self::RESET_PROPERTIES as $name => $props ) {
			$instance = self::keptInstance( $name );
			if ( $instance === null ) {
				continue;
			}
			$saved = &self::$resetValues[$name];
			Closure::bind( static function () use ( $instance, $props, &$saved ) {
				foreach ( $props as $prop ) {
					if ( $saved === null || !array_key_exists( $prop, $saved ) ) {
						$saved[$prop] = $instance->$prop;
					} else {
						$instance->$prop = $saved[$prop];
					}
				}
			}, null, get_class( $instance ) )();
			unset( $saved );
		}
		$keep = self::$keep + self::putBackMade( $resetKept );
		if ( self::$keptDb !== null ) {
			$keep += [ 'DBLoadBalancerFactory' => true, 'DBLoadBalancer' => true ];
		}
		$dropped = self::inContainer( function () use ( $keep ) {
			$dropped = [];
			foreach ( $this->services as $name => $instance ) {
				if ( !isset( $keep[$name] ) ) {
					unset( $this->services[$name] );
					$dropped[$name] = $instance;
				}
			}
			return $dropped;
		} );
		foreach ( $dropped as $name => $instance ) {
			// The load balancer factory is no DestructibleService: not
			// destroyed, its connections stayed open until the cycle
			// collector freed it, with what they held (a MySQL named
			// lock, an open SQLite transaction) meanwhile.
			if ( $instance instanceof Wikimedia\Services\DestructibleService ||
				$instance instanceof Wikimedia\Rdbms\ILBFactory
			) {
				$instance->destroy();
			}
			foreach ( self::EMPTY_WHEN_DROPPED[$name] ?? [] as $class => $values ) {
				if ( $instance instanceof $class ) {
					self::setProperties( $instance, $class, $values );
				}
			}
		}
	}

	/**
	 * Once per worker: how many services are kept, reset and made per
	 * request, in one line; the names (several lines of a few hundred
	 * bytes: core's list is long) only with mwsup -v, as every worker
	 * logs them again at each start.
	 */
	private static function logServices(): void {
		$all = MediaWikiServices::getInstance()->getServiceNames();
		$made = array_diff( $all, array_keys( self::$keep ), array_keys( self::$resetNames ) );
		error_log( sprintf( 'warm mode: services: %d kept, %d reset, %d made per request%s',
			count( self::$keep ), count( self::$resetNames ), count( $made ),
			self::$debug ? '' : ' (mwsup -v lists them)' ) );
		if ( !self::$debug ) {
			return;
		}
		error_log( 'warm mode: services kept across requests: ' .
			( implode( ' ', array_keys( self::$keep ) ) ?: 'none' ) );
		foreach ( array_chunk( array_keys( self::$resetNames ), 20 ) ?: [ [ 'none' ] ] as $names ) {
			error_log( 'warm mode: services reset after each request: ' . implode( ' ', $names ) );
		}
		foreach ( array_chunk( array_values( $made ), 20 ) ?: [ [ 'none' ] ] as $names ) {
			error_log( 'warm mode: services made per request: ' . implode( ' ', $names ) );
		}
	}

	/**
	 * One HTTP request.  Returns false when the worker should not serve
	 * another one with this state (an exception reached the top).
	 */
	public static function request( string $entry ): bool {
		$clean = true;
		self::$entry = $entry;
		self::$dbFailed = false;
		if ( !self::$ready ) {
			self::$keep = array_fill_keys( self::$keepServices, true );
			self::resetServices();
			self::installCacheManipulators();
			self::installResetManipulators();
			self::$ready = true;
			self::logServices();
		}
		try {
			self::webStart();
			switch ( $entry ) {
				case 'index':
					// mirrors index.php:44-51 sha256:2a4de9a2292b034b
					( new MediaWiki() )->run();
					break;
				case 'api':
					self::apiMain();
					break;
				case 'load':
					self::loadMain();
					break;
				case 'rest':
					// mirrors rest.php:26-31 sha256:73751e060dfdcbd3
					RestEntryPoint::main();
					break;
				case 'mwsup-jobs':
					MwsupJobs::main();
					break;
				case 'opensearch_desc':
					wfOpenSearchDescMain();
					break;
				case 'img_auth':
					wfImageAuthMain();
					( new MediaWiki() )->doPostOutputShutdown();
					break;
				case 'thumb':
				case 'thumb_handler':
					wfThumbMain();
					break;
			}
		} catch ( Throwable $e ) {
			// What PHP would hand to the handler Setup.php installed.
			MWExceptionHandler::handleUncaughtException( $e );
			// A database server that is down or went away (api.php
			// lets DBConnectionError through when it checks the user's
			// block after the action) is no reason to bootstrap again:
			// with each request of an outage a new worker would.  What
			// the request made of the database layer goes instead (see
			// end()); index.php catches the same error itself.
			if ( $e instanceof Wikimedia\Rdbms\DBError ) {
				self::$dbFailed = true;
			} else {
				$clean = false;
			}
		}
		return $clean;
	}

	/** After the response and the shutdown functions, before the restore. */
	public static function end() {
		// PHP's request shutdown would write and close the session.
		if ( session_status() === PHP_SESSION_ACTIVE ) {
			session_write_close();
		}
		if ( session_status() !== PHP_SESSION_ACTIVE ) {
			session_id( '' );
		}
		$cachesKept = self::keepObjectCaches();
		self::keepDatabase();
		if ( self::$dbFailed ) {
			// The load balancer may remember the server as down, and
			// the reset services hold it: all are made anew.
			self::$keptDb = null;
			$cachesKept = false;
		}
		$lbf = MediaWikiServices::getInstance()->peekService( 'DBLoadBalancerFactory' );
		if ( self::$neverKept !== null && self::$resetNames ) {
			// Then the reset services would go after every request: made
			// and recorded for nothing.
			error_log( 'warm mode: the services of snapshot.reset are made for each request: ' .
				self::$neverKept );
			self::$resetNames = [];
		}
		self::resetServices( $cachesKept && ( $lbf === null || self::$keptDb !== null ) );
	}

	/** @var string|null why the database or an SQL cache is never kept */
	private static $neverKept = null;

	/** Once, while none exists: the reset services are recorded as made. */
	private static function installResetManipulators() {
		$services = MediaWikiServices::getInstance();
		self::$resetNames = [];
		foreach ( self::$resetServices as $name ) {
			$names = $name === 'core' ?
				array_keys( require MWSUP_MW_ROOT . '/includes/ServiceWiring.php' ) : [ $name ];
			foreach ( $names as $n ) {
				if ( isset( self::MADE_FROM_REQUEST[$n] ) ) {
					if ( $name !== 'core' ) {
						error_log( "warm mode: service $n is not reset but made for each " .
							'request: ' . self::MADE_FROM_REQUEST[$n] );
					}
				} elseif ( !$services->hasService( $n ) ) {
					error_log( "warm mode: snapshot.reset: no service $n" );
				} elseif ( !isset( self::$keep[$n] ) && $services->peekService( $n ) === null ) {
					self::$resetNames[$n] = true;
					if ( $name !== 'core' ) {
						self::$namedReset[$n] = true;
					}
				}
			}
		}
		foreach ( self::$resetNames as $name => $_ ) {
			$services->addServiceManipulator( $name, static function ( $service ) use ( $name ) {
				if ( isset( self::$resetNames[$name] ) ) {
					self::made( $name, $service );
				}
				return null;
			} );
		}
	}

	/** @var Wikimedia\Rdbms\LBFactory|null kept for the next read request */
	private static $keptDb = null;

	/** @var bool a database error reached the top of the request */
	private static $dbFailed = false;

	/** @var string the entry point of the request being served */
	private static $entry = '';

	/**
	 * Whether the request may keep the load balancer or take the kept
	 * one: a read (GET, HEAD), or a job slice on a wiki whose servers are
	 * all MySQL.  A slice is a POST (SQLite opens its transactions for
	 * writing then: its connection made for a read does not fit), but on
	 * MySQL nothing of the connection depends on the HTTP method, and no
	 * client of a slice can have written anything it would have to see.
	 */
	private static function mayKeepDatabase( Wikimedia\Rdbms\ILBFactory $lbf ): bool {
		if ( in_array( $_SERVER['REQUEST_METHOD'] ?? '', [ 'GET', 'HEAD' ], true ) ) {
			return true;
		}
		if ( self::$entry !== 'mwsup-jobs' ) {
			return false;
		}
		foreach ( $lbf->getAllLBs() as $lb ) {
			for ( $i = 0; $i < $lb->getServerCount(); $i++ ) {
				if ( $lb->getServerType( $i ) !== 'mysql' ) {
					return false;
				}
			}
		}
		return true;
	}

	/**
	 * The database load balancer of a single-server wiki (SQLite, or one
	 * MariaDB/MySQL server), with its open connection, is kept from one
	 * read request (GET, HEAD; on MySQL also a job slice) to the next:
	 * opening the connection was
	 * ~15% of a small API request on SQLite, and with it go the reset
	 * services.  It is kept only when nothing can differ from a new one:
	 * the connection was made for a read (SQLite's transaction mode
	 * follows the HTTP method), no transaction or transaction round is
	 * open, the request wrote nothing (a write would make MediaWiki answer
	 * the next ones as if that client had just written), and there is one
	 * server (no replica positions to wait for).  A MySQL connection's
	 * session is then set back as a new one's (resetMysql()).  Its request
	 * information (client address, user agent, chronology cookie) is given
	 * again by the next request, whose HTTP method must be a read too (or
	 * a job slice, on MySQL); otherwise it is destroyed and made anew, as
	 * every other service is.  A job slice that ran no job (the idle
	 * wiki's poll, every jobs.poll) thus keeps the connection of the reads
	 * before it; one that ran jobs wrote, and its connection goes.
	 */
	private static function keepDatabase() {
		self::$keptDb = null;
		$lbf = MediaWikiServices::getInstance()->peekService( 'DBLoadBalancerFactory' );
		if ( !( $lbf instanceof Wikimedia\Rdbms\LBFactory ) || !self::mayKeepDatabase( $lbf ) ||
			$lbf->hasTransactionRound() || $lbf->hasOrMadeRecentPrimaryChanges( INF )
		) {
			return;
		}
		foreach ( $lbf->getAllLBs() as $lb ) {
			$type = $lb->getServerCount() === 1 ? $lb->getServerType( $lb->getWriterIndex() ) : '';
			if ( $type !== 'sqlite' && $type !== 'mysql' ) {
				self::$neverKept ??= 'the database is not a single SQLite or MySQL server';
				return;
			}
			$conns = self::openConnections( $lb );
			foreach ( $conns as $conn ) {
				if ( $conn->trxLevel() || $conn->explicitTrxActive() ) {
					return;
				}
			}
			foreach ( $conns as $conn ) {
				if ( $conn instanceof Wikimedia\Rdbms\DatabaseMysqli && !self::resetMysql( $conn ) ) {
					return;
				}
			}
		}
		Closure::bind( function () {
			$this->chronProt = null;
		}, $lbf, Wikimedia\Rdbms\LBFactory::class )();
		self::$keptDb = $lbf;
	}

	/** A load balancer's open connections (forEachOpenConnection() is deprecated). */
	private static function openConnections( Wikimedia\Rdbms\ILoadBalancer $lb ): array {
		return iterator_to_array( Closure::bind( function () {
			return $this->getOpenConnections();
		}, $lb, get_class( $lb ) )(), false );
	}

	/**
	 * A kept MySQL connection's session set back as a new connection's:
	 * COM_CHANGE_USER (mysqli::change_user(), same account and database)
	 * rolls back a transaction, releases the named locks (GET_LOCK) and
	 * table locks, drops temporary tables and user variables, and sets
	 * every session variable back to the server's global value, the
	 * character set to the one the client connected with; then the
	 * session variables MediaWiki sets at connect (DatabaseMysqlBase::
	 * open(): group_concat_max_len, sql_mode, the server's 'variables')
	 * are set again, and MediaWiki's bookkeeping of locks and temporary
	 * tables emptied.  80 us for the change on a local socket, after the
	 * response.  False (the connection is not kept) if either fails.
	 */
	private static function resetMysql( Wikimedia\Rdbms\DatabaseMysqli $db ): bool {
		return Closure::bind( function () {
			$mysqli = $this->conn;
			if ( !( $mysqli instanceof mysqli ) ) {
				return false;
			}
			$params = $this->connectionParams;
			if ( !@$mysqli->change_user( (string)$params[self::CONN_USER],
				(string)$params[self::CONN_PASSWORD], (string)$this->getDBname() )
			) {
				return false;
			}
			$this->sessionNamedLocks = [];
			$this->sessionTempTables = [];
			$set = [ 'group_concat_max_len = 262144' ];
			foreach ( $this->connectionVariables as $var => $val ) {
				if ( !is_int( $val ) && !is_float( $val ) ) {
					$val = $this->addQuotes( $val );
				}
				$set[] = $this->platform->addIdentifierQuotes( $var ) . ' = ' . $val;
			}
			return @$mysqli->query( 'SET ' . implode( ', ', $set ) ) === true;
		}, $db, Wikimedia\Rdbms\DatabaseMysqlBase::class )();
	}

	/**
	 * Whether the kept MySQL connections are still there: the server may
	 * have closed one since the last request (restarted, wait_timeout).
	 * One round trip each (mysqli::ping()), ~40 us on a local socket.
	 */
	private static function mysqlAlive( Wikimedia\Rdbms\ILBFactory $lbf ): bool {
		foreach ( $lbf->getAllLBs() as $lb ) {
			foreach ( self::openConnections( $lb ) as $conn ) {
				if ( $conn instanceof Wikimedia\Rdbms\DatabaseMysqli && !Closure::bind( function () {
					return $this->conn instanceof mysqli && @$this->conn->ping();
				}, $conn, Wikimedia\Rdbms\Database::class )() ) {
					return false;
				}
			}
		}
		return true;
	}

	/** Before a request: the kept load balancer, if this is a read. */
	private static function resumeDatabase() {
		$lbf = self::$keptDb;
		if ( $lbf === null ) {
			return;
		}
		self::$keptDb = null;
		$services = MediaWikiServices::getInstance();
		// A connection the server closed meanwhile is replaced with all
		// the rest: the request makes a new load balancer.
		if ( !self::mayKeepDatabase( $lbf ) || !self::mysqlAlive( $lbf ) ) {
			// The reset services may hold it: they go with it.
			$names = array_merge( [ 'DBLoadBalancerFactory', 'DBLoadBalancer' ],
				array_keys( self::$made ) );
			self::forgetMade();
			self::inContainer( function () use ( $names ) {
				foreach ( $names as $name ) {
					unset( $this->services[$name] );
				}
			} );
			$lbf->destroy();
			return;
		}
		// applyGlobalState() reads the request and its arguments only;
		// the builder service would make the WAN cache, the stash and
		// the read-only mode first (~3% of an api.php siteinfo request).
		self::$lbConfigBuilder ??= ( new ReflectionClass( MWLBFactory::class ) )
			->newInstanceWithoutConstructor();
		self::$lbConfigBuilder->applyGlobalState(
			$lbf, $services->getMainConfig(), $services->getStatsdDataFactory() );
	}

	/** @var MWLBFactory|null an unconstructed one, for applyGlobalState() */
	private static $lbConfigBuilder = null;

	/** @var SqlBagOStuff[] SQL object caches kept across requests: by
	 * ObjectCache id, "wan" (MainWANObjectCache's store), "stash"
	 * (MainObjectStash) */
	private static $keptCaches = [];

	/**
	 * SQL object caches that open their own database connection (the
	 * objectcache file of a SQLite wiki, or servers named in
	 * $wgObjectCaches) are kept for the next request with that connection
	 * open: opening one (PDO, then MediaWiki's PRAGMA queries) was 10-15%
	 * of a small API request, and a request opens up to three: the
	 * caches of ObjectCache::getInstance() (sessions, the message cache),
	 * the store under MainWANObjectCache and MainObjectStash, each its own
	 * instance.  What an instance holds of the request is set back as a
	 * new one would have it (cleanSqlCache); the next request gets the
	 * same instances, with its own statistics factory: the ObjectCache
	 * ones put back, the other two through service manipulators
	 * (installed once, they swap the store of each new WAN cache and
	 * replace each new stash).  Caches that go through the load balancer,
	 * and every other kind of cache (a process-memory one would carry data
	 * from one request to the next), are made per request.
	 */
	private static function keepObjectCaches(): bool {
		self::$keptCaches = [];
		$all = true;
		foreach ( ObjectCache::$instances as $id => $cache ) {
			$all = self::keepSqlCache( $cache, $id, "the SQL object cache $id" ) && $all;
		}
		$services = MediaWikiServices::getInstance();
		$wan = $services->peekService( 'MainWANObjectCache' );
		if ( $wan instanceof WANObjectCache ) {
			// mirrors includes/libs/objectcache/wancache/WANObjectCache.php:133-134 sha256:8d0d81be54d4d7b6
			$store = Closure::bind( function () {
				return $this->cache;
			}, $wan, WANObjectCache::class )();
			$all = self::keepSqlCache( $store, 'wan', "the WAN cache's SQL store" ) && $all;
		}
		$stash = $services->peekService( 'MainObjectStash' );
		return self::keepSqlCache( $stash, 'stash', 'the main stash' ) && $all;
	}

	/**
	 * Keeps $cache under $key if it is an SQL cache with connections of its
	 * own; false if it is one that goes through the load balancer (which
	 * is so for good: the reset services are then made per request).
	 */
	private static function keepSqlCache( $cache, $key, string $what ): bool {
		if ( !( $cache instanceof SqlBagOStuff ) ) {
			return true;
		}
		if ( !self::cleanSqlCache( $cache, $what ) ) {
			self::$neverKept ??= "$what goes through the load balancer";
			return false;
		}
		self::$keptCaches[$key] = $cache;
		return true;
	}

	// mirrors includes/objectcache/SqlBagOStuff.php:55-58 sha256:16d9d1ef95167d1a
	// mirrors includes/objectcache/SqlBagOStuff.php:81-82 sha256:f26c5849e9551804
	// mirrors includes/libs/objectcache/MediumSpecificBagOStuff.php:42-50 sha256:752e80c63befa475
	/**
	 * A SQL cache set back to what a new instance holds, if it has
	 * connections of its own; false if it goes through the load balancer.
	 * Duplicate-key bookkeeping, prepared values, locks, the last error
	 * and servers marked down are forgotten; an open transaction is rolled
	 * back (logged).
	 */
	private static function cleanSqlCache( SqlBagOStuff $cache, string $what ): bool {
		return Closure::bind( function () use ( $what ) {
			if ( $this->useLB ) {
				return false;
			}
			foreach ( (array)$this->conns as $conn ) {
				if ( $conn->trxLevel() ) {
					error_log( "warm mode: $what: rolling back a transaction left open " .
						'by the request' );
					$conn->rollback( __METHOD__, Wikimedia\Rdbms\IDatabase::FLUSHING_INTERNAL );
				}
			}
			$this->duplicateKeyLookups = [];
			$this->dupeTrackScheduled = false;
			$this->preparedValues = [];
			$this->locks = [];
			$this->lastError = BagOStuff::ERR_NONE;
			$this->connFailureTimes = [];
			$this->connFailureErrors = [];
			return true;
		}, $cache, MediumSpecificBagOStuff::class )();
	}

	/** A kept cache, with this request's statistics factory. */
	// mirrors includes/libs/objectcache/BagOStuff.php:86-87 sha256:4ad5bf76571c87d2
	private static function resumeSqlCache( SqlBagOStuff $cache ): SqlBagOStuff {
		$stats = MediaWikiServices::getInstance()->getStatsdDataFactory();
		Closure::bind( function () use ( $stats ) {
			$this->stats = $stats;
		}, $cache, BagOStuff::class )();
		return $cache;
	}

	/** Before a request: the kept object caches of ObjectCache. */
	private static function resumeObjectCaches() {
		foreach ( self::$keptCaches as $id => $cache ) {
			if ( $id !== 'wan' && $id !== 'stash' ) {
				ObjectCache::$instances[$id] = ObjectCache::$instances[$id] ??
					self::resumeSqlCache( $cache );
			}
		}
	}

	/** Once, while neither service exists: hand them the kept stores. */
	private static function installCacheManipulators() {
		$services = MediaWikiServices::getInstance();
		$services->addServiceManipulator( 'ResourceLoader', [ MwsupWarmJson::class, 'swapModuleClasses' ] );
		$services->addServiceManipulator( 'MainWANObjectCache', static function ( $wan ) {
			$store = self::$keptCaches['wan'] ?? null;
			if ( $store !== null && $wan instanceof WANObjectCache ) {
				self::resumeSqlCache( $store );
				// mirrors includes/libs/objectcache/wancache/WANObjectCache.php:133-134 sha256:8d0d81be54d4d7b6
				Closure::bind( function () use ( $store ) {
					if ( get_class( $this->cache ) === get_class( $store ) ) {
						$this->cache = $store;
					}
				}, $wan, WANObjectCache::class )();
			}
			return null;
		} );
		$services->addServiceManipulator( 'MainObjectStash', static function ( $stash ) {
			$kept = self::$keptCaches['stash'] ?? null;
			return $kept !== null && get_class( $kept ) === get_class( $stash ) ?
				self::resumeSqlCache( $kept ) : null;
		} );
	}

	/** WebStart.php and Setup.php from the point the bootstrap stopped. */
	// mirrors includes/WebStart.php:41-41 sha256:319cef58d538bf54
	// mirrors includes/Setup.php:168-168 sha256:e1a908e6df67252a
	// mirrors includes/WebStart.php:76-78 sha256:c9e28d6b3c988779
	// mirrors includes/Setup.php:376-580 sha256:e166e5f278baad58
	// mirrors includes/WebStart.php:88-116 sha256:48cc9f63036f2aa1
	private static function webStart() {
		global $wgRequest, $wgInitialSessionId, $wgCommandLineMode,
			$wgPHPSessionHandling, $wgSessionName, $wgCookiePrefix,
			$wgUser, $wgLang, $wgOut, $wgTitle, $wgFullyInitialised,
			$wgExtensionFunctions;

		self::deriveFromRequest();
		self::resumeObjectCaches();
		self::resumeDatabase();
		header( 'X-Content-Type-Options: nosniff' );
		HeaderCallback::register();
		if ( ob_get_level() == 0 ) {
			ob_start( 'MediaWiki\\OutputHandler::handle' );
		}

		$wgRequest = RequestContext::getMain()->getRequest();
		// UrlUtils is made with its request's protocol (for URLs expanded
		// with PROTO_CURRENT); a kept one gets this request's.
		$urlUtils = self::keptInstance( 'UrlUtils' );
		if ( $urlUtils instanceof MediaWiki\Utils\UrlUtils ) {
			self::setProperties( $urlUtils, MediaWiki\Utils\UrlUtils::class,
				[ 'fallbackProtocol' => $wgRequest->getProtocol() ] );
		}
		if ( $wgRequest->getCookie( 'UseDC', '' ) === 'master' ) {
			MediaWikiServices::getInstance()->getMainWANObjectCache()
				->useInterimHoldOffCaching( false );
		}
		LoggerFactory::getInstance( 'wfDebug' )->debug(
			"\n\nStart request {$wgRequest->getMethod()} {$wgRequest->getRequestURL()}\n" .
			"IP: " . $wgRequest->getIP() . "\n"
		);
		Hooks::runner()->onSetupAfterCache();

		if ( MW_ENTRY_POINT === 'index' ) {
			$wgRequest->interpolateTitle();
		}

		$wgInitialSessionId = null;
		if ( !defined( 'MW_NO_SESSION' ) && !$wgCommandLineMode ) {
			if ( $wgPHPSessionHandling !== 'disable' && !wfIniGetBool( 'session.auto_start' ) ) {
				HeaderCallback::warnIfHeadersSent();
				session_name( $wgSessionName ?: $wgCookiePrefix . '_session' );
			}
			if ( !defined( 'MW_NO_SESSION_HANDLER' ) ) {
				PHPSessionHandler::install( SessionManager::singleton() );
			}
			$contLang = MediaWikiServices::getInstance()->getContentLanguage();
			try {
				$session = SessionManager::getGlobalSession();
			} catch ( MediaWiki\Session\SessionOverflowException $ex ) {
				$list = [];
				foreach ( $ex->getSessionInfos() as $info ) {
					$list[] = $info->getProvider()->describe( $contLang );
				}
				$list = $contLang->listToText( $list );
				throw new HttpError( 400,
					Message::newFromKey( 'sessionmanager-tie', $list )->inLanguage( $contLang )
				);
			}
			if ( $session->isPersistent() ) {
				$wgInitialSessionId = $session->getSessionId();
			}
			$session->renew();
			if ( PHPSessionHandler::isEnabled() &&
				( $session->isPersistent() || $session->shouldRememberUser() ) &&
				session_id() !== $session->getId()
			) {
				if ( session_id() !== '' ) {
					session_write_close();
				}
				session_id( $session->getId() );
				session_start();
			}
			unset( $session );
		} elseif ( !defined( 'MW_NO_SESSION_HANDLER' ) ) {
			PHPSessionHandler::install( SessionManager::singleton() );
		}

		$wgUser = new StubGlobalUser( RequestContext::getMain()->getUser() );
		register_shutdown_function( static function () {
			StubGlobalUser::$destructorDeprecationDisarmed = true;
		} );
		$wgLang = new StubUserLang;
		$wgOut = RequestContext::getMain()->getOutput();
		$wgTitle = null;

		foreach ( $wgExtensionFunctions as $func ) {
			call_user_func( $func );
		}

		if ( !defined( 'MW_NO_SESSION' ) && !$wgCommandLineMode ) {
			$sessionUser = SessionManager::getGlobalSession()->getUser();
			if ( $sessionUser->getId() === 0 &&
				MediaWikiServices::getInstance()->getUserNameUtils()->isValid( $sessionUser->getName() )
			) {
				MediaWikiServices::getInstance()->getAuthManager()->autoCreateUser(
					$sessionUser,
					MediaWiki\Auth\AuthManager::AUTOCREATE_SOURCE_SESSION,
					true
				);
			}
		}
		if ( !$wgCommandLineMode ) {
			Pingback::schedulePingback();
		}
		$wgFullyInitialised = true;
		if ( !defined( 'MW_NO_SESSION' ) && !$wgCommandLineMode ) {
			SessionManager::singleton()->logPotentialSessionLeakage();
		}

		// The rest of WebStart.php.
		if ( ( $_SERVER['REQUEST_METHOD'] ?? '' ) === 'POST' ) {
			ignore_user_abort( true );
		}
		if ( !defined( 'MW_API' ) && !defined( 'MW_REST_API' ) &&
			RequestContext::getMain()->getRequest()->getHeader( 'Promise-Non-Write-API-Action' )
		) {
			header( 'Cache-Control: no-cache' );
			header( 'Content-Type: text/html; charset=utf-8' );
			HttpStatus::header( 400 );
			$errorHtml = wfMessage( 'nonwrite-api-promise-error' )
				->useDatabase( false )
				->inContentLanguage()
				->escaped();
			$content = "<!DOCTYPE html>\n<html>\n<head><meta charset=\"UTF-8\" /></head>\n" .
				"<body>\n$errorHtml\n</body>\n</html>\n";
			header( 'Content-Length: ' . strlen( $content ) );
			echo $content;
			exit();
		}
	}

	/** The body of api.php. */
	// mirrors api.php:47-126 sha256:44d72a63645f59d2
	private static function apiMain() {
		global $wgRequest, $wgTitle, $wgAPIRequestLog;

		$starttime = microtime( true );
		if ( isset( $_SERVER['PATH_INFO'] ) && $_SERVER['PATH_INFO'] != '' ) {
			$correctUrl = wfAppendQuery( wfScript( 'api' ), $wgRequest->getQueryValuesOnly() );
			$correctUrl = wfExpandUrl( $correctUrl, PROTO_CANONICAL );
			header( "Location: $correctUrl", true, 301 );
			echo 'This endpoint does not support "path info", i.e. extra text between "api.php"'
				. 'and the "?". Remove any such text and try again.';
			exit( 1 );
		}
		$wgTitle = Title::makeTitle( NS_SPECIAL, 'Badtitle/dummy title for API calls set in api.php' );
		RequestContext::getMain()->setTitle( $wgTitle );
		try {
			$processor = new ApiMain( RequestContext::getMain(), true );
			Hooks::runner()->onApiBeforeMain( $processor );
			if ( !$processor instanceof ApiMain ) {
				throw new MWException( 'ApiBeforeMain hook set $processor to a non-ApiMain class' );
			}
		} catch ( Throwable $e ) {
			ApiMain::handleApiBeforeMainException( $e );
			$processor = false;
		}
		if ( $processor ) {
			$processor->execute();
		}
		$endtime = microtime( true );
		if ( $wgAPIRequestLog ) {
			$items = [
				wfTimestamp( TS_MW ),
				$endtime - $starttime,
				$wgRequest->getIP(),
				$wgRequest->getHeader( 'User-agent' ),
				$wgRequest->wasPosted() ? 'POST' : 'GET',
			];
			if ( $processor ) {
				try {
					$manager = $processor->getModuleManager();
					$module = $manager->getModule( $wgRequest->getRawVal( 'action' ), 'action' );
				} catch ( Throwable $ex ) {
					$module = null;
				}
				if ( !$module || $module->mustBePosted() ) {
					$items[] = "action=" . $wgRequest->getRawVal( 'action' );
				} else {
					$items[] = wfArrayToCgi( $wgRequest->getValues() );
				}
			} else {
				$items[] = "failed in ApiBeforeMain";
			}
			LegacyLogger::emit( implode( ',', $items ) . "\n", $wgAPIRequestLog );
		}
		( new MediaWiki() )->doPostOutputShutdown();
	}

	/** The body of load.php. */
	// mirrors load.php:41-62 sha256:5c22460429957974
	private static function loadMain() {
		global $wgRequest;

		$services = MediaWikiServices::getInstance();
		$services->getDBLoadBalancerFactory()->disableChronologyProtection();
		$resourceLoader = $services->getResourceLoader();
		$context = new ResourceLoaderContext( $resourceLoader, $wgRequest );
		$resourceLoader->respond( $context );
		$profiler = Profiler::instance();
		$profiler->setAllowOutput();
		$profiler->logDataPageOutputOnly();
		( new MediaWiki() )->doPostOutputShutdown();
	}
}

/**
 * Mustache templates, compiled once per worker.  MediaWiki's TemplateParser
 * eval()s a template's compiled code once per TemplateParser, i.e. on every
 * page view; code compiled at run time leaves the names of its closures in
 * PHP's table of interned strings until the PHP request ends, which in a
 * warm worker is never (~17 KB a Vector page view, t0530).  So MediaWiki's
 * class is loaded under the name MwsupWarmCoreTemplateParser and
 * TemplateParser becomes a subclass that keeps each renderer (a pure
 * function of its arguments) for the worker's life, made again when the
 * template file changes (a partial changed alone is seen after a reload,
 * as PHP code is).  If MediaWiki's file does not have the expected shape,
 * nothing is replaced and a warning is logged.
 */
final class MwsupWarmTemplates {
	/** @var array[] key => [ mtime, renderer ] */
	private static $renderers = [];

	public static function load(): void {
		$file = MWSUP_MW_ROOT . '/includes/TemplateParser.php';
		$src = @file_get_contents( $file );
		$n = 0;
		if ( $src !== false && strncmp( $src, '<?php', 5 ) === 0 &&
			!preg_match( '/__(FILE|LINE|CLASS|METHOD|FUNCTION)__|::class/', $src )
		) {
			$src = preg_replace( '/^class TemplateParser \{/m',
				'class MwsupWarmCoreTemplateParser {', substr( $src, 5 ), -1, $n );
			// Its directory, as the file would see it.
			$src = str_replace( '__DIR__', var_export( dirname( $file ), true ), $src );
		}
		if ( $n !== 1 || class_exists( 'TemplateParser', false ) ) {
			error_log( "warm mode: $file: not the expected TemplateParser class; " .
				'skin templates are compiled on each page view' );
			return;
		}
		eval( $src );
		eval( 'class TemplateParser extends MwsupWarmCoreTemplateParser {
			protected function getTemplate( $templateName ) {
				return MwsupWarmTemplates::get( $templateName, $this->templateDir,
					$this->compileFlags, function () use ( $templateName ) {
						return parent::getTemplate( $templateName );
					} );
			}
		}' );
	}

	/** The kept renderer of a template, or $make's. */
	// mirrors includes/TemplateParser.php:40-51 sha256:7b198fbe7f41e279
	// mirrors includes/TemplateParser.php:105-177 sha256:2ceed1cecd9d1ab3
	public static function get( string $name, string $dir, int $flags, Closure $make ) {
		$key = "$dir/$name|$flags";
		$mtime = @filemtime( "$dir/$name.mustache" );
		$kept = self::$renderers[$key] ?? null;
		if ( $kept !== null && $kept[0] === $mtime ) {
			return $kept[1];
		}
		$renderer = $make();
		self::$renderers[$key] = [ $mtime, $renderer ];
		return $renderer;
	}
}

/**
 * OOUI's image modules read and decode their theme's JSON files (icon
 * lists, some hundreds of KB) on every request that asks for their
 * version: ~10% of a load.php startup request.  The worker keeps what
 * OOUIImageModule::readJSONFile() made of a file as long as the file's
 * inode, size and mtime stay the same (PHP's stat cache is emptied before
 * each request).  Only for a plain path: a result holding FilePath objects
 * (a theme of an extension with its own base path) would share them, so
 * it is made anew.  The ResourceLoader of each request gets the two module
 * classes swapped for subclasses that ask here first; their version hashes
 * name MediaWiki's class, as under PHP-FPM (Module::getDefinitionSummary()
 * puts the class name in every module's version).
 */
final class MwsupWarmJson {
	/** module class => the subclass that caches */
	private const CLASSES = [
		'mediawiki\\resourceloader\\oouiimagemodule' => MwsupWarmOOUIImageModule::class,
		'mediawiki\\resourceloader\\oouiiconpackmodule' => MwsupWarmOOUIIconPackModule::class,
		'resourceloaderoouiimagemodule' => MwsupWarmOOUIImageModule::class,
		'resourceloaderoouiiconpackmodule' => MwsupWarmOOUIIconPackModule::class,
	];

	/** @var array[] key => [ file identity, result ] */
	private static $kept = [];

	/** After the bootstrap (the module classes are autoloaded). */
	public static function declare(): void {
		eval( 'class MwsupWarmOOUIImageModule extends MediaWiki\\ResourceLoader\\OOUIImageModule {
			use MwsupWarmJsonModule;
		}
		class MwsupWarmOOUIIconPackModule extends MediaWiki\\ResourceLoader\\OOUIIconPackModule {
			use MwsupWarmJsonModule;
		}' );
	}

	/** ResourceLoader manipulator: registered modules of the two classes use the subclasses. */
	// mirrors includes/ResourceLoader/ResourceLoader.php:139-140 sha256:216d8d142ca3c39b
	public static function swapModuleClasses( $rl ) {
		if ( !$rl instanceof MediaWiki\ResourceLoader\ResourceLoader ) {
			return null;
		}
		$classes = self::CLASSES;
		Closure::bind( function () use ( $classes ) {
			foreach ( $this->moduleInfos as &$info ) {
				$class = $info['class'] ?? null;
				$key = is_string( $class ) ? strtolower( ltrim( $class, '\\' ) ) : null;
				if ( isset( $classes[$key] ) ) {
					$info['class'] = $classes[$key];
				}
			}
		}, $rl, MediaWiki\ResourceLoader\ResourceLoader::class )();
		return null;
	}

	/** What $make returns for $file, kept while the file stays the same. */
	public static function read( string $key, string $file, Closure $make ) {
		$st = @stat( $file );
		if ( $st === false ) {
			unset( self::$kept[$key] );
			return $make();
		}
		$id = [ $st['dev'], $st['ino'], $st['size'], $st['mtime'], $st['ctime'] ];
		$kept = self::$kept[$key] ?? null;
		if ( $kept !== null && $kept[0] === $id ) {
			return $kept[1];
		}
		$result = $make();
		if ( is_array( $result ) && !self::hasObject( $result ) ) {
			self::$kept[$key] = [ $id, $result ];
		}
		return $result;
	}

	private static function hasObject( array $a ): bool {
		foreach ( $a as $v ) {
			if ( is_object( $v ) || ( is_array( $v ) && self::hasObject( $v ) ) ) {
				return true;
			}
		}
		return false;
	}
}

trait MwsupWarmJsonModule {
	/** The summary (hence the version) names MediaWiki's class, not this one. */
	public function getDefinitionSummary( MediaWiki\ResourceLoader\Context $context ) {
		$summary = parent::getDefinitionSummary( $context );
		if ( is_array( $summary ) && ( $summary['_class'] ?? null ) === static::class ) {
			$summary['_class'] = get_parent_class( $this );
		}
		return $summary;
	}

	// mirrors includes/ResourceLoader/OOUIImageModule.php:126-158 sha256:7d7a1909bc5c647a
	protected function readJSONFile( $dataPath ) {
		if ( !is_string( $dataPath ) ) {
			return parent::readJSONFile( $dataPath );
		}
		$file = $this->getLocalPath( $dataPath );
		return MwsupWarmJson::read( "$dataPath\0$file", $file, function () use ( $dataPath ) {
			return parent::readJSONFile( $dataPath );
		} );
	}
}

/**
 * The entry scripts whose body is a function: opensearch_desc.php,
 * img_auth.php, thumb.php, and thumb_handler.php, which includes thumb.php.
 * Each defines its constants, requires WebStart.php and calls its main
 * function, declared in the same file.  The file cannot run again in a
 * bootstrapped worker (WebStart.php would), so its top-level "use" imports
 * and function declarations are taken out of its tokens and declared once
 * per worker; each request then gets the constants (from the worker) and
 * the call.  That is only right if the rest of the file is what MediaWiki
 * 1.39 ships, word for word: a script whose other top-level code differs
 * (another version, a site's own file) is logged and runs cold.
 */
final class MwsupWarmScripts {
	/**
	 * script (without .php) => [ its main function or null, its top-level
	 * code without declarations, whitespace and comments ].  The
	 * constants each defines are set by the worker (worker/warm.c).
	 */
	private const SCRIPTS = [
		'opensearch_desc' => [ 'wfOpenSearchDescMain', "define('MW_NO_SESSION',1);" .
			"define('MW_ENTRY_POINT','opensearch_desc');" .
			"require_once__DIR__.'/includes/WebStart.php';wfOpenSearchDescMain();" ],
		'img_auth' => [ 'wfImageAuthMain', "define('MW_NO_OUTPUT_COMPRESSION',1);" .
			"define('MW_ENTRY_POINT','img_auth');require__DIR__.'/includes/WebStart.php';" .
			'wfImageAuthMain();$mediawiki=newMediaWiki();$mediawiki->doPostOutputShutdown();' ],
		'thumb' => [ 'wfThumbMain', "define('MW_NO_OUTPUT_COMPRESSION',1);" .
			"if(!defined('MW_ENTRY_POINT')){define('MW_ENTRY_POINT','thumb');}" .
			"require__DIR__.'/includes/WebStart.php';wfThumbMain();" ],
		'thumb_handler' => [ null, "define('THUMB_HANDLER',true);" .
			"define('MW_ENTRY_POINT','thumb_handler');require__DIR__.'/thumb.php';" ],
	];

	/** @var bool[] the scripts served warm (keys), read by the worker */
	public static $ready = [];

	public static function load(): void {
		foreach ( self::SCRIPTS as $script => [ $main, $expect ] ) {
			$file = MWSUP_MW_ROOT . "/$script.php";
			$src = is_readable( $file ) ? file_get_contents( $file ) : false;
			if ( $src === false ) {
				continue;
			}
			[ $decls, $rest ] = self::split( $src );
			$why = null;
			if ( $rest !== $expect ) {
				$why = 'its top-level code is not the one of MediaWiki 1.39';
			} elseif ( $main === null ) {
				if ( !isset( self::$ready['thumb'] ) ) {
					$why = 'it includes thumb.php, which runs cold';
				}
			} elseif ( !function_exists( $main ) ) {
				try {
					eval( $decls );
				} catch ( Throwable $e ) {
					$why = $e->getMessage();
				}
				if ( $why === null && !function_exists( $main ) ) {
					$why = "it does not declare $main()";
				}
			}
			if ( $why === null ) {
				self::$ready[$script] = true;
			} else {
				error_log( "warm mode: $file runs cold: $why" );
			}
		}
	}

	/**
	 * $src's top-level "use" statements and function declarations, and the
	 * rest of its code without whitespace and comments; [ null, null ] if
	 * its braces do not balance.
	 */
	private static function split( string $src ): array {
		$decls = $rest = '';
		$depth = 0;
		$take = null;	// 'use' or 'function' while inside one
		$toks = PhpToken::tokenize( $src );
		foreach ( $toks as $i => $t ) {
			if ( $depth === 0 && $take === null ) {
				if ( $t->is( T_USE ) ) {
					$take = 'use';
				} elseif ( $t->is( T_FUNCTION ) ) {
					$space = $toks[$i + 1] ?? null;
					$name = $toks[$i + 2] ?? null;
					if ( $space && $space->is( T_WHITESPACE ) && $name && $name->is( T_STRING ) ) {
						$take = 'function';
					}
				}
			}
			if ( $take !== null ) {
				$decls .= $t->text;
			} elseif ( !$t->isIgnorable() ) {
				$rest .= $t->text;
			}
			if ( $t->text === '{' || $t->is( [ T_CURLY_OPEN, T_DOLLAR_OPEN_CURLY_BRACES ] ) ) {
				$depth++;
			} elseif ( $t->text === '}' ) {
				if ( --$depth < 0 ) {
					return [ null, null ];
				}
				if ( $depth === 0 && $take === 'function' ) {
					$decls .= "\n";
					$take = null;
				}
			} elseif ( $t->text === ';' && $depth === 0 && $take === 'use' ) {
				$decls .= "\n";
				$take = null;
			}
		}
		return $depth === 0 && $take === null ? [ $decls, $rest ] : [ null, null ];
	}
}

// ---- the bootstrap (this file's main code runs once per worker) ----

// The supervisor's job slices, served as one more entry point.
require_once __DIR__ . '/jobs.php';
MwsupWarmTemplates::load();
MwsupWarmScripts::load();

define( 'MW_SETUP_CALLBACK', [ MwsupWarm::class, 'setupCallback' ] );
try {
	require MWSUP_MW_ROOT . '/includes/WebStart.php';
	trigger_error( 'mwsup: Setup.php finished without running SetupAfterCache', E_USER_WARNING );
} catch ( MwsupWarmBootstrapDone $e ) {
	unset( $e );
	MwsupWarm::afterBoot();
	MwsupWarmJson::declare();
	define( 'MWSUP_WARM_BOOTED', true );
}
