-- list_notes.lua - GET /api/v1/notes?limit=20: the first page of the notes
-- list, with its total count.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.-)[^/]*$") .. "report.lua")

wrk.method = "GET"
wrk.path = "/api/v1/notes?limit=20"
