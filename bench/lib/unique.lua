-- wrk script for bench/cache-cost: every request a URL never asked
-- before (the path given to wrk plus "&bust=N"), so a page cache misses
-- each time; prints the same BENCH line as report.lua.
local threads, n = 0, 0
local salt = tostring(os.time())

-- each thread its own number, so two threads never ask the same URL
setup = function(thread)
	threads = threads + 1
	thread:set("tid", threads)
end

request = function()
	n = n + 1
	return wrk.format(nil, wrk.path .. "&bust=" .. salt .. "-" ..
	    tostring(tid) .. "-" .. n)
end

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
