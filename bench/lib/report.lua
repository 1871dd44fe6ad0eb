-- wrk script for bench/run: print one JSON line with what bench/run needs.
-- Latencies are in microseconds; errors are wrk's non-2xx/3xx statuses
-- plus socket errors (connect, read, write, timeout).
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
		'"status_errors":%d,"socket_errors":%d,"bytes":%d}\n',
		summary.requests, summary.duration,
		latency:percentile(50), latency:percentile(99),
		e.status, e.connect + e.read + e.write + e.timeout,
		summary.bytes))
end
