#!/usr/bin/env bash
# http.sh - HTTP benchmark of `vault serve` on loopback with wrk.
#
# Builds vault, starts it on a free 127.0.0.1 port with a fresh SQLite
# database (BENCH_DATABASE=postgres: a fresh schema on PostgreSQL, dropped
# after), registers and logs in one user, seeds notes, then measures three
# scenarios with wrk: GET one note, list notes, create a note. Prints a
# Markdown report on stdout (progress goes to stderr) and keeps a copy under
# bench/results/. See bench/README.md.
#
# Backticks in printf formats below are Markdown code spans, not commands.
# shellcheck disable=SC2016
set -euo pipefail

# Settings (environment variables).
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}              # unrecorded GET run first; 0 to skip
NOTES=${BENCH_NOTES:-2000}
SEED_PARALLEL=${BENCH_SEED_PARALLEL:-16}
ROUNDS=${BCRYPT_ROUNDS:-12}
BUILD=${BENCH_BUILD:-1}                 # 0: use the existing binary as is
TIMEOUT=${BENCH_TIMEOUT:-2s}            # wrk --timeout: slower answers count as failed
START_TIMEOUT=${BENCH_START_TIMEOUT:-30} # seconds to wait for server_started
DATABASE=${BENCH_DATABASE:-sqlite}      # sqlite or postgres (BENCH_PG_URL or scripts/pg)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
BUILD_DIR=${BENCH_BUILD_DIR:-build}     # make's BUILD directory
VAULT_BIN=${VAULT_BIN:-$ROOT/$BUILD_DIR/vault}

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=bench/pg_lib.sh
. "$BENCH/pg_lib.sh"
case $DATABASE in
sqlite) ;;
postgres) command -v psql >/dev/null || die "psql is not installed (needed for BENCH_DATABASE=postgres)" ;;
*) die "BENCH_DATABASE must be sqlite or postgres" ;;
esac

for tool in wrk curl; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ $NOTES =~ ^[1-9][0-9]*$ ]] || die "BENCH_NOTES must be a positive whole number"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vault-bench.XXXXXX")
SERVER_PID=
SERVER_LOG="$TMP/server.log"
PG_BASE=
PG_SCHEMA="bench_http_$$"

# Stops the server (SIGTERM, then SIGKILL after 10 s) and removes the
# temporary directory; runs on every exit.
cleanup() {
	local rc=$?
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$SERVER_PID" 2>/dev/null; then
			log "server did not stop within 10 s of SIGTERM; killing it"
			kill -KILL "$SERVER_PID" 2>/dev/null || true
		fi
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if ((rc == 1)) && [[ -s $SERVER_LOG ]]; then
		log "last server log lines:"
		tail -n 20 "$SERVER_LOG" >&2 || true
	fi
	[[ -n $PG_BASE ]] && pg_drop_schema "$PG_BASE" "$PG_SCHEMA"
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- build and start ----------------------------------------------------------

if [[ $BUILD == 1 ]]; then
	log "building (make BUILD=$BUILD_DIR)"
	make -C "$ROOT" BUILD="$BUILD_DIR" >&2
fi
[[ -x $VAULT_BIN ]] || die "$VAULT_BIN not found; build it with make"

SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
((${#SECRET} == 64)) || die "could not make a 64-character SECRET_KEY"

if [[ $DATABASE == postgres ]]; then
	PG_BASE=$(pg_server_url) || die "no PostgreSQL server (scripts/pg start failed)"
	pg_create_schema "$PG_BASE" "$PG_SCHEMA"
	DB_URL=$(pg_schema_url "$PG_BASE" "$PG_SCHEMA")
	DB_NAME="PostgreSQL (schema $PG_SCHEMA, dropped after)"
else
	DB_URL="sqlite:///$TMP/vault.db"
	DB_NAME=SQLite
fi

# The server runs in the temporary directory so a developer's ./.env cannot
# change what is measured; every setting that matters is given here. The
# hashing embedder keeps the worker's embedding of the seeded notes from
# taking the CPU the requests are measured on (bench/embed.sh measures the
# neural one).
log "starting $VAULT_BIN serve (BCRYPT_ROUNDS=$ROUNDS)"
(
	cd "$TMP"
	exec env ENVIRONMENT=production DEBUG=false HOST=127.0.0.1 PORT=0 \
		DATABASE_URL="$DB_URL" DATABASE_ECHO=false \
		SECRET_KEY="$SECRET" BCRYPT_ROUNDS="$ROUNDS" LOG_LEVEL=info LOG_FORMAT=json \
		EMBEDDING_PROVIDER=hash "$VAULT_BIN" serve
) >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

PORT=
for _ in $(seq $((START_TIMEOUT * 10))); do
	kill -0 "$SERVER_PID" 2>/dev/null || die "server exited during start-up"
	line=$(grep -m1 '"event":"server_started"' "$SERVER_LOG" || true)
	if [[ -n $line ]]; then
		PORT=$(sed -n 's/.*"port"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p' <<<"$line")
		break
	fi
	sleep 0.1
done
[[ -n $PORT ]] || die "no server_started line with a port within ${START_TIMEOUT}s"
BASE="http://127.0.0.1:$PORT"
log "server pid $SERVER_PID on $BASE"

# --- user and token -----------------------------------------------------------

EMAIL="bench-$$@example.com"
PASSWORD="bench-${SECRET:0:24}"
CREDS=$(printf '{"email":"%s","password":"%s"}' "$EMAIL" "$PASSWORD")

# post PATH BODY: POSTs JSON, prints the body; fails on a non-2xx status.
post() {
	curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' \
		--data-binary "$2" "$BASE$1"
}

log "registering $EMAIL"
post /api/v1/auth/register "$CREDS" >/dev/null || die "register failed"
TOKEN=$(post /api/v1/auth/login "$CREDS" | sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
[[ -n $TOKEN ]] || die "login returned no access_token"
export BENCH_TOKEN="$TOKEN"

# --- seed notes ---------------------------------------------------------------

# One curl process sends every note over SEED_PARALLEL reused connections;
# each transfer's status goes to a line of its own.
log "seeding $NOTES notes"
SEED_CFG="$TMP/seed.curl"
filler="Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."
{
	for ((i = 1; i <= NOTES; i++)); do
		printf 'url = "%s/api/v1/notes"\n' "$BASE"
		printf 'header = "Content-Type: application/json"\n'
		printf 'header = "Authorization: Bearer %s"\n' "$TOKEN"
		printf 'data = "{\\"title\\":\\"Seed note %d\\",\\"content\\":\\"Note %d. %s %s\\",' \
			"$i" "$i" "$filler" "$filler"
		printf '\\"tags\\":[\\"seed\\",\\"group-%d\\"]}"\n' $((i % 10))
		printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
		if ((i < NOTES)); then printf 'next\n'; fi
	done
} >"$SEED_CFG"
seed_start=$(date +%s.%N)
curl --no-progress-meter --parallel --parallel-max "$SEED_PARALLEL" -K "$SEED_CFG" >"$TMP/seed.codes" ||
	die "seeding with curl failed"
seed_secs=$(awk -v s="$seed_start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
created=$(grep -c '^201$' "$TMP/seed.codes" || true)
if ((created != NOTES)); then
	log "status codes while seeding:"
	sort "$TMP/seed.codes" | uniq -c >&2
	die "created $created of $NOTES notes"
fi
log "seeded $NOTES notes in ${seed_secs}s"

# The ids of the seeded notes, for random GETs.
IDS="$TMP/ids"
: >"$IDS"
for ((skip = 0; skip < NOTES; skip += 100)); do
	curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" \
		"$BASE/api/v1/notes?limit=100&skip=$skip" |
		grep -o '"id"[[:space:]]*:[[:space:]]*[0-9]*' | grep -o '[0-9]*$' >>"$IDS"
done
nids=$(wc -l <"$IDS")
((nids == NOTES)) || die "listed $nids note ids, expected $NOTES"
export BENCH_IDS_FILE="$IDS"

# --- measure ------------------------------------------------------------------

# run NAME SCRIPT: one wrk run; keeps wrk's output and the summary line.
run() {
	local name=$1 script=$2 out
	log "wrk $name: -t$THREADS -c$CONNECTIONS -d$DURATION"
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$TIMEOUT" --latency \
		-s "$BENCH/$script" "$BASE") || die "wrk failed for $name"
	printf '### %s\n\n```\n%s\n```\n\n' "$name" "$out" >>"$TMP/wrk.md"
	grep '^BENCH_RESULT ' <<<"$out" | sed "s|^BENCH_RESULT |$name\t|" >>"$TMP/results.tsv" ||
		die "no BENCH_RESULT line from $name"
}

if [[ $WARMUP != 0 ]]; then
	log "warm-up: $WARMUP of GET"
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" --timeout "$TIMEOUT" \
		-s "$BENCH/get_note.lua" "$BASE" >/dev/null ||
		die "wrk warm-up failed"
fi
: >"$TMP/wrk.md"
: >"$TMP/results.tsv"
run "GET /api/v1/notes/{id}" get_note.lua
run "GET /api/v1/notes?limit=20" list_notes.lua
run "POST /api/v1/notes" create_note.lua

# --- report -------------------------------------------------------------------

# field KEY LINE: the value of KEY=... in a BENCH_RESULT line.
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
[[ -n $cpu ]] || cpu=$(sed -n 's/^\(Hardware\|cpu model\|Model\)[[:space:]]*: //p' /proc/cpuinfo | head -n1)
cores=$(grep -c '^processor' /proc/cpuinfo)
online=$(nproc 2>/dev/null || echo "$cores")
ram=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kernel="$(cat /proc/sys/kernel/ostype) $(cat /proc/sys/kernel/osrelease)"
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "uncommitted")
version=$(cat "$ROOT/VERSION" 2>/dev/null || echo "?")
wrkver=$( (wrk -v 2>&1 || true) | awk 'NR == 1 { print $2 }')
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)

{
	printf '# vault HTTP benchmark, %s\n\n' "$stamp"
	printf '| Scenario | Requests/s | p50 (ms) | p99 (ms) | Max (ms) | Requests | Non-2xx | Socket errors | Timeouts (>%s) |\n' "$TIMEOUT"
	printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
	while IFS=$'\t' read -r name rest; do
		printf '| `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" \
			"$(field rps " $rest")" "$(ms "$(field p50_us " $rest")")" \
			"$(ms "$(field p99_us " $rest")")" "$(ms "$(field max_us " $rest")")" \
			"$(field requests " $rest")" "$(field non2xx " $rest")" \
			"$(field socket " $rest")" "$(field timeout " $rest")"
	done <"$TMP/results.tsv"
	printf '\n| Machine | |\n|---|---|\n'
	printf '| CPU | %s |\n' "$cpu"
	printf '| Cores | %s (%s online for this process) |\n' "$cores" "$online"
	printf '| RAM | %s |\n' "$ram"
	printf '| Kernel | %s |\n' "$kernel"
	printf '\n| Run | |\n|---|---|\n'
	printf '| vault | %s (%s), `%s`, %s, JSON request log to a file |\n' \
		"$version" "$commit" "${VAULT_BIN#"$ROOT"/}" "$DB_NAME"
	printf '| wrk | %s, -t%s -c%s -d%s --timeout %s, warm-up %s |\n' "$wrkver" "$THREADS" \
		"$CONNECTIONS" "$DURATION" "$TIMEOUT" "$WARMUP"
	printf '| Data | %s seeded notes (seeded in %ss), one user, BCRYPT_ROUNDS=%s |\n' \
		"$NOTES" "$seed_secs" "$ROUNDS"
	printf '| Server | loopback 127.0.0.1, same machine as wrk |\n'
	if [[ $DATABASE == postgres ]]; then
		pg_settings "$PG_BASE" | while read -r k v; do printf '| %s | %s |\n' "$k" "$v"; done
	fi
} >"$TMP/report.md"

mkdir -p "$BENCH/results"
RESULT="$BENCH/results/http-$([[ $DATABASE == postgres ]] && echo postgres-)$(date -u +%Y%m%dT%H%M%SZ).md"
{
	cat "$TMP/report.md"
	printf '\n## wrk output\n\n'
	cat "$TMP/wrk.md"
} >"$RESULT"

cat "$TMP/report.md"
log "full results in ${RESULT#"$ROOT"/}"

# Failed requests: the server's own view (statuses >= 400, warnings and
# errors it logged) helps tell a slow server from a broken one.
errors_total=$(awk -F'\t' '{ print $2 }' "$TMP/results.tsv" |
	sed -n 's/.*non2xx=\([0-9]*\) socket=\([0-9]*\) timeout=\([0-9]*\).*/\1 \2 \3/p' |
	awk '{ s += $1 + $2 + $3 } END { print s + 0 }')
if ((errors_total > 0)); then
	log "warning: $errors_total requests failed (non-2xx, socket errors or timeouts)"
	{
		printf '\n## Server view of the failures\n\n```\n'
		printf 'responses with status >= 400, by status:\n'
		grep '"event":"request"' "$SERVER_LOG" |
			sed -n 's/.*"status":\([0-9]*\).*/\1/p' | awk '$1 >= 400' | sort | uniq -c || true
		printf 'warning and error lines (first 20):\n'
		grep -E '"level":"(warning|error)"' "$SERVER_LOG" | head -n 20 || true
		printf '```\n'
	} | tee -a "$RESULT" >&2
	exit 2
fi
