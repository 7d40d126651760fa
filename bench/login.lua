-- login.lua - POST /api/v1/auth/login with the credentials in BENCH_LOGIN_BODY
-- (a JSON object), as a crowd guessing passwords from one address would.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.-)[^/]*$") .. "report.lua")

wrk.method = "POST"
wrk.path = "/api/v1/auth/login"
wrk.body = os.getenv("BENCH_LOGIN_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = nil
