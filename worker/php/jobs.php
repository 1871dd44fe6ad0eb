<?php
/**
 * jobs.php - one job slice, run by mwworker when mwsup hands it one.
 *
 * mwsup (supervisor/jobs.c) is the wiki's job runner: with $wgJobRunRate
 * = 0 nothing else runs MediaWiki's job queue.  A slice is a request the
 * supervisor makes with these parameters in $_SERVER:
 *   MWSUP_JOBS_GROUP    the group's name (for logs)
 *   MWSUP_JOBS_TYPES    its job types, comma-separated; empty: every type
 *   MWSUP_JOBS_EXCLUDE  ...except these (the types of the other groups)
 *   MWSUP_JOBS_MAX      jobs to run at most (0: upkeep only)
 *   MWSUP_JOBS_TIME     seconds after which no new job is started
 *   MWSUP_JOBS_MEMORY   PHP memory_limit for the slice, bytes
 *   MWSUP_JOBS_CHRON    1: do the queue upkeep first
 * and reads back text/plain lines "NAME VALUE" (one space, no newline in
 * a value; the supervisor ignores names it does not know): run, failed,
 * reached (JobRunner's reason to stop), ready (jobs left), error (the
 * first failure), and after the upkeep released, recycled, abandoned_now,
 * pruned, the queue's claimed, delayed and abandoned counts and, for
 * JobQueueDB, max_tries (so the supervisor can tell abandoned rows in the
 * job table).
 *
 * The upkeep is what the Redis job runner's "chron" service did, which
 * MediaWiki leaves to the runner once JobQueueRedis is 'daemonized':
 * delayed jobs that are due go to the ready list, jobs claimed longer
 * than claimTTL are re-queued while they have attempts left and
 * abandoned after, abandoned jobs older than a week are deleted.
 * JobQueueDB does the same itself in recycleAndDeleteStaleJobs(), which
 * the upkeep calls so that failed jobs come back without waiting for a
 * pop to roll it.
 *
 * A cold worker runs this file as a script: it bootstraps MediaWiki like
 * an entry point, then runs the slice.  A warm worker loads the class with
 * warm.php and calls MwsupJobs::main() as the entry point "mwsup-jobs",
 * in the bootstrapped MediaWiki, with the same restore after it as after
 * a web request (worker/README.md).
 *
 * A session exists (jobs that parse may ask for the user's), but nobody
 * sends a cookie, so it stays anonymous and is never stored.
 */

use MediaWiki\MediaWikiServices;

final class MwsupJobs {
	/** Abandoned jobs are deleted after this long (JobQueueDB's MAX_AGE_PRUNE). */
	private const PRUNE_AGE = 7 * 86400;
	/** Used when a queue sets no claimTTL (the Redis runner's default). */
	private const CLAIM_TTL = 3600;

	/** @return string[] the job types of this slice */
	private static function types( JobQueueGroup $jqg ): array {
		$list = static function ( string $name ): array {
			$v = (string)( $_SERVER[$name] ?? '' );
			return $v === '' ? [] : explode( ',', $v );
		};
		$all = $jqg->getQueueTypes();
		$only = $list( 'MWSUP_JOBS_TYPES' );
		if ( $only ) {
			return array_values( array_intersect( $only, $all ) );
		}
		return array_values( array_diff( $all, $list( 'MWSUP_JOBS_EXCLUDE' ) ) );
	}

	/** Queue upkeep; returns counts for the answer. */
	private static function chron( JobQueueGroup $jqg ): array {
		$out = [ 'released' => 0, 'recycled' => 0, 'abandoned_now' => 0,
			'pruned' => 0, 'claimed' => 0, 'delayed' => 0, 'abandoned' => 0 ];
		foreach ( $jqg->getQueueTypes() as $type ) {
			$queue = $jqg->get( $type );
			if ( $queue instanceof JobQueueRedis ) {
				foreach ( self::chronRedis( $queue ) as $k => $n ) {
					$out[$k] += $n;
				}
				$abandoned = $queue->getAbandonedCount();
				$out['claimed'] += $queue->getAcquiredCount() - $abandoned;
				$out['abandoned'] += $abandoned;
				$out['delayed'] += $queue->getDelayedCount();
			} elseif ( $queue instanceof JobQueueDB ) {
				$out['recycled'] += $queue->recycleAndDeleteStaleJobs();
				// Its own counts are cached for 30 s; these are now.
				// mirrors includes/jobqueue/JobQueueDB.php:130-156 sha256:03d6ca42b83b5b42
				// mirrors includes/jobqueue/JobQueueDB.php:163-194 sha256:a45f07866bf147bd
				// mirrors includes/jobqueue/JobQueue.php:44-46 sha256:e22b00f410240a18
				$counts = Closure::bind( function () {
					$row = $this->getReplicaDB()->selectRow( 'job', [
						'claimed' => "SUM(job_attempts < {$this->maxTries})",
						'abandoned' => "SUM(job_attempts >= {$this->maxTries})",
					], [ 'job_cmd' => $this->type, "job_token != ''" ], __METHOD__ );
					return [ (int)( $row->claimed ?? 0 ), (int)( $row->abandoned ?? 0 ) ];
				}, $queue, JobQueueDB::class );
				[ $claimed, $abandoned ] = $counts();
				$out['claimed'] += $claimed;
				$out['abandoned'] += $abandoned;
				// For the supervisor's own count of the job table.
				$tries = Closure::bind( function () {
					return $this->maxTries;
				}, $queue, JobQueueDB::class )();
				$out['max_tries'] = min( $out['max_tries'] ?? PHP_INT_MAX, $tries );
			} else {
				$out['claimed'] += $queue->getAcquiredCount();
				$out['abandoned'] += $queue->getAbandonedCount();
				$out['delayed'] += $queue->getDelayedCount();
			}
		}
		return $out;
	}

	// mirrors includes/jobqueue/JobQueueRedis.php:784-826 sha256:45647c7b9d43e6dd
	// mirrors includes/jobqueue/JobQueue.php:44-46 sha256:e22b00f410240a18
	/**
	 * One Redis queue's upkeep, in one Lua script (atomic on the server).
	 * Keys and layout are JobQueueRedis's: l-unclaimed (ready ids, popped
	 * from the right), z-delayed (id by release time), z-claimed (id by
	 * claim time), h-attempts, h-data, z-abandoned (id by when).  Its key
	 * names, connection and limits are private or protected: reached
	 * through a closure bound to the class.
	 */
	private static function chronRedis( JobQueueRedis $queue ): array {
		$peek = Closure::bind( function () {
			$keys = [];
			foreach ( [ 'z-delayed', 'l-unclaimed', 'z-claimed', 'h-attempts',
				'h-data', 'z-abandoned', 'h-sha1ById', 'h-idBySha1' ] as $prop
			) {
				$keys[] = $this->getQueueKey( $prop );
			}
			$keys[] = $this->getGlobalKey( 's-queuesWithJobs' );
			return [ $this->getConnection(), $keys, $this->encodeQueueName(),
				$this->claimTTL, $this->maxTries ];
		}, $queue, JobQueueRedis::class );
		[ $conn, $keys, $queueName, $claimTTL, $maxTries ] = $peek();
		static $script = <<<'LUA'
local kDelayed, kUnclaimed, kClaimed, kAttempts, kData, kAbandoned,
	kSha1ById, kIdBySha1, kQueues = unpack(KEYS)
local now, claimTTL, maxTries, pruneAge = tonumber(ARGV[1]),
	tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local released, recycled, abandoned, pruned = 0, 0, 0, 0
-- Delayed jobs that are due: ready now.
for _, id in ipairs(redis.call('zRangeByScore', kDelayed, 0, now, 'LIMIT', 0, 1000)) do
	redis.call('zRem', kDelayed, id)
	redis.call('lPush', kUnclaimed, id)
	released = released + 1
end
-- Claims older than claimTTL: a runner died or the job failed.
for _, id in ipairs(redis.call('zRangeByScore', kClaimed, 0, now - claimTTL, 'LIMIT', 0, 1000)) do
	redis.call('zRem', kClaimed, id)
	local attempts = tonumber(redis.call('hGet', kAttempts, id) or 0) or 0
	if attempts < maxTries and redis.call('hExists', kData, id) == 1 then
		redis.call('lPush', kUnclaimed, id)
		recycled = recycled + 1
	else
		redis.call('zAdd', kAbandoned, now, id)
		abandoned = abandoned + 1
	end
end
-- Abandoned long enough ago: gone.
for _, id in ipairs(redis.call('zRangeByScore', kAbandoned, 0, now - pruneAge, 'LIMIT', 0, 1000)) do
	redis.call('zRem', kAbandoned, id)
	redis.call('hDel', kAttempts, id)
	redis.call('hDel', kData, id)
	local sha1 = redis.call('hGet', kSha1ById, id)
	if sha1 then redis.call('hDel', kIdBySha1, sha1) end
	redis.call('hDel', kSha1ById, id)
	pruned = pruned + 1
end
if released + recycled > 0 then
	redis.call('sAdd', kQueues, ARGV[5])
end
return {released, recycled, abandoned, pruned}
LUA;
		$res = $conn->luaEval( $script, array_merge( $keys, [
			time(), $claimTTL > 0 ? $claimTTL : self::CLAIM_TTL, $maxTries,
			self::PRUNE_AGE, $queueName ] ), count( $keys ) );
		if ( !is_array( $res ) ) {
			throw new JobQueueError( 'Redis upkeep of ' . $queue->getType() .
				' failed: ' . $conn->getLastError() );
		}
		return [ 'released' => (int)$res[0], 'recycled' => (int)$res[1],
			'abandoned_now' => (int)$res[2], 'pruned' => (int)$res[3] ];
	}

	/** The slice; returns the answer. */
	public static function run(): array {
		$services = MediaWikiServices::getInstance();
		$jqg = $services->getJobQueueGroup();
		$out = [ 'group' => (string)( $_SERVER['MWSUP_JOBS_GROUP'] ?? '' ),
			'run' => 0, 'failed' => 0, 'reached' => 'none-ready' ];
		if ( ( $_SERVER['MWSUP_JOBS_CHRON'] ?? '0' ) === '1' ) {
			$out += self::chron( $jqg );
		}
		$maxJobs = (int)( $_SERVER['MWSUP_JOBS_MAX'] ?? 0 );
		$maxTime = (float)( $_SERVER['MWSUP_JOBS_TIME'] ?? 0 );
		$types = self::types( $jqg );
		if ( $maxJobs > 0 ) {
			$runner = $services->getJobRunner();
			$start = microtime( true );
			$ready = array_values( array_intersect( $types, $jqg->getQueuesWithJobs() ) );
			shuffle( $ready );	// no type starves another
			foreach ( $ready as $type ) {
				$left = $maxJobs - $out['run'] - $out['failed'];
				$time = $maxTime - ( microtime( true ) - $start );
				if ( $left <= 0 || $time <= 0 ) {
					$out['reached'] = $left <= 0 ? 'job-limit' : 'time-limit';
					break;
				}
				$r = $runner->run( [ 'type' => $type, 'maxJobs' => $left,
					'maxTime' => max( 1, (int)ceil( $time ) ) ] );
				foreach ( $r['jobs'] as $job ) {
					if ( $job['status'] === 'ok' ) {
						$out['run']++;
					} else {
						$out['failed']++;
						$out['error'] = $out['error'] ??
							$job['type'] . ': ' . substr( (string)$job['error'], 0, 150 );
					}
				}
				if ( $r['reached'] !== 'none-ready' ) {
					$out['reached'] = $r['reached'];
					if ( !in_array( $r['reached'], [ 'job-limit', 'time-limit' ], true ) ) {
						break;
					}
				}
			}
		}
		$ready = 0;
		foreach ( $types as $type ) {
			$ready += $jqg->get( $type )->getSize();
		}
		$out['ready'] = $ready;
		return $out;
	}

	/** The answer: one "name value" line each, values on one line. */
	private static function answer( array $answer ): string {
		$text = '';
		foreach ( $answer as $name => $value ) {
			$text .= $name . ' ' . preg_replace( '/[\x00-\x1f\x7f]+/', ' ', (string)$value ) . "\n";
		}
		return $text;
	}

	/** The slice as an entry point: runs it and prints the answer. */
	public static function main() {
		ignore_user_abort( true );
		if ( isset( $_SERVER['MWSUP_JOBS_MEMORY'] ) ) {
			ini_set( 'memory_limit', $_SERVER['MWSUP_JOBS_MEMORY'] );
		}
		try {
			$answer = self::run();
			$status = 200;
		} catch ( Throwable $e ) {
			MWExceptionHandler::logException( $e );
			$answer = [ 'error' => get_class( $e ) . ': ' . substr( $e->getMessage(), 0, 150 ) ];
			$status = 500;
		}
		HttpStatus::header( $status );
		header( 'Content-Type: text/plain; charset=utf-8' );
		header( 'Cache-Control: no-store' );
		echo self::answer( $answer );
		( new MediaWiki() )->doPostOutputShutdown();
	}
}

// A cold worker runs the file; a warm one has only loaded the class.
if ( !class_exists( 'MwsupWarm', false ) ) {
	define( 'MW_ENTRY_POINT', 'mwsup-jobs' );
	require $_SERVER['MWSUP_MW_ROOT'] . '/includes/WebStart.php';
	MwsupJobs::main();
}
