-- get_note.lua - GET /api/v1/notes/{id} for random ids among the seeded
-- notes. The ids come one per line from the file named by BENCH_IDS_FILE.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.-)[^/]*$") .. "report.lua")

local ids = {}

function init(args)
	seed_random()
	local path = os.getenv("BENCH_IDS_FILE")
	for line in io.lines(path) do
		ids[#ids + 1] = line
	end
	if #ids == 0 then
		error("no note ids in " .. path)
	end
end

function request()
	return wrk.format("GET", "/api/v1/notes/" .. ids[math.random(#ids)])
end
