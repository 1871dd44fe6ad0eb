<?php
/**
 * warm-services.php - which of MediaWiki's services a warm worker keeps,
 * sets back or drops after each request (MwsupWarmServices).
 *
 * The bootstrap's container serves every request.  After each one
 * (reset()), the services named in mw.yaml's snapshot.exclude are kept as
 * they are, once checked for anything of a request in their object
 * graph; those of snapshot.reset are set back to the state recorded when
 * they were made (made(), putBackMade(), worker/putback.c); every other
 * one is dropped from the container's private table, to be made anew by
 * the next request that asks for it.  A kept or reset service found
 * holding what it must not is made per request from then on (logged).
 * Loaded by warm.php; the worker's lists come through MwsupWarm.
 */

use MediaWiki\MediaWikiServices;

final class MwsupWarmServices {
	/** @var bool[] kept service names (keys) */
	private static $keep = [];

	/**
	 * The first request, before anything of it: the services of
	 * snapshot.exclude ($keepServices) are kept, every other one the
	 * bootstrap made is dropped.
	 */
	public static function start( array $keepServices ): void {
		self::$keep = array_fill_keys( $keepServices, true );
		self::reset();
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
	 * see warm-storage.php; a memcached cache only when it is one of those
	 * kept, MwsupWarmStorage::keepsCache()), loggers, closures (what
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
	public static function setProperties( object $instance, string $scope, array $values ): void {
		Closure::bind( static function () use ( $instance, $values ) {
			foreach ( $values as $prop => $value ) {
				$instance->$prop = $value;
			}
		}, null, $scope )();
	}

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
			if ( $value instanceof Closure ||
				( $value instanceof MemcachedPeclBagOStuff && MwsupWarmStorage::keepsCache( $value, $service ) )
			) {
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
	public static function keptInstance( string $name ): ?object {
		return isset( self::$keep[$name] ) ?
			MediaWikiServices::getInstance()->peekService( $name ) : null;
	}

	/**
	 * After a request: every instantiated service that is not kept is
	 * dropped from the container (destroyed if it says how, emptied if
	 * EMPTY_WHEN_DROPPED says so), so that the next request that asks for
	 * it gets a new one.  The reset services are set back and kept if
	 * $resetKept, else dropped too; $alsoKeep (name => true) stay as well.
	 */
	public static function reset( bool $resetKept = false, array $alsoKeep = [] ) {
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
		$keep = self::$keep + self::putBackMade( $resetKept ) + $alsoKeep;
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
	public static function log( bool $debug ): void {
		$all = MediaWikiServices::getInstance()->getServiceNames();
		$made = array_diff( $all, array_keys( self::$keep ), array_keys( self::$resetNames ) );
		error_log( sprintf( 'warm mode: services: %d kept, %d reset, %d made per request%s',
			count( self::$keep ), count( self::$resetNames ), count( $made ),
			$debug ? '' : ' (mwsup -v lists them)' ) );
		if ( !$debug ) {
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
	 * Once, while none exists: the services of snapshot.reset
	 * ($resetServices; "core" for all of core's) are recorded as made.
	 */
	public static function installResetManipulators( array $resetServices ) {
		$services = MediaWikiServices::getInstance();
		self::$resetNames = [];
		foreach ( $resetServices as $name ) {
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

	/**
	 * The database or an SQL object cache is never kept ($why): then the
	 * reset services would go after every request, made and recorded for
	 * nothing, so they are made per request like the others (logged once).
	 */
	public static function neverReset( string $why ): void {
		if ( self::$resetNames ) {
			error_log( 'warm mode: the services of snapshot.reset are made for each request: ' .
				$why );
			self::$resetNames = [];
		}
	}

	/**
	 * Before a request: the services $names go from the container, with
	 * every reset service (any may hold them), to be made anew.
	 */
	public static function dropWithReset( array $names ): void {
		$names = array_merge( $names, array_keys( self::$made ) );
		self::forgetMade();
		self::inContainer( function () use ( $names ) {
			foreach ( $names as $name ) {
				unset( $this->services[$name] );
			}
		} );
	}
}
