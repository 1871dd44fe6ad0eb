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
 * img_auth, thumb, thumb_handler, or mwsup-jobs for a job slice): it
 * redoes what
 * WebStart.php and the tail of Setup.php do per request, then runs the
 * body of the entry script.  The entry scripts themselves cannot run:
 * they require WebStart.php, which redefines functions.
 *
 * This file holds what the worker calls (class MwsupWarm: the bootstrap,
 * fingerprints(), request(), end()) and the per-request part of
 * WebStart.php and Setup.php (webStart()); the rest, one concern a file
 * beside it, is loaded by its main code at the end:
 *   warm-services.php  the services kept, set back or dropped after each
 *                      request (MwsupWarmServices)
 *   warm-storage.php   the database connections and SQL object caches
 *                      kept from one request to the next (MwsupWarmStorage)
 *   warm-entry.php     the bodies of the entry scripts (MwsupWarmEntry,
 *                      MwsupWarmScripts)
 *   warm-caches.php    compiled skin templates, OOUI's JSON files and the
 *                      hashes of files' contents, kept while their files
 *                      stay (MwsupWarmTemplates, MwsupWarmJson,
 *                      MwsupWarmFileHashes)
 *   jobs.php           the supervisor's job slices (MwsupJobs)
 * The worker's checkpoint leaves the statics of every class whose name
 * starts with MwsupWarm alone: they hold what is kept on purpose.
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
 *  - Services (warm-services.php): the bootstrap's MediaWikiServices
 *    container serves every request.  The services named "service:Name" in mw.yaml's
 *    snapshot.exclude, made from the site's configuration only, are kept
 *    as they are.  Those of snapshot.reset (by default all of core's but
 *    the few made from the request) are made once and, after every
 *    request, set back to the state they were made in: the properties of
 *    the service and of each object it owns are recorded when it is made
 *    and put back (mwsup_put_back(), worker/putback.c), so per-user and
 *    per-request state (PermissionManager's rights cache, UserOptionsManager,
 *    LinkCache, the message cache...) does not outlive its request.  They
 *    go with the load balancer they may hold (warm-storage.php: after a
 *    write; on a database that is not kept).  Every other service is dropped from the container
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
use MediaWiki\Logger\LoggerFactory;
use MediaWiki\MainConfigNames;
use MediaWiki\MediaWikiServices;
use MediaWiki\Session\PHPSessionHandler;
use MediaWiki\Session\SessionManager;

final class MwsupWarmBootstrapDone extends Exception {
}

final class MwsupWarm {
	/** @var bool Setup.php ran up to its per-request part */
	private static $booted = false;
	/** @var string[] services kept across requests (set by the worker) */
	public static $keepServices = [];
	/** @var string[] snapshot.reset (set by the worker) */
	public static $resetServices = [];
	/** @var bool mwsup -v: log the lists of services (set by the worker) */
	public static $debug = false;
	/** @var bool the first request dropped the bootstrap's services */
	private static $ready = false;

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
	 * request derives again, before anything of the request reads it:
	 * $wgCookieSecure when the site's settings leave it 'detect'.  (The
	 * request id, a static, is emptied by afterBoot() and so by every
	 * restore.)
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

	/** Whether $v is an object or an array holding one, at any depth. */
	public static function hasObject( $v ): bool {
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

	/** @var string the entry point of the request being served */
	private static $entry = '';

	/** @var bool a database error reached the top of the request */
	private static $dbFailed = false;

	/**
	 * One HTTP request.  Returns false when the worker should not serve
	 * another one with this state (an exception reached the top).
	 */
	public static function request( string $entry ): bool {
		$clean = true;
		self::$entry = $entry;
		self::$dbFailed = false;
		if ( !self::$ready ) {
			MwsupWarmServices::start( self::$keepServices );
			MwsupWarmStorage::installManipulators();
			MwsupWarmJson::installManipulator();
			MwsupWarmServices::installResetManipulators( self::$resetServices );
			self::$ready = true;
			MwsupWarmServices::log( self::$debug );
		}
		try {
			self::webStart( $entry );
			MwsupWarmEntry::run( $entry );
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
		$resetKept = MwsupWarmStorage::keep( self::$entry, self::$dbFailed );
		$never = MwsupWarmStorage::neverKept();
		if ( $never !== null ) {
			MwsupWarmServices::neverReset( $never );
		}
		MwsupWarmServices::reset( $resetKept, MwsupWarmStorage::keptServices() );
	}

	/** WebStart.php and Setup.php from the point the bootstrap stopped. */
	// mirrors includes/WebStart.php:41-41 sha256:319cef58d538bf54
	// mirrors includes/Setup.php:168-168 sha256:e1a908e6df67252a
	// mirrors includes/WebStart.php:76-78 sha256:c9e28d6b3c988779
	// mirrors includes/Setup.php:376-580 sha256:e166e5f278baad58
	// mirrors includes/WebStart.php:88-116 sha256:48cc9f63036f2aa1
	private static function webStart( string $entry ) {
		global $wgRequest, $wgInitialSessionId, $wgCommandLineMode,
			$wgPHPSessionHandling, $wgSessionName, $wgCookiePrefix,
			$wgUser, $wgLang, $wgOut, $wgTitle, $wgFullyInitialised,
			$wgExtensionFunctions;

		self::deriveFromRequest();
		MwsupWarmStorage::resume( $entry );
		MwsupWarmFileHashes::install();
		header( 'X-Content-Type-Options: nosniff' );
		HeaderCallback::register();
		if ( ob_get_level() == 0 ) {
			ob_start( 'MediaWiki\\OutputHandler::handle' );
		}

		$wgRequest = RequestContext::getMain()->getRequest();
		// UrlUtils is made with its request's protocol (for URLs expanded
		// with PROTO_CURRENT); a kept one gets this request's.
		$urlUtils = MwsupWarmServices::keptInstance( 'UrlUtils' );
		if ( $urlUtils instanceof MediaWiki\Utils\UrlUtils ) {
			MwsupWarmServices::setProperties( $urlUtils, MediaWiki\Utils\UrlUtils::class,
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
}

// ---- the bootstrap (this file's main code runs once per worker) ----

require_once __DIR__ . '/warm-services.php';
require_once __DIR__ . '/warm-storage.php';
require_once __DIR__ . '/warm-entry.php';
require_once __DIR__ . '/warm-caches.php';
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
