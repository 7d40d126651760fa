-- create_note.lua - POST /api/v1/notes with a fresh title, about 300 bytes
-- of content and two tags each time.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.-)[^/]*$") .. "report.lua")

wrk.headers["Content-Type"] = "application/json"

local n = 0
local filler = string.rep("The quick brown fox jumps over the lazy dog. ", 6)

function init(args)
	seed_random()
end

function request()
	n = n + 1
	local body = string.format(
		'{"title":"wrk note %d-%d","content":"Note %d. %s","tags":["bench","group-%d"]}',
		thread_no or 0, n, n, filler, math.random(0, 9))
	return wrk.format("POST", "/api/v1/notes", nil, body)
end
