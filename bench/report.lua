-- report.lua - shared by the vault wrk scripts: prints one machine-readable
-- summary line that bench/http.sh turns into the results table.
--
-- wrk calls done() once, after all threads finish. Latencies are in
-- microseconds; "non2xx" counts responses outside 2xx/3xx, "socket" counts
-- connect, read and write errors, "timeout" requests that got no answer
-- within wrk's --timeout (2 s unless BENCH_TIMEOUT says otherwise).

function done(summary, latency, requests)
	local seconds = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format(
		"BENCH_RESULT requests=%d rps=%.1f p50_us=%d p99_us=%d max_us=%d non2xx=%d socket=%d timeout=%d\n",
		summary.requests, summary.requests / seconds, latency:percentile(50),
		latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write,
		e.timeout))
end

-- Every request carries the token that bench/http.sh logged in for.
local token = os.getenv("BENCH_TOKEN")
if not token or token == "" then
	error("BENCH_TOKEN is not set")
end
wrk.headers["Authorization"] = "Bearer " .. token

-- Threads get distinct random sequences: setup() numbers them.
local counter = 0
function setup(thread)
	counter = counter + 1
	thread:set("thread_no", counter)
end

function seed_random()
	math.randomseed(os.time() * 1000 + (thread_no or 0))
end
