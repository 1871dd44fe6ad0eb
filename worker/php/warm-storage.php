<?php
/**
 * warm-storage.php - a warm worker's database connections and SQL object
 * caches, kept from one request to the next (MwsupWarmStorage).
 *
 * Opening a connection is a large part of a small request, so the load
 * balancer of a single-server wiki and the SQL object caches with
 * connections of their own are kept after a request that could not have
 * changed what a new one would be (keep()), set back as new ones, and
 * handed to the next request (resume()), or destroyed so that the next
 * request makes its own.  The reset services (warm-services.php) may hold
 * them: they are kept only while these are.  Loaded by warm.php.
 */

use MediaWiki\MediaWikiServices;

final class MwsupWarmStorage {
	/** @var string|null why the database or an SQL cache is never kept */
	private static $neverKept = null;

	/** @var Wikimedia\Rdbms\LBFactory|null kept for the next read request */
	private static $keptDb = null;

	/**
	 * After a request (entry point $entry; $dbFailed: a database error
	 * reached its top): what may be kept is kept for the next one.
	 * Returns whether the reset services may be set back and kept too,
	 * which they may only while what they may hold is kept.
	 */
	public static function keep( string $entry, bool $dbFailed ): bool {
		$cachesKept = self::keepObjectCaches();
		self::keepDatabase( $entry );
		if ( $dbFailed ) {
			// The load balancer may remember the server as down, and
			// the reset services hold it: all are made anew.
			self::$keptDb = null;
			$cachesKept = false;
		}
		$lbf = MediaWikiServices::getInstance()->peekService( 'DBLoadBalancerFactory' );
		return $cachesKept && ( $lbf === null || self::$keptDb !== null );
	}

	/** Before a request (entry point $entry): what was kept, or nothing. */
	public static function resume( string $entry ): void {
		self::resumeObjectCaches();
		self::resumeDatabase( $entry );
	}

	/** The services to leave in the container: the kept load balancer's. */
	public static function keptServices(): array {
		return self::$keptDb === null ? [] :
			[ 'DBLoadBalancerFactory' => true, 'DBLoadBalancer' => true ];
	}

	/** Why the database or an SQL cache is never kept, or null. */
	public static function neverKept(): ?string {
		return self::$neverKept;
	}

	/**
	 * Whether the request may keep the load balancer or take the kept
	 * one: a read (GET, HEAD), or a job slice on a wiki whose servers are
	 * all MySQL.  A slice is a POST (SQLite opens its transactions for
	 * writing then: its connection made for a read does not fit), but on
	 * MySQL nothing of the connection depends on the HTTP method, and no
	 * client of a slice can have written anything it would have to see.
	 */
	private static function mayKeepDatabase( Wikimedia\Rdbms\ILBFactory $lbf, string $entry ): bool {
		if ( in_array( $_SERVER['REQUEST_METHOD'] ?? '', [ 'GET', 'HEAD' ], true ) ) {
			return true;
		}
		if ( $entry !== 'mwsup-jobs' ) {
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
	private static function keepDatabase( string $entry ) {
		self::$keptDb = null;
		$lbf = MediaWikiServices::getInstance()->peekService( 'DBLoadBalancerFactory' );
		if ( !( $lbf instanceof Wikimedia\Rdbms\LBFactory ) || !self::mayKeepDatabase( $lbf, $entry ) ||
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
				if ( $conn instanceof Wikimedia\Rdbms\DatabaseMysqli && !self::untouched( $conn ) &&
					!self::resetMysql( $conn )
				) {
					return;
				}
			}
		}
		// A ChronologyProtector is made on first use from the request
		// information, which the next request gives again.
		// mirrors includes/libs/rdbms/lbfactory/LBFactory.php:43-43 sha256:4f81a5a861087dd1
		// mirrors includes/libs/rdbms/lbfactory/LBFactory.php:671-686 sha256:65a5b5a043d4bc56
		Closure::bind( function () {
			$this->chronProt = null;
		}, $lbf, Wikimedia\Rdbms\LBFactory::class )();
		self::$keptDb = $lbf;
	}

	/** A load balancer's open connections (forEachOpenConnection() is deprecated). */
	// mirrors includes/libs/rdbms/loadbalancer/LoadBalancer.php:2244-2252 sha256:9d860191c7089927
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
	// mirrors includes/libs/rdbms/database/DatabaseMysqlBase.php:161-170 sha256:d74720c7af504700
	// mirrors includes/libs/rdbms/database/DatabaseMysqli.php:145-178 sha256:a2add0ddb9942b2b
	// mirrors includes/libs/rdbms/database/Database.php:68-68 sha256:8bf29cf0e3be1f39
	// mirrors includes/libs/rdbms/database/Database.php:88-90 sha256:e237fb45a3f2fe2b
	// mirrors includes/libs/rdbms/database/Database.php:108-111 sha256:3919f8133c65fe3b
	// mirrors includes/libs/rdbms/database/Database.php:198-200 sha256:35573a3d1a1e01d7
	// mirrors includes/libs/rdbms/database/Database.php:209-209 sha256:2a83decd3fb46015
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

	/** Most idle links kept per server, account, database and options. */
	private const IDLE_LINKS = 4;

	/** @var mysqli[][] idle MySQL links by key (warm-dbpool.php) */
	private static $idleLinks = [];

	/**
	 * A MySQL connection MediaWiki closed (warm-dbpool.php), set back as
	 * a new one is: COM_CHANGE_USER to the account and database it was
	 * opened with rolls back a transaction, releases named and table
	 * locks, drops temporary tables and user variables and sets every
	 * session variable and the character set back, so that nothing of the
	 * request waits with the idle link (a lock another client wants).
	 * False when that fails (the server went away) or enough are idle:
	 * MediaWiki then closes it.
	 */
	public static function giveLink( mysqli $conn, string $key, string $user,
		string $password, string $db
	): bool {
		if ( count( self::$idleLinks[$key] ?? [] ) >= self::IDLE_LINKS ) {
			return false;
		}
		try {
			if ( !@$conn->change_user( $user, $password, $db ) ) {
				return false;
			}
		} catch ( Throwable $e ) {
			return false;
		}
		self::$idleLinks[$key][] = $conn;
		return true;
	}

	/**
	 * An idle link for $key that answers a ping (one round trip), or null;
	 * those that do not (the server restarted or closed them after its
	 * wait_timeout) are closed.
	 */
	public static function takeLink( string $key ): ?mysqli {
		mysqli_report( MYSQLI_REPORT_OFF );
		while ( self::$idleLinks[$key] ?? [] ) {
			$conn = array_pop( self::$idleLinks[$key] );
			try {
				if ( @$conn->ping() ) {
					return $conn;
				}
				@$conn->close();
			} catch ( Throwable $e ) {
			}
		}
		return null;
	}

	/**
	 * Whether the kept MySQL connections are still there: the server may
	 * have closed one since the last request (restarted, wait_timeout).
	 * One round trip each (mysqli::ping()), ~40 us on a local socket.
	 */
	// mirrors includes/libs/rdbms/database/Database.php:68-68 sha256:8bf29cf0e3be1f39
	private static function mysqlAlive( Wikimedia\Rdbms\ILBFactory $lbf ): bool {
		self::$sentAfterPing = [];
		foreach ( $lbf->getAllLBs() as $lb ) {
			foreach ( self::openConnections( $lb ) as $conn ) {
				if ( !( $conn instanceof Wikimedia\Rdbms\DatabaseMysqli ) ) {
					continue;
				}
				$mysqli = self::handleOf( $conn );
				$before = $mysqli === null ? 0 : self::packetsSent( $mysqli );
				if ( $mysqli === null || !@$mysqli->ping() ) {
					return false;
				}
				// Counted only if the ping was (mysqlnd.collect_statistics).
				$after = self::packetsSent( $mysqli );
				if ( $after > $before ) {
					self::$sentAfterPing[spl_object_id( $mysqli )] = $after;
				}
			}
		}
		return true;
	}

	/**
	 * @var int[] mysqli object id => packets it had sent when pinged
	 * before this request, for the kept connections (set back after the
	 * request before, so as new)
	 */
	private static $sentAfterPing = [];

	/**
	 * Whether a kept connection sent nothing since the ping before this
	 * request: then the request left nothing in its session (every query,
	 * MediaWiki's or one on the mysqli handle, is a packet mysqlnd counts)
	 * and it is still as the set-back after the request before left it;
	 * the change and the SET of resetMysql() (two round trips, ~5% of a
	 * siteinfo request that runs no query) are skipped.
	 */
	private static function untouched( Wikimedia\Rdbms\DatabaseMysqli $conn ): bool {
		// A request may turn the count off (ini_set), query, and turn it
		// on again: then it is not trusted (mysqlnd.collect_statistics is
		// a run-time setting, set back only after the request).
		if ( !function_exists( 'mwsup_ini_changed' ) ||
			mwsup_ini_changed( 'mysqlnd.collect_statistics' )
		) {
			return false;
		}
		$mysqli = self::handleOf( $conn );
		$sent = $mysqli === null ? null : self::$sentAfterPing[spl_object_id( $mysqli )] ?? null;
		return $sent !== null && self::packetsSent( $mysqli ) === $sent;
	}

	/** The packets mysqlnd counted as sent on $mysqli. */
	private static function packetsSent( mysqli $mysqli ): int {
		return (int)( $mysqli->get_connection_stats()['packets_sent'] ?? 0 );
	}

	/** A MySQL connection's mysqli handle, or null if it has none. */
	// mirrors includes/libs/rdbms/database/Database.php:68-68 sha256:8bf29cf0e3be1f39
	private static function handleOf( Wikimedia\Rdbms\DatabaseMysqli $conn ): ?mysqli {
		$h = Closure::bind( function () {
			return $this->conn;
		}, $conn, Wikimedia\Rdbms\Database::class )();
		return $h instanceof mysqli ? $h : null;
	}

	/** Before a request: the kept load balancer, if this is a read. */
	// mirrors includes/db/MWLBFactory.php:423-479 sha256:3d6714d38ec2e0eb
	private static function resumeDatabase( string $entry ) {
		$lbf = self::$keptDb;
		if ( $lbf === null ) {
			return;
		}
		self::$keptDb = null;
		$services = MediaWikiServices::getInstance();
		// A connection the server closed meanwhile is replaced with all
		// the rest: the request makes a new load balancer.
		if ( !self::mayKeepDatabase( $lbf, $entry ) || !self::mysqlAlive( $lbf ) ) {
			// The reset services may hold it: they go with it.
			MwsupWarmServices::dropWithReset( [ 'DBLoadBalancerFactory', 'DBLoadBalancer' ] );
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

	/** @var BagOStuff[] object caches kept across requests (SQL ones with
	 * connections of their own, memcached's): by ObjectCache id, "wan"
	 * (MainWANObjectCache's store), "stash" (MainObjectStash) */
	private static $keptCaches = [];

	/** @var string|false memcached.compression_threshold as the kept
	 * memcached caches' constructor set it, false when none is kept */
	private static $memcachedThreshold = false;

	/**
	 * Object caches whose making is a cost of its own are kept for the next
	 * request, set back as a new instance would be:
	 *  - SQL caches that open their own database connection (the
	 *    objectcache file of a SQLite wiki, or servers named in
	 *    $wgObjectCaches), with that connection open: opening one (PDO,
	 *    then MediaWiki's PRAGMA queries) was 10-15% of a small API
	 *    request (cleanSqlCache());
	 *  - memcached's (MemcachedPeclBagOStuff), with its client and the
	 *    client's socket: a new client (its options, its connect) was
	 *    ~65 us per instance (cleanMemcachedCache()).
	 * A request opens up to three: the caches of ObjectCache::getInstance()
	 * (sessions, the message cache), the store under MainWANObjectCache and
	 * MainObjectStash, each its own instance.  The next request gets the
	 * same instances, with its own statistics factory: the ObjectCache
	 * ones put back, the other two through service manipulators
	 * (installed once, they swap the store of each new WAN cache and
	 * replace each new stash).  SQL caches that go through the load
	 * balancer, and every other kind of cache (a process-memory one would
	 * carry data from one request to the next; Redis: see worker/README.md),
	 * are made per request.
	 */
	private static function keepObjectCaches(): bool {
		self::$keptCaches = [];
		self::$memcachedThreshold = false;
		$all = true;
		foreach ( ObjectCache::$instances as $id => $cache ) {
			$all = self::keepCache( $cache, $id, "the SQL object cache $id" ) && $all;
		}
		$services = MediaWikiServices::getInstance();
		$wan = $services->peekService( 'MainWANObjectCache' );
		if ( $wan instanceof WANObjectCache ) {
			// mirrors includes/libs/objectcache/wancache/WANObjectCache.php:133-134 sha256:8d0d81be54d4d7b6
			$store = Closure::bind( function () {
				return $this->cache;
			}, $wan, WANObjectCache::class )();
			$all = self::keepCache( $store, 'wan', "the WAN cache's SQL store" ) && $all;
		}
		$stash = $services->peekService( 'MainObjectStash' );
		return self::keepCache( $stash, 'stash', 'the main stash' ) && $all;
	}

	/**
	 * Keeps $cache under $key if it is memcached's or an SQL cache with
	 * connections of its own; false if it is an SQL cache that goes through
	 * the load balancer (which is so for good: the reset services are then
	 * made per request).  Any other kind is not kept, and not in the way.
	 */
	private static function keepCache( $cache, $key, string $what ): bool {
		if ( $cache instanceof MemcachedPeclBagOStuff ) {
			self::cleanMemcachedCache( $cache );
			self::$keptCaches[$key] = $cache;
			return true;
		}
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
	/**
	 * A SQL cache set back to what a new instance holds, if it has
	 * connections of its own; false if it goes through the load balancer.
	 * What any cache holds of a request is forgotten (cleanBag()), and
	 * so are duplicate-key bookkeeping and servers marked down; an open
	 * transaction is rolled back (logged).
	 */
	private static function cleanSqlCache( SqlBagOStuff $cache, string $what ): bool {
		$ok = Closure::bind( function () use ( $what ) {
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
			$this->connFailureTimes = [];
			$this->connFailureErrors = [];
			return true;
		}, $cache, SqlBagOStuff::class )();
		if ( $ok ) {
			self::cleanBag( $cache );
		}
		return $ok;
	}

	/**
	 * A memcached cache set back to what a new instance holds: its client
	 * out of no-reply mode (MediaWiki sets it back in a scope that ends
	 * with the write, but an exception or an extension may leave it on,
	 * and the next request would take every write for a success), and
	 * what it holds of a request forgotten (cleanBag()).  The client keeps
	 * its socket: memcached's text protocol has no session state; one the
	 * server closed is found before the next request (checkMemcached()).
	 * The constructor
	 * also sets memcached.compression_threshold, which the restore of the
	 * ini settings takes back after the request: it is set again for each
	 * request that is handed the kept cache.
	 */
	// mirrors includes/libs/objectcache/MemcachedPeclBagOStuff.php:32-33 sha256:f0efd2d4e391ef49
	// mirrors includes/libs/objectcache/MemcachedPeclBagOStuff.php:76-81 sha256:4f24c436c3bfeaac
	// mirrors includes/libs/objectcache/MemcachedPeclBagOStuff.php:165-174 sha256:400fbe05d90dae5f
	private static function cleanMemcachedCache( MemcachedPeclBagOStuff $cache ): void {
		Closure::bind( function () {
			if ( $this->client instanceof Memcached ) {
				$this->client->setOption( Memcached::OPT_NOREPLY, false );
			}
		}, $cache, MemcachedPeclBagOStuff::class )();
		self::cleanBag( $cache );
		self::$memcachedThreshold = ini_get( 'memcached.compression_threshold' );
	}

	/**
	 * What a medium-specific cache holds of a request set back as a new
	 * instance has it: duplicate-key bookkeeping, prepared values, locks
	 * (a lock() never released would let the next request take it again
	 * as its own), the last error and its number.
	 */
	// mirrors includes/libs/objectcache/MediumSpecificBagOStuff.php:42-50 sha256:752e80c63befa475
	// mirrors includes/libs/objectcache/BagOStuff.php:103-106 sha256:ade4e862c953885f
	private static function cleanBag( MediumSpecificBagOStuff $cache ): void {
		Closure::bind( function () {
			$this->duplicateKeyLookups = [];
			$this->dupeTrackScheduled = false;
			$this->preparedValues = [];
			$this->locks = [];
			$this->lastError = BagOStuff::ERR_NONE;
			$this->lastErrorId = 0;
		}, $cache, MediumSpecificBagOStuff::class )();
	}

	/** A kept cache, with this request's statistics factory. */
	// mirrors includes/libs/objectcache/BagOStuff.php:86-87 sha256:4ad5bf76571c87d2
	private static function resumeCache( BagOStuff $cache ): BagOStuff {
		$stats = MediaWikiServices::getInstance()->getStatsdDataFactory();
		Closure::bind( function () use ( $stats ) {
			$this->stats = $stats;
		}, $cache, BagOStuff::class )();
		return $cache;
	}

	/** Before a request: the kept object caches of ObjectCache. */
	private static function resumeObjectCaches() {
		if ( self::$memcachedThreshold !== false ) {
			self::checkMemcached();
		}
		if ( self::$memcachedThreshold !== false ) {
			ini_set( 'memcached.compression_threshold', self::$memcachedThreshold );
		}
		foreach ( self::$keptCaches as $id => $cache ) {
			if ( $id !== 'wan' && $id !== 'stash' ) {
				ObjectCache::$instances[$id] = ObjectCache::$instances[$id] ??
					self::resumeCache( $cache );
			}
		}
	}

	/**
	 * Whether the kept memcached clients still reach their servers: one
	 * that memcached closed meanwhile (a restart) fails its next command,
	 * and only the one after reconnects, where a new client would have
	 * connected first; so each is asked for a key (one round trip, ~20 us,
	 * against ~65 us for a new client) and if any fails, no memcached cache
	 * is handed on: the request makes new ones, as under PHP-FPM, and new
	 * reset services (which may hold the old ones) and load balancer.
	 */
	// mirrors includes/libs/objectcache/MemcachedPeclBagOStuff.php:32-33 sha256:f0efd2d4e391ef49
	private static function checkMemcached(): void {
		$asked = [];
		foreach ( self::$keptCaches as $cache ) {
			if ( !( $cache instanceof MemcachedPeclBagOStuff ) ) {
				continue;
			}
			$client = Closure::bind( function () {
				return $this->client;
			}, $cache, MemcachedPeclBagOStuff::class )();
			if ( isset( $asked[spl_object_id( $client )] ) ) {
				continue;
			}
			$asked[spl_object_id( $client )] = true;
			$client->get( 'mwsup:warm:alive' );
			$code = $client->getResultCode();
			if ( $code !== Memcached::RES_SUCCESS && $code !== Memcached::RES_NOTFOUND ) {
				foreach ( self::$keptCaches as $key => $c ) {
					if ( $c instanceof MemcachedPeclBagOStuff ) {
						unset( self::$keptCaches[$key] );
					}
				}
				self::$memcachedThreshold = false;
				// The reset services may hold them: they go too, and
				// with them the kept load balancer, which they hold.
				$lbf = self::$keptDb;
				self::$keptDb = null;
				MwsupWarmServices::dropWithReset( $lbf === null ? [] :
					[ 'DBLoadBalancerFactory', 'DBLoadBalancer' ] );
				if ( $lbf !== null ) {
					$lbf->destroy();
				}
				return;
			}
		}
	}

	/**
	 * Whether the memcached cache $cache is one kept across requests (and
	 * so set back after each): one of ObjectCache::$instances, the store
	 * of the WAN cache or the stash ($service, the service being made, or
	 * the container's).  A reset service may hold such a cache without
	 * owning it (warm-services.php); holding another, it is made per
	 * request, as before.
	 */
	// mirrors includes/libs/objectcache/wancache/WANObjectCache.php:133-134 sha256:8d0d81be54d4d7b6
	public static function keepsCache( MemcachedPeclBagOStuff $cache, $service ): bool {
		if ( in_array( $cache, ObjectCache::$instances, true ) ) {
			return true;
		}
		$services = MediaWikiServices::getInstance();
		foreach ( [ $service, $services->peekService( 'MainWANObjectCache' ) ] as $wan ) {
			if ( $wan instanceof WANObjectCache && Closure::bind( function () {
				return $this->cache;
			}, $wan, WANObjectCache::class )() === $cache ) {
				return true;
			}
		}
		return $cache === $service || $cache === $services->peekService( 'MainObjectStash' );
	}

	/** Once, while neither service exists: hand them the kept stores. */
	public static function installManipulators() {
		$services = MediaWikiServices::getInstance();
		require_once __DIR__ . '/warm-dbpool.php';
		$services->addServiceManipulator( 'DatabaseFactory', static function ( $factory ) {
			return get_class( $factory ) === Wikimedia\Rdbms\DatabaseFactory::class ?
				new MwsupWarmDatabaseFactory() : null;
		} );
		$services->addServiceManipulator( 'MainWANObjectCache', static function ( $wan ) {
			$store = self::$keptCaches['wan'] ?? null;
			if ( $store !== null && $wan instanceof WANObjectCache ) {
				self::resumeCache( $store );
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
				self::resumeCache( $kept ) : null;
		} );
	}
}
