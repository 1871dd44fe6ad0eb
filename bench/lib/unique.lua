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

-- done(): report.lua's, beside this file
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
