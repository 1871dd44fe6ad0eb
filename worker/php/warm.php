<?php
/**
 * warm.php - mwworker's PHP side of a warm worker (MediaWiki 1.39).
 *
 * Run once as the main script of the worker's one long PHP request: it
 * runs includes/WebStart.php -> Setup.php and stops Setup.php where its
 * per-request part starts (the SetupAfterCache hook, just after the
 * WebRequest is made), so the worker can take its checkpoint there.
 * Then, for every HTTP request, the worker calls MwsupWarm::request()
 * with the entry point (index, api, load, rest): it redoes what
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
 *  - Services: each request gets a new MediaWikiServices container with the
 *    bootstrap container's wiring, installed through MediaWikiServices'
 *    private static $instance (reached with a closure bound to the class).
 *    Every service holding per-user state (PermissionManager's rights
 *    cache, UserGroupManager, UserOptionsManager, language converters, User
 *    objects) is therefore new for each request.  Services named
 *    "service:Name" in mw.yaml's snapshot.exclude are instead created once
 *    and handed to every later container; only services without per-user
 *    state may be listed, and each default has a test.
 *  - PHP's session: written and closed after each request as PHP's request
 *    shutdown would; the save handler is installed again by each request.
 *
 * Entry-point constants (MW_ENTRY_POINT, MW_API, MW_REST_API,
 * MW_NO_SESSION) are set by the worker before each call; the worker
 * compiles PHP without the defined() opcode, whose per-opline cache would
 * otherwise remember a constant defined for an earlier request.
 */

use MediaWiki\HeaderCallback;
use MediaWiki\Logger\LegacyLogger;
use MediaWiki\Logger\LoggerFactory;
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
	/** @var MediaWikiServices|null the container the bootstrap built */
	private static $bootServices = null;
	/** @var string[] services kept across requests (set by the worker) */
	public static $keepServices = [];
	/** @var object[] kept service instances by name */
	private static $kept = [];

	/** SetupAfterCache handler, registered first: ends the bootstrap. */
	public static function onSetupAfterCache() {
		if ( !self::$booted ) {
			throw new MwsupWarmBootstrapDone();
		}
	}

	/** MW_SETUP_CALLBACK: WebStart's, minus its output buffer (per request). */
	public static function setupCallback( $settings ) {
		global $wgHooks;

		$wgHooks['SetupAfterCache'] = array_merge(
			[ [ self::class, 'onSetupAfterCache' ] ],
			$wgHooks['SetupAfterCache'] ?? []
		);
	}

	/** After the bootstrap stopped: forget the per-request objects it made. */
	public static function afterBoot() {
		global $wgRequest;

		self::$booted = true;
		self::$bootServices = MediaWikiServices::getInstance();
		$wgRequest = null;
		( static function () {
			self::$instance = null;
		} )->bindTo( null, RequestContext::class )();
		while ( ob_get_level() ) {
			ob_end_clean();
		}
	}

	/** A new service container for this request, with the kept services. */
	private static function freshServices() {
		$boot = self::$bootServices;
		$new = ( static function () use ( $boot ) {
			$new = self::newInstance( $boot->getBootstrapConfig() );
			$new->importWiring( $boot, [ 'BootstrapConfig' ] );
			self::$instance = $new;
			return $new;
		} )->bindTo( null, MediaWikiServices::class )();
		foreach ( self::$kept as $name => $service ) {
			$new->redefineService( $name, static function () use ( $service ) {
				return $service;
			} );
		}
	}

	/** After a request: remember kept services it created. */
	private static function keepServices() {
		$services = MediaWikiServices::getInstance();
		foreach ( self::$keepServices as $name ) {
			if ( isset( self::$kept[$name] ) || !$services->hasService( $name ) ) {
				continue;
			}
			$service = $services->peekService( $name );
			if ( $service !== null ) {
				self::$kept[$name] = $service;
			}
		}
	}

	/**
	 * One HTTP request.  Returns false when the worker should not serve
	 * another one with this state (an exception reached the top).
	 */
	public static function request( string $entry ): bool {
		$clean = true;
		self::freshServices();
		try {
			self::webStart();
			switch ( $entry ) {
				case 'index':
					( new MediaWiki() )->run();
					break;
				case 'api':
					self::apiMain();
					break;
				case 'load':
					self::loadMain();
					break;
				case 'rest':
					RestEntryPoint::main();
					break;
			}
		} catch ( Throwable $e ) {
			// What PHP would hand to the handler Setup.php installed.
			MWExceptionHandler::handleUncaughtException( $e );
			$clean = false;
		}
		self::keepServices();
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
	}

	/** WebStart.php and Setup.php from the point the bootstrap stopped. */
	private static function webStart() {
		global $wgRequest, $wgInitialSessionId, $wgCommandLineMode,
			$wgPHPSessionHandling, $wgSessionName, $wgCookiePrefix,
			$wgUser, $wgLang, $wgOut, $wgTitle, $wgFullyInitialised,
			$wgExtensionFunctions;

		header( 'X-Content-Type-Options: nosniff' );
		HeaderCallback::register();
		if ( ob_get_level() == 0 ) {
			ob_start( 'MediaWiki\\OutputHandler::handle' );
		}

		$wgRequest = RequestContext::getMain()->getRequest();
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

// ---- the bootstrap (this file's main code runs once per worker) ----

define( 'MW_SETUP_CALLBACK', [ MwsupWarm::class, 'setupCallback' ] );
try {
	require MWSUP_MW_ROOT . '/includes/WebStart.php';
	trigger_error( 'mwsup: Setup.php finished without running SetupAfterCache', E_USER_WARNING );
} catch ( MwsupWarmBootstrapDone $e ) {
	unset( $e );
	MwsupWarm::afterBoot();
	define( 'MWSUP_WARM_BOOTED', true );
}
