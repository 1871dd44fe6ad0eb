<?php
/**
 * warm-dbpool.php - the MySQL connections of a warm worker outlive the
 * load balancer that opened them.
 *
 * A load balancer that is not kept across requests (on a wiki with
 * replicas, after a request that wrote, after a database error) is made
 * per request, as under PHP-FPM; what it does not need to make again is
 * the connection to each server.  The worker's DatabaseFactory makes
 * MwsupWarmDatabaseMysqli where MediaWiki would make DatabaseMysqli: when
 * MediaWiki closes one of its connections (the load balancer destroyed
 * after the response), the connection is set back as a new one is and
 * kept in the worker (MwsupWarmStorage::giveLink()); the next request
 * that connects to the same server, account, database and options takes
 * it (MwsupWarmStorage::takeLink(), after a ping) instead of connecting,
 * and MediaWiki then sets its session variables as on any connection.
 * Loaded by warm-storage.php once MediaWiki's classes can be loaded.
 */

use Wikimedia\Rdbms\DatabaseMysqli;

class MwsupWarmDatabaseFactory extends Wikimedia\Rdbms\DatabaseFactory {
	// mirrors includes/libs/rdbms/database/DatabaseFactory.php:161-161 sha256:bce7507cd871a3cc
	protected function getClass( $dbType, $driver = null ) {
		$class = parent::getClass( $dbType, $driver );
		return $class === DatabaseMysqli::class ? MwsupWarmDatabaseMysqli::class : $class;
	}
}

class MwsupWarmDatabaseMysqli extends DatabaseMysqli {
	/** @var array|null [ key, user, password, database ] of the open link */
	private $mwsupLink = null;

	/**
	 * A kept link to the server if there is one alive, else a new one.
	 * The key holds everything mysqlConnect() connects with: the server,
	 * account, database, TLS settings, compression and character set.
	 */
	// mirrors includes/libs/rdbms/database/DatabaseMysqli.php:111-179 sha256:932c9813dc52ebe0
	// mirrors includes/libs/rdbms/database/DatabaseMysqlBase.php:51-66 sha256:bca30246c8d650f2
	// mirrors includes/libs/rdbms/database/Database.php:96-97 sha256:a2213282d2757dbd
	protected function mysqlConnect( $server, $user, $password, $db ) {
		$this->mwsupLink = null;
		if ( $this->getFlag( self::DBO_PERSISTENT ) ) {
			// PHP's own persistent link, which PHP pools.
			return parent::mysqlConnect( $server, $user, $password, $db );
		}
		$key = json_encode( [ $server, $user, $password, $db, (bool)$this->ssl,
			$this->sslKeyPath, $this->sslCertPath, $this->sslCAFile, $this->sslCAPath,
			$this->sslCiphers, (bool)$this->utf8Mode, $this->getFlag( self::DBO_COMPRESS ) ] );
		$this->mwsupLink = [ $key, (string)$user, (string)$password, (string)$db ];
		return MwsupWarmStorage::takeLink( $key ) ??
			parent::mysqlConnect( $server, $user, $password, $db );
	}

	/** Closed by MediaWiki: kept for a later connect if it can be set back. */
	// mirrors includes/libs/rdbms/database/DatabaseMysqli.php:182-186 sha256:e7da706ea4281809
	protected function closeConnection() {
		$conn = $this->getBindingHandle();
		$link = $this->mwsupLink;
		$this->mwsupLink = null;
		if ( $link !== null && MwsupWarmStorage::giveLink( $conn, ...$link ) ) {
			return true;
		}
		return $conn->close();
	}
}
