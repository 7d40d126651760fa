-- search.lua - GET /api/v1/search for the queries of the file named by
-- BENCH_QUERIES_FILE (one a line), in BENCH_MODE (keyword, hybrid or
-- semantic) with top_k BENCH_TOP_K (5). Each thread walks the list in order
-- from its own starting point, so every run asks the same mix.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.-)[^/]*$") .. "report.lua")

local paths = {}
local next_path = 1

local function urlencode(s)
	return (s:gsub("[^%w%-%._~]", function(c)
		return string.format("%%%02X", string.byte(c))
	end))
end

function init(args)
	local file = os.getenv("BENCH_QUERIES_FILE")
	local mode = os.getenv("BENCH_MODE") or "keyword"
	local top_k = os.getenv("BENCH_TOP_K") or "5"
	for line in io.lines(file) do
		paths[#paths + 1] = "/api/v1/search?query=" .. urlencode(line) .. "&mode=" .. mode ..
			"&top_k=" .. top_k
	end
	if #paths == 0 then
		error("no queries in " .. file)
	end
	next_path = ((thread_no or 1) - 1) * 97 % #paths + 1
end

function request()
	local p = paths[next_path]
	next_path = next_path % #paths + 1
	return wrk.format("GET", p)
end
