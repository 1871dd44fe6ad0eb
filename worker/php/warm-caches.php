<?php
/**
 * warm-caches.php - what MediaWiki makes again on every request from
 * files that seldom change, kept by a warm worker while the files stay the
 * same: the compiled Mustache templates of the skins (MwsupWarmTemplates)
 * and the JSON files of OOUI's image modules (MwsupWarmJson).  Loaded by
 * warm.php.
 */

use MediaWiki\MediaWikiServices;

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

	/** Once, while no ResourceLoader exists: each one made swaps the classes. */
	public static function installManipulator(): void {
		MediaWikiServices::getInstance()->addServiceManipulator( 'ResourceLoader',
			[ self::class, 'swapModuleClasses' ] );
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
		if ( is_array( $result ) && !MwsupWarm::hasObject( $result ) ) {
			self::$kept[$key] = [ $id, $result ];
		}
		return $result;
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
 * The hashes of files' contents that ResourceLoader puts in module
 * versions (FileContentsHasher), kept by the worker in a PHP array instead
 * of APCu.  FileContentsHasher keeps each hash in the local-server cache
 * (APCu) under the file's path and mtime, for a day; a worker's APCu is its
 * own (workers are exec'd), so the array holds what that APCu held, with
 * the same key and lifetime (a file whose mtime changes gets its contents
 * hashed again, as with APCu), without making a cache key from four
 * components and fetching from APCu for each of the ~1,000 files a
 * load.php startup request asks about: that was ~20% of its time.  The
 * filemtime() of each file stays, so a file changed between two requests
 * is seen by the next (t0560).  Each request's FileContentsHasher (a
 * singleton in a class static, which the restore empties) is the kept one,
 * whose store is this class.
 */
final class MwsupWarmFileHashes {
	/** What FileContentsHasher asks of its store's class. */
	public const TTL_DAY = 86400;

	/** @var array[] path => [ mtime, algorithm, hash, expiry ] */
	private static $hashes = [];

	/** @var FileContentsHasher|null the one handed to each request */
	private static $hasher = null;

	/** Before a request: FileContentsHasher::singleton() is the kept one. */
	// mirrors includes/utils/FileContentsHasher.php:25-33 sha256:b6acd43cd2e1b7bb
	public static function install(): void {
		if ( self::$hasher === null ) {
			self::$hasher = ( new ReflectionClass( FileContentsHasher::class ) )
				->newInstanceWithoutConstructor();
			MwsupWarmServices::setProperties( self::$hasher, FileContentsHasher::class,
				[ 'cache' => new self() ] );
		}
		$hasher = self::$hasher;
		Closure::bind( static function () use ( $hasher ) {
			self::$instance = $hasher;
		}, null, FileContentsHasher::class )();
	}

	/**
	 * The key FileContentsHasher makes of (class, path, mtime, algorithm):
	 * the same components, unencoded (a path holds no NUL).
	 */
	// mirrors includes/utils/FileContentsHasher.php:55-75 sha256:cb809e555c488950
	public function makeGlobalKey( ...$components ): string {
		return implode( "\0", $components );
	}

	/**
	 * BagOStuff::getWithSetCallback() over the array: a kept hash while
	 * its day lasts, else $callback's (false, an unreadable file, is not
	 * kept).
	 */
	// mirrors includes/libs/objectcache/BagOStuff.php:212-223 sha256:5696c72ed29b5e60
	public function getWithSetCallback( $key, $exptime, $callback, $flags = 0 ) {
		$parts = explode( "\0", $key );
		if ( count( $parts ) !== 4 ) {
			return $callback( $exptime );
		}
		[ , $path, $mtime, $algo ] = $parts;
		$now = time();
		$kept = self::$hashes[$path] ?? null;
		if ( $kept !== null && $kept[0] === $mtime && $kept[1] === $algo && $kept[3] > $now ) {
			return $kept[2];
		}
		$value = $callback( $exptime );
		if ( $value !== false && $exptime >= 0 ) {
			self::$hashes[$path] = [ $mtime, $algo, $value,
				$exptime > 0 ? $now + $exptime : PHP_INT_MAX ];
		} else {
			unset( self::$hashes[$path] );
		}
		return $value;
	}
}
