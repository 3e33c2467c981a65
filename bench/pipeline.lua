-- bench/pipeline.lua — wrk sends DEPTH requests at once on each connection
-- and waits for all DEPTH responses before sending the next batch.
--
--   wrk -c 256 -s bench/pipeline.lua http://127.0.0.1:8080/ -- 16
--
-- wrk counts the requests in the string request() returns, so every
-- response is still counted and timed on its own.

local depth = 16
local batch

init = function(args)
	depth = tonumber(args[1]) or depth
	local requests = {}
	for i = 1, depth do
		requests[i] = wrk.format(nil, "/")
	end
	batch = table.concat(requests)
end

request = function()
	return batch
end
