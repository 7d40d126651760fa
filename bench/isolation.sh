#!/usr/bin/env bash
# isolation.sh - does one user's search slow down when another user's vault
# grows? Keyword and hybrid throughput of user A through `vault serve`,
# with user B at 0, 10,000 and 50,000 notes.
#
# Seeds A's notes with bench/search_corpus.c (the notes service in-process),
# starts the real server on loopback, waits until A's notes are embedded,
# then measures A's searches with wrk (GET /api/v1/search, the same query
# mix every time). Then B gets notes from the same generator (so B's notes
# share A's vocabulary: the worst case for a shared index), the server
# embeds them, and A is measured again, for each step of BENCH_B_STEPS.
# Each round also measures a control that B cannot slow down (A reading one
# of A's notes by id), so that the machine's own ups and downs (it is
# shared) can be told from B's effect.
# BENCH_DATABASE=postgres runs the same on PostgreSQL in a fresh schema,
# dropped after. Prints a Markdown report on stdout (progress goes to
# stderr) and keeps a copy under bench/results/. See bench/README.md.
#
# Backticks in printf formats below are Markdown code spans, not commands.
# shellcheck disable=SC2016
set -euo pipefail

# Settings (environment variables).
A_NOTES=${BENCH_A_NOTES:-2000}
B_STEPS=${BENCH_B_STEPS:-0 10000 50000}  # B's notes at each measurement, rising
MODES=${BENCH_MODES:-keyword hybrid}
ROUNDS=${BENCH_ROUNDS:-3}                # measurements per mode and step, interleaved
CONTROL=${BENCH_CONTROL:-1}              # 0: no control runs (GET /api/v1/notes/{id})
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-8}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}               # unrecorded run before each measured one; 0 skips
TIMEOUT=${BENCH_TIMEOUT:-2s}
QUERIES=${BENCH_QUERIES:-400}            # distinct queries the runs cycle through
TOP_K=${BENCH_TOP_K:-5}
PROVIDER=${BENCH_EMBEDDING_PROVIDER:-local}
BUILD=${BENCH_BUILD:-1}
INDEX_TIMEOUT=${BENCH_INDEX_TIMEOUT:-1800}
START_TIMEOUT=${BENCH_START_TIMEOUT:-30}
DATABASE=${BENCH_DATABASE:-sqlite}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
BUILD_DIR=${BENCH_BUILD_DIR:-build}
OUT="$ROOT/$BUILD_DIR"
VAULT_BIN=${VAULT_BIN:-$OUT/vault}
CORPUS_BIN="$OUT/bench/search_corpus"

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=bench/pg_lib.sh
. "$BENCH/pg_lib.sh"

for tool in wrk curl; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
case $DATABASE in
sqlite) ;;
postgres) command -v psql >/dev/null || die "psql is not installed (needed for BENCH_DATABASE=postgres)" ;;
*) die "BENCH_DATABASE must be sqlite or postgres" ;;
esac
[[ $A_NOTES =~ ^[1-9][0-9]*$ ]] || die "BENCH_A_NOTES must be a positive whole number"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive whole number"
prev=-1
for step in $B_STEPS; do
	[[ $step =~ ^[0-9]+$ ]] && ((step > prev)) || die "BENCH_B_STEPS must be rising whole numbers"
	prev=$step
done
for mode in $MODES; do
	[[ $mode =~ ^(keyword|hybrid|semantic)$ ]] || die "BENCH_MODES: '$mode' is not a search mode"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vault-isolation.XXXXXX")
SERVER_PID=
SERVER_LOG="$TMP/server.log"
PG_BASE=
PG_SCHEMA="bench_isolation_$$"

cleanup() {
	local rc=$?
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
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

# --- build and seed A ---------------------------------------------------------

if [[ $BUILD == 1 ]]; then
	BENCH_ONLY_BUILD=1 BENCH_BUILD_DIR="$BUILD_DIR" "$BENCH/search.sh" # vault and search_corpus
fi
[[ -x $VAULT_BIN ]] || die "$VAULT_BIN not found; build it with make"
[[ -x $CORPUS_BIN ]] || die "$CORPUS_BIN not found; run with BENCH_BUILD=1"

if [[ $DATABASE == postgres ]]; then
	PG_BASE=$(pg_server_url) || die "no PostgreSQL server (scripts/pg start failed)"
	pg_create_schema "$PG_BASE" "$PG_SCHEMA"
	DB_URL=$(pg_schema_url "$PG_BASE" "$PG_SCHEMA")
else
	DB_URL="sqlite:///$TMP/vault.db"
fi

SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
((${#SECRET} == 64)) || die "could not make a 64-character SECRET_KEY"
PASSWORD="bench-${SECRET:0:24}"
EMAIL_A="bench-a-$$@example.com"
EMAIL_B="bench-b-$$@example.com"
VAULT_ENV=(ENVIRONMENT=production DEBUG=false HOST=127.0.0.1 PORT=0 DATABASE_ECHO=false
	DATABASE_URL="$DB_URL" SECRET_KEY="$SECRET" BCRYPT_ROUNDS=4 ACCESS_TOKEN_EXPIRE_MINUTES=600
	LOG_LEVEL=info LOG_FORMAT=json EMBEDDING_PROVIDER="$PROVIDER" LLM_PROVIDER=none)

# corpus EMAIL NOTES SEED [QUERIES_FILE NQUERIES]: adds NOTES notes to EMAIL.
corpus() {
	(cd "$TMP" && exec env "${VAULT_ENV[@]}" "$CORPUS_BIN" --notes "$2" "$1" "$PASSWORD" "${@:3}") ||
		die "seeding $2 notes for $1 failed"
}

log "seeding $A_NOTES notes for A"
corpus "$EMAIL_A" "$A_NOTES" 1 "$TMP/queries.txt" "$QUERIES" >"$TMP/seed-a.txt"

# --- server -------------------------------------------------------------------

json_int() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p" <<<"$2"; }

log "starting $VAULT_BIN serve"
(cd "$TMP" && exec env "${VAULT_ENV[@]}" "$VAULT_BIN" serve) >"$SERVER_LOG" 2>&1 </dev/null &
SERVER_PID=$!
PORT=
for _ in $(seq $((START_TIMEOUT * 10))); do
	kill -0 "$SERVER_PID" 2>/dev/null || die "server exited during start-up"
	line=$(grep -m1 '"event":"server_started"' "$SERVER_LOG" || true)
	if [[ -n $line ]]; then
		PORT=$(json_int port "$line")
		break
	fi
	sleep 0.1
done
[[ -n $PORT ]] || die "no server_started line with a port within ${START_TIMEOUT}s"
BASE="http://127.0.0.1:$PORT"

# login EMAIL: an access token.
login() {
	local token
	token=$(curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' \
		--data-binary "$(printf '{"email":"%s","password":"%s"}' "$1" "$PASSWORD")" \
		"$BASE/api/v1/auth/login" | sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
	[[ -n $token ]] || die "login of $1 returned no access_token"
	printf '%s\n' "$token"
}

# embedded TOKEN: waits until nothing of that user is pending.
embedded() {
	local status deadline=$(($(date +%s) + INDEX_TIMEOUT))
	while :; do
		status=$(curl -sS --fail-with-body -H "Authorization: Bearer $1" "$BASE/api/v1/index/status") ||
			die "index status failed: $status"
		(($(json_int pending "$status") == 0)) && break
		(($(date +%s) < deadline)) || die "not embedded within ${INDEX_TIMEOUT}s: $status"
		sleep 1
	done
	(($(json_int failed "$status") == 0)) || die "chunks failed to embed: $status"
}

TOKEN_A=$(login "$EMAIL_A")
t0=$(date +%s)
embedded "$TOKEN_A"
log "A's notes embedded in $(($(date +%s) - t0))s"

# A's note ids, for the control.
: >"$TMP/ids"
for ((skip = 0; skip < A_NOTES; skip += 100)); do
	curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN_A" \
		"$BASE/api/v1/notes?limit=100&skip=$skip" |
		grep -o '"id"[[:space:]]*:[[:space:]]*[0-9]*' | grep -o '[0-9]*$' >>"$TMP/ids"
done
(($(wc -l <"$TMP/ids") == A_NOTES)) || die "listed $(wc -l <"$TMP/ids") of A's note ids"
RUNS=$MODES
[[ $CONTROL == 1 ]] && RUNS="$MODES note"

# --- measure ------------------------------------------------------------------

: >"$TMP/results.tsv"
: >"$TMP/steps.tsv"
: >"$TMP/wrk.md"

# measure STEP MODE ROUND: one wrk run of A's searches in MODE, or of the
# control (MODE note).
measure() {
	local out script=search.lua
	[[ $2 == note ]] && script=get_note.lua
	export BENCH_TOKEN=$TOKEN_A BENCH_QUERIES_FILE="$TMP/queries.txt" BENCH_MODE=$2 \
		BENCH_TOP_K=$TOP_K BENCH_IDS_FILE="$TMP/ids"
	if [[ $WARMUP != 0 ]]; then
		wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" --timeout "$TIMEOUT" \
			-s "$BENCH/$script" "$BASE" >/dev/null || die "wrk warm-up failed"
	fi
	log "B at $1 notes: $2, round $3 (load $(cut -d' ' -f1-3 /proc/loadavg))"
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$TIMEOUT" --latency \
		-s "$BENCH/$script" "$BASE") || die "wrk failed"
	printf '### B at %s notes, %s, round %s\n\n```\n%s\n```\n\n' "$1" "$2" "$3" "$out" >>"$TMP/wrk.md"
	grep '^BENCH_RESULT ' <<<"$out" | sed "s|^BENCH_RESULT |$1\t$2\t$3\t|" >>"$TMP/results.tsv" ||
		die "no BENCH_RESULT line"
}

db_mib() {
	if [[ $DATABASE == postgres ]]; then
		pg_schema_mib "$PG_BASE" "$PG_SCHEMA"
	else
		du -cm "$TMP"/vault.db* | awk 'END { print $1 }'
	fi
}

have=0
seed=2
for step in $B_STEPS; do
	if ((step > have)); then
		log "adding $((step - have)) notes for B"
		t0=$(date +%s)
		corpus "$EMAIL_B" $((step - have)) "$seed" >"$TMP/seed-b-$step.txt"
		seed=$((seed + 1))
		have=$step
		embedded "$(login "$EMAIL_B")"
		log "B's notes added and embedded in $(($(date +%s) - t0))s"
	fi
	embedded "$TOKEN_A"
	printf '%s\t%s\t%s\n' "$step" "$(db_mib)" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$TMP/steps.tsv"
	for round in $(seq "$ROUNDS"); do
		for mode in $RUNS; do
			measure "$step" "$mode" "$round"
		done
	done
done

# --- report -------------------------------------------------------------------

field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
cores=$(grep -c '^processor' /proc/cpuinfo)
ram=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kernel="$(cat /proc/sys/kernel/ostype) $(cat /proc/sys/kernel/osrelease)"
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "unknown")
dirty=
[[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null || true) ]] &&
	dirty=", uncommitted changes"
a_chunks=$(sed -n 's/^chunks=//p' "$TMP/seed-a.txt")
failures=0

{
	printf '# vault isolation benchmark, %s\n\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf 'User A: %s notes (%s chunks); user B grows through %s notes. A'"'"'s searches only.\n\n' \
		"$A_NOTES" "$a_chunks" "${B_STEPS// /, }"
	first=${B_STEPS%% *}
	printf '| B'"'"'s notes | Run | Requests/s per round | Median req/s | vs B at %s | vs B at %s, by the control | p50 per round (ms) | p99 per round (ms) | Failed |\n' \
		"$first" "$first"
	printf '|---:|---|---:|---:|---:|---:|---:|---:|---:|\n'
	declare -A mean # the median of the rounds
	for mode in $RUNS; do
		for step in $B_STEPS; do
			mean[$step $mode]=$(awk -F'\t' -v s="$step" -v m="$mode" '$1 == s && $2 == m' "$TMP/results.tsv" |
				while IFS=$'\t' read -r _ _ _ rest; do field rps "$rest"; done | sort -g |
				awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
		done
	done
	for mode in $RUNS; do
		for step in $B_STEPS; do
			rounds=$(awk -F'\t' -v s="$step" -v m="$mode" '$1 == s && $2 == m' "$TMP/results.tsv")
			rps=$(while IFS=$'\t' read -r _ _ _ rest; do field rps "$rest"; done <<<"$rounds" | paste -sd' ')
			p50=$(while IFS=$'\t' read -r _ _ _ rest; do echo "$(ms "$(field p50_us "$rest")")"; done <<<"$rounds" | paste -sd'/')
			p99=$(while IFS=$'\t' read -r _ _ _ rest; do echo "$(ms "$(field p99_us "$rest")")"; done <<<"$rounds" | paste -sd'/')
			bad=$(while IFS=$'\t' read -r _ _ _ rest; do
				echo $(($(field non2xx "$rest") + $(field socket "$rest") + $(field timeout "$rest")))
			done <<<"$rounds" | awk '{ s += $1 } END { print s + 0 }')
			failures=$((failures + bad))
			ratio=$(awk -v a="${mean[$step $mode]}" -v b="${mean[$first $mode]}" 'BEGIN { printf "%.2f", a / b }')
			normal=-
			if [[ $CONTROL == 1 && $mode != note ]]; then
				normal=$(awk -v r="$ratio" -v a="${mean[$step note]}" -v b="${mean[$first note]}" \
					'BEGIN { printf "%.2f", r / (a / b) }')
			fi
			printf '| %s | %s | %s | %.0f | %s | %s | %s | %s | %s |\n' "$step" \
				"$([[ $mode == note ]] && echo "control: GET one note" || echo "$mode search")" \
				"${rps// /, }" "${mean[$step $mode]}" "$ratio" "$normal" "$p50" "$p99" "$bad"
		done
	done
	printf '\n| B'"'"'s notes | Database (MiB) | Load average before measuring (1, 5, 15 min) |\n|---:|---:|---|\n'
	while IFS=$'\t' read -r step mib load; do
		printf '| %s | %s | %s |\n' "$step" "$mib" "$load"
	done <"$TMP/steps.tsv"
	printf '\n| Machine | |\n|---|---|\n'
	printf '| CPU | %s, %s logical CPUs, %s RAM |\n' "$cpu" "$cores" "$ram"
	printf '| Kernel | %s |\n' "$kernel"
	if [[ $DATABASE == postgres ]]; then
		pg_settings "$PG_BASE" | while read -r k v; do printf '| %s | %s |\n' "$k" "$v"; done
	fi
	printf '\n| Run | |\n|---|---|\n'
	printf '| vault | %s%s, %s, EMBEDDING_PROVIDER=%s, JSON request log to a file |\n' "$commit" "$dirty" \
		"$([[ $DATABASE == postgres ]] && echo "PostgreSQL (schema $PG_SCHEMA, dropped after)" || echo SQLite)" \
		"$PROVIDER"
	printf '| wrk | -t%s -c%s -d%s --timeout %s, warm-up %s before each run; %s rounds, modes interleaved |\n' \
		"$THREADS" "$CONNECTIONS" "$DURATION" "$TIMEOUT" "$WARMUP" "$ROUNDS"
	printf '| Queries | %s from `search_corpus` (keywords, questions, misspelt words, exact titles), top_k %s |\n' \
		"$QUERIES" "$TOP_K"
} >"$TMP/report.md"

mkdir -p "$BENCH/results"
RESULT="$BENCH/results/isolation-$([[ $DATABASE == postgres ]] && echo postgres-)$(date -u +%Y%m%dT%H%M%SZ).md"
{
	cat "$TMP/report.md"
	printf '\n## wrk output\n\n'
	cat "$TMP/wrk.md"
} >"$RESULT"
cat "$TMP/report.md"
log "full results in ${RESULT#"$ROOT"/}"
if ((failures > 0)); then
	log "warning: $failures requests failed"
	exit 2
fi
