<?php
/**
 * warm-entry.php - the bodies of MediaWiki's entry scripts, run by a warm
 * worker after the per-request part of WebStart.php and Setup.php
 * (MwsupWarm::webStart()): index.php, api.php, load.php and rest.php
 * (MwsupWarmEntry), the scripts whose body is a function of their own
 * (MwsupWarmScripts), and the supervisor's job slices (jobs.php).  The
 * entry scripts themselves cannot run: they require WebStart.php, which
 * declares functions again.  Loaded by warm.php.
 */

use MediaWiki\Logger\LegacyLogger;
use MediaWiki\MediaWikiServices;
use MediaWiki\ResourceLoader\Context as ResourceLoaderContext;
use MediaWiki\Rest\EntryPoint as RestEntryPoint;

final class MwsupWarmEntry {
	/** The body of the entry script $entry (the worker's name for it). */
	public static function run( string $entry ): void {
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
