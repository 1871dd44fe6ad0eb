<?php
# LocalSettings-farm.php - what a farm of mwsup hosts adds to
# LocalSettings.php (see "A farm of hosts" in README.md): one MariaDB
# (a primary, optionally replicas), one Redis for the object cache,
# sessions and the job queue, uploads on shared storage.  Include it at
# the end of LocalSettings.php on every host:
#   require_once '/etc/mediawiki/LocalSettings-farm.php';
# Addresses are examples: 10.0.0.2 is the database, 10.0.0.3 Redis.

# --- the database: one primary, every host writes there ---
$wgDBtype = 'mysql';
$wgDBserver = '10.0.0.2';
$wgDBname = 'wiki';
$wgDBuser = 'wiki';
$wgDBpassword = 'change-me';
# Optional replicas take reads (MediaWiki sends writes to the first):
# $wgDBservers = [
# 	[ 'host' => '10.0.0.2', 'dbname' => 'wiki', 'user' => 'wiki',
# 	  'password' => 'change-me', 'type' => 'mysql', 'load' => 0 ],
# 	[ 'host' => '10.0.0.4', 'dbname' => 'wiki', 'user' => 'wiki',
# 	  'password' => 'change-me', 'type' => 'mysql', 'load' => 1,
# 	  'max lag' => 5 ],
# ];

# --- Redis: object cache, sessions, parser cache shared by every host ---
$wgObjectCaches['redis'] = [
	'class' => 'RedisBagOStuff',
	'servers' => [ '10.0.0.3:6379' ],
	# 'password' => 'change-me',
];
$wgMainCacheType = 'redis';
$wgSessionCacheType = 'redis';
$wgParserCacheType = 'redis';
$wgMessageCacheType = 'redis';
# Not per host: APCu would keep stale copies after an edit elsewhere.
$wgMainStash = 'db-replicated';

# --- the job queue in Redis, run by mwsup on every host (mw.yaml jobs:)
# and by nobody else: no job runs at the end of web requests ---
$wgJobTypeConf['default'] = [
	'class' => 'JobQueueRedis',
	'redisServer' => '10.0.0.3:6379',
	'redisConfig' => [],
	'claimTTL' => 3600,
	'daemonized' => true,
];
$wgJobRunRate = 0;

# --- uploads: storage every host sees, at the same path ---
$wgUploadDirectory = '/srv/mediawiki/images';
$wgUploadPath = '/images';
# Thumbnails and other files are locked across hosts in Redis, not in a
# per-host directory.
$wgLockManagers[] = [
	'name' => 'redisLockManager',
	'class' => 'RedisLockManager',
	'lockServers' => [ 'rdlock1' => '10.0.0.3:6379' ],
	'srvsByBucket' => [ 0 => [ 'rdlock1' ] ],
	'redisConfig' => [],
];
$wgLocalFileRepo = [
	'class' => 'LocalRepo',
	'name' => 'local',
	'directory' => $wgUploadDirectory,
	'url' => $wgUploadPath,
	'hashLevels' => 2,
	'thumbScriptUrl' => false,
	'transformVia404' => false,
	'deletedDir' => "$wgUploadDirectory/deleted",
	'lockManager' => 'redisLockManager',
];

# --- the client address: mwsup gives PHP the one from HAProxy's PROXY
# header; HAProxy itself is no cache to purge, so $wgCdnServers stays
# empty. ---
$wgServer = 'https://wiki.example.org';
