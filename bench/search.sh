#!/usr/bin/env bash
# search.sh - search benchmark of `vault serve` on loopback.
#
# For each corpus size (chunks x dimensions) it seeds one user's notes with
# bench/search_corpus.c (the notes service in-process: chunking, FTS, pending
# chunks), starts the real server with the local embedder at that dimension,
# times the embedding worker until GET /api/v1/index/status reports nothing
# pending, then sends a few hundred varied queries per mode (hybrid, semantic,
# keyword) one after another over one connection with curl, and reads the
# server's resident memory from /proc. BENCH_DATABASE=postgres runs the same
# on PostgreSQL (a schema per size, dropped after) and also times the SQL of
# the store's vector search directly with psql for the same query vectors.
# Prints a Markdown report on stdout
# (progress goes to stderr) and keeps a copy under bench/results/.
# See bench/README.md.
#
# Backticks in printf formats below are Markdown code spans, not commands.
# shellcheck disable=SC2016
set -euo pipefail

# Settings (environment variables).
SIZES=${BENCH_SIZES:-10000x384 10000x1536 100000x384 100000x1536}
QUERIES=${BENCH_QUERIES:-300}       # measured queries per mode
WARMUP=${BENCH_WARMUP:-30}          # unrecorded queries per mode first (other ones)
TOP_K=${BENCH_TOP_K:-5}
BUILD=${BENCH_BUILD:-1}             # 0: use the existing binaries as they are
INDEX_TIMEOUT=${BENCH_INDEX_TIMEOUT:-1800} # seconds to wait for the index
START_TIMEOUT=${BENCH_START_TIMEOUT:-30}   # seconds to wait for server_started
POLL=${BENCH_POLL:-0.2}             # seconds between index status polls
DATABASE=${BENCH_DATABASE:-sqlite}  # sqlite or postgres

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
SRC=${VAULT_SRC:-$ROOT}              # source tree to build and measure
BUILD_DIR=${BENCH_BUILD_DIR:-build}  # make's BUILD, relative to SRC
OUT="$SRC/$BUILD_DIR"
VAULT_BIN=${VAULT_BIN:-$OUT/vault}
CORPUS_BIN="$OUT/bench/search_corpus"

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=bench/pg_lib.sh
. "$BENCH/pg_lib.sh"

command -v curl >/dev/null || die "curl is not installed"
case $DATABASE in
sqlite) ;;
postgres) command -v psql >/dev/null || die "psql is not installed (needed for BENCH_DATABASE=postgres)" ;;
*) die "BENCH_DATABASE must be sqlite or postgres" ;;
esac
[[ $QUERIES =~ ^[1-9][0-9]*$ ]] || die "BENCH_QUERIES must be a positive whole number"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number"
if ! [[ $TOP_K =~ ^[1-9][0-9]*$ ]] || ((TOP_K > 20)); then
	die "BENCH_TOP_K must be 1-20"
fi
for size in $SIZES; do
	[[ $size =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] ||
		die "BENCH_SIZES: '$size' is not CHUNKSxDIM (e.g. 10000x384)"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vault-search-bench.XXXXXX")
SERVER_PID=
SERVER_LOG=
PG_BASE=    # PostgreSQL: the server's URL, and the schemas made so far
PG_SCHEMAS=()

# Stops the server (SIGTERM, then SIGKILL after 10 s); quiet if none runs.
stop_server() {
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
	SERVER_PID=
}

cleanup() {
	local rc=$? schema
	stop_server
	if ((rc == 1)) && [[ -n $SERVER_LOG && -s $SERVER_LOG ]]; then
		log "last server log lines:"
		tail -n 20 "$SERVER_LOG" >&2 || true
	fi
	for schema in "${PG_SCHEMAS[@]}"; do
		pg_drop_schema "$PG_BASE" "$schema"
	done
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- build --------------------------------------------------------------------

if [[ $BUILD == 1 ]]; then
	log "building (make BUILD=$BUILD_DIR in $SRC)"
	make -C "$SRC" BUILD="$BUILD_DIR" all "$BUILD_DIR/bench/search_corpus" >&2
fi
[[ ${BENCH_ONLY_BUILD:-0} == 1 ]] && exit 0 # bench/pg_plans.sh: the tool only
[[ -x $VAULT_BIN ]] || die "$VAULT_BIN not found; build it with make"
[[ -x $CORPUS_BIN ]] || die "$CORPUS_BIN not found; run with BENCH_BUILD=1"
if [[ $DATABASE == postgres ]]; then
	PG_BASE=$(pg_server_url) || die "no PostgreSQL server (scripts/pg start failed)"
	# The server's plan: exact scan up to this many vectors of the user, HNSW past it.
	PG_EXACT_MAX=${VAULT_TEST_PG_EXACT_MAX:-$(sed -n 's/^#define EXACT_SCAN_MAX[[:space:]]*\([0-9]*\).*/\1/p' \
		"$SRC/src/store/store_pg.c")}
	[[ -n $PG_EXACT_MAX ]] || die "no EXACT_SCAN_MAX in src/store/store_pg.c"
fi

SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
((${#SECRET} == 64)) || die "could not make a 64-character SECRET_KEY"
EMAIL="bench-$$@example.com"
PASSWORD="bench-${SECRET:0:24}"
CREDS=$(printf '{"email":"%s","password":"%s"}' "$EMAIL" "$PASSWORD")

# Settings for both the seeding tool and the server (with DATABASE_URL and
# EMBEDDING_DIM per run); both run in their own directory, so a developer's
# ./.env cannot change what is measured.
VAULT_ENV=(ENVIRONMENT=production DEBUG=false HOST=127.0.0.1 PORT=0 DATABASE_ECHO=false
	SECRET_KEY="$SECRET" BCRYPT_ROUNDS=4 ACCESS_TOKEN_EXPIRE_MINUTES=240 LOG_LEVEL=info
	LOG_FORMAT=json EMBEDDING_PROVIDER=hash LLM_PROVIDER=none)

# --- helpers ------------------------------------------------------------------

now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", e - s }'; }
# proc_kib FIELD: a field of the server's /proc/PID/status, in KiB.
proc_kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
# cpu_seconds: user + system CPU time of the server so far.
cpu_seconds() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' \
		"/proc/$SERVER_PID/stat"
}
# json_int KEY JSON: an integer member, crudely but enough for our own answers.
json_int() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p" <<<"$2"; }

# urlencode TEXT: percent-encodes everything but unreserved characters.
urlencode() {
	local s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[a-zA-Z0-9.~_-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

# stats FILE: "p50 p99 max mean" in ms of the seconds (one a line) in FILE;
# percentiles by nearest rank.
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 * 1000; s += v[NR] }
		function rank(q,  r) { r = int(q * NR); if (r < q * NR) r++; return v[r < 1 ? 1 : r] }
		END { printf "%.2f %.2f %.2f %.2f", rank(0.50), rank(0.99), v[NR], s / NR }'
}

# curl_config BASE TOKEN MODE OUT: a curl config searching for each line of
# stdin in MODE, one request after another; bodies go to OUT-<n>.json
# (/dev/null if OUT is empty), status and seconds to stdout.
curl_config() {
	local base=$1 token=$2 mode=$3 out=$4 q i=0
	while IFS= read -r q; do
		i=$((i + 1))
		if ((i > 1)); then printf 'next\n'; fi
		printf 'url = "%s/api/v1/search?query=%s&mode=%s&top_k=%s"\n' \
			"$base" "$(urlencode "$q")" "$mode" "$TOP_K"
		printf 'header = "Authorization: Bearer %s"\n' "$token"
		if [[ -n $out ]]; then
			printf 'output = "%s-%d.json"\n' "$out" "$i"
		else
			printf 'output = "/dev/null"\n'
		fi
		printf 'write-out = "%%{http_code} %%{time_total}\\n"\n'
	done
}

# --- one corpus size ----------------------------------------------------------

: >"$TMP/summary.tsv"
: >"$TMP/latency.tsv"

# seed N [DIM]: a database with N chunks and the queries, made once per N
# (SQLite); on PostgreSQL, whose vector column has the dimension fixed at
# migration, a schema per N x DIM, its URL in PG_URL.
seed() {
	local n=$1 dim=${2:-384} dir="$TMP/corpus-$1" url
	if [[ $DATABASE == postgres ]]; then
		local schema="bench_search_$$_${n}x${dim}"
		pg_create_schema "$PG_BASE" "$schema"
		PG_SCHEMAS+=("$schema")
		PG_SCHEMA=$schema
		PG_URL=$(pg_schema_url "$PG_BASE" "$schema")
		url=$PG_URL
		dir="$TMP/corpus-${n}x$dim"
	else
		[[ -f $dir/vault.db ]] && return 0
		url="sqlite:///$dir/vault.db"
	fi
	mkdir -p "$dir"
	log "seeding $n chunks"
	(
		cd "$dir"
		exec env "${VAULT_ENV[@]}" DATABASE_URL="$url" EMBEDDING_DIM="$dim" \
			"$CORPUS_BIN" "$n" "$EMAIL" "$PASSWORD" "$dir/all-queries.txt" \
			$((WARMUP + QUERIES))
	) >"$dir/seed.txt" || die "seeding $n chunks failed"
	head -n "$WARMUP" "$dir/all-queries.txt" >"$dir/warmup.txt"
	tail -n +$((WARMUP + 1)) "$dir/all-queries.txt" >"$dir/queries.txt"
	log "seeded: $(tr '\n' ' ' <"$dir/seed.txt")"
}

# run_size N DIM
run_size() {
	local n=$1 dim=$2 corpus="$TMP/corpus-$1" run="$TMP/run-$1x$2" line port base token dburl
	mkdir -p "$run/out"
	if [[ $DATABASE == postgres ]]; then
		seed "$n" "$dim"
		corpus="$TMP/corpus-${n}x$dim"
		dburl=$PG_URL
	else
		seed "$n"
		cp "$corpus/vault.db" "$run/vault.db"
		dburl="sqlite:///$run/vault.db"
	fi
	SERVER_LOG="$run/server.log"

	log "$n x $dim: starting $VAULT_BIN serve (EMBEDDING_DIM=$dim)"
	local t0
	t0=$(now)
	(
		cd "$run"
		exec env "${VAULT_ENV[@]}" DATABASE_URL="$dburl" EMBEDDING_DIM="$dim" \
			"$VAULT_BIN" serve
	) >"$SERVER_LOG" 2>&1 </dev/null &
	SERVER_PID=$!

	port=
	for _ in $(seq $((START_TIMEOUT * 10))); do
		kill -0 "$SERVER_PID" 2>/dev/null || die "server exited during start-up"
		line=$(grep -m1 '"event":"server_started"' "$SERVER_LOG" || true)
		if [[ -n $line ]]; then
			port=$(json_int port "$line")
			break
		fi
		sleep 0.1
	done
	[[ -n $port ]] || die "no server_started line with a port within ${START_TIMEOUT}s"
	base="http://127.0.0.1:$port"
	token=$(curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' \
		--data-binary "$CREDS" "$base/api/v1/auth/login" |
		sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
	[[ -n $token ]] || die "login returned no access_token"

	# Index build: from the server's start until nothing is pending.
	local status pending ready failed deadline t_built
	deadline=$(($(date +%s) + INDEX_TIMEOUT))
	while :; do
		status=$(curl -sS --fail-with-body -H "Authorization: Bearer $token" \
			"$base/api/v1/index/status") || die "index status failed: $status"
		pending=$(json_int pending "$status")
		ready=$(json_int ready "$status")
		failed=$(json_int failed "$status")
		if ((pending == 0)); then
			t_built=$(now)
			break
		fi
		(($(date +%s) < deadline)) || die "index not built within ${INDEX_TIMEOUT}s: $status"
		sleep "$POLL"
	done
	((ready == n && failed == 0)) || die "index: $ready ready, $failed failed of $n chunks"
	local build_s cpu_build rss_built
	build_s=$(elapsed "$t0" "$t_built")
	cpu_build=$(cpu_seconds)
	rss_built=$(proc_kib VmRSS)
	log "$n x $dim: index built in ${build_s}s (server CPU ${cpu_build}s)"

	# The first search loads the user's vectors into the cache.
	local first rss_first
	first=$(curl -sS -o "$run/first.json" -w '%{http_code} %{time_total}' \
		-H "Authorization: Bearer $token" \
		"$base/api/v1/search?query=$(urlencode 'how do I bake sourdough bread')&top_k=$TOP_K")
	[[ ${first%% *} == 200 ]] || die "first search answered ${first%% *}: $(cat "$run/first.json")"
	first=$(awk -v s="${first#* }" 'BEGIN { printf "%.1f", s * 1000 }')
	rss_first=$(proc_kib VmRSS)

	# The queries, one after another over one connection, per mode: first
	# the warm-up ones, unrecorded, then the measured ones.
	local mode i codes bad hits
	for mode in hybrid semantic keyword; do
		if ((WARMUP > 0)); then
			curl_config "$base" "$token" "$mode" "" <"$corpus/warmup.txt" >"$run/warmup.curl"
			curl --no-progress-meter -K "$run/warmup.curl" >"$run/warmup.codes" ||
				die "curl failed for the $mode warm-up"
			bad=$(awk '$1 != 200' "$run/warmup.codes" | wc -l)
			((bad == 0)) || die "$mode: $bad warm-up queries failed"
		fi
		curl_config "$base" "$token" "$mode" "$run/out/$mode" <"$corpus/queries.txt" \
			>"$run/$mode.curl"
		i=$(wc -l <"$corpus/queries.txt")
		log "$n x $dim: $i $mode queries"
		curl --no-progress-meter -K "$run/$mode.curl" >"$run/$mode.times" ||
			die "curl failed for $mode"
		codes=$(awk '{ print $1 }' "$run/$mode.times" | sort | uniq -c | tr -s ' ')
		bad=$(awk '$1 != 200' "$run/$mode.times" | wc -l)
		((bad == 0)) || die "$mode: $bad queries failed (status counts:$codes)"
		awk '{ print $2 }' "$run/$mode.times" >"$run/$mode.secs"
		hits=$(cat "$run/out/$mode"-*.json | grep -o '"similarity":' | wc -l)
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$dim" "$mode" "$i" "$(stats "$run/$mode.secs")" \
			"$(awk -v h="$hits" -v q="$i" 'BEGIN { printf "%.1f", h / q }')" >>"$TMP/latency.tsv"
	done
	local rss_after hwm
	rss_after=$(proc_kib VmRSS)
	hwm=$(proc_kib VmHWM)

	# PostgreSQL: the store's own SQL for the same query vectors, straight
	# from psql, while the server idles.
	if [[ $DATABASE == postgres ]]; then
		raw_sql "$n" "$dim" "$corpus" "$run"
	fi

	# One new note: once it is embedded, the next search reloads the vectors.
	local created after_write again hwm_write
	created=$(curl -sS -o "$run/created.json" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		--data-binary '{"title":"One more note","content":"Fed the sourdough starter."}' \
		"$base/api/v1/notes")
	[[ $created == 201 ]] || die "creating a note answered $created: $(cat "$run/created.json")"
	deadline=$(($(date +%s) + 60))
	while :; do
		status=$(curl -sS --fail-with-body -H "Authorization: Bearer $token" \
			"$base/api/v1/index/status") || die "index status failed: $status"
		(($(json_int pending "$status") == 0 && $(json_int ready "$status") == n + 1)) && break
		(($(date +%s) < deadline)) || die "the new note was not embedded within 60s: $status"
		sleep "$POLL"
	done
	# The first search after the write, then the same again: the difference is what the
	# write cost the search (the query's vector is kept after the first).
	for k in 1 2; do
		again=$(curl -sS -o "$run/after-write.json" -w '%{http_code} %{time_total}' \
			-H "Authorization: Bearer $token" \
			"$base/api/v1/search?query=$(urlencode 'sourdough starter')&mode=semantic&top_k=$TOP_K")
		[[ ${again%% *} == 200 ]] || die "search after a write answered ${again%% *}"
		again=$(awk -v s="${again#* }" 'BEGIN { printf "%.1f", s * 1000 }')
		((k == 1)) && after_write=$again
	done
	hwm_write=$(proc_kib VmHWM)
	stop_server

	local notes db_mib
	if [[ $DATABASE == postgres ]]; then
		db_mib=$(pg_schema_mib "$PG_BASE" "$PG_SCHEMA")
		pg_drop_schema "$PG_BASE" "$PG_SCHEMA"
	else
		db_mib=$(du -cm "$run"/vault.db* | awk 'END { print $1 }')
	fi
	notes=$(sed -n 's/^notes=//p' "$corpus/seed.txt")
	printf '%s\t' "$n" "$dim" "$notes" "$build_s" "$cpu_build" "$db_mib" "$first" \
		"$after_write" "$again" "$(mib "$rss_built")" "$(mib "$rss_first")" "$(mib "$rss_after")" \
		"$(mib "$hwm")" >>"$TMP/summary.tsv"
	printf '%s\n' "$(mib "$hwm_write")" >>"$TMP/summary.tsv"
	grep vectors_cached "$SERVER_LOG" | sed "s/^/bench: server: /" >&2 || true
	rm -rf "$run"
}

# raw_sql N DIM CORPUS RUN: times Q_VECTOR_EXACT and Q_VECTOR_HNSW (as
# search_hnsw sets it up) with psql for the vectors of the measured queries,
# the server's semantic p50 beside them.
: >"$TMP/raw.tsv"
raw_sql() {
	local n=$1 dim=$2 corpus=$3 run=$4 user model ef fetch server plan
	(cd "$run" && env "${VAULT_ENV[@]}" DATABASE_URL="$PG_URL" EMBEDDING_DIM="$dim" \
		"$CORPUS_BIN" --embed "$corpus/queries.txt") >"$run/vecs.txt" || die "embedding the queries failed"
	user=$(pg_sql "$PG_URL" "SELECT id FROM users LIMIT 1")
	model=$(pg_sql "$PG_URL" "SELECT model FROM chunks WHERE model IS NOT NULL LIMIT 1")
	ef=$(pg_hnsw_ef "$PG_CANDIDATES")
	fetch=$((PG_CANDIDATES * PG_HNSW_FETCH_FACTOR))
	log "$n x $dim: raw SQL, exact"
	pg_raw "$PG_URL" exact "$user" "$model" "$dim" "$PG_CANDIDATES" 0 "$run/vecs.txt" "$run/raw-exact"
	log "$n x $dim: raw SQL, hnsw (ef_search $ef, limit $fetch)"
	pg_raw "$PG_URL" hnsw "$user" "$model" "$dim" "$fetch" "$ef" "$run/vecs.txt" "$run/raw-hnsw"
	server=$(awk -v n="$n" -v d="$dim" '$1 == n && $2 == d && $3 == "semantic" { split($5, s, " "); print s[1] }' \
		"$TMP/latency.tsv")
	plan=hnsw
	((n <= PG_EXACT_MAX)) && plan=exact
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$dim" "$server" "$plan" \
		"$(pg_stats_ms "$run/raw-exact.ms")" "$(pg_stats_ms "$run/raw-hnsw.ms")" \
		"$(pg_recall "$run/raw-exact.rows" "$run/raw-hnsw.rows" 10)" >>"$TMP/raw.tsv"
	mkdir -p "$BENCH/results"
	{
		printf '\n### %s x %s, exact\n\n```\n' "$n" "$dim"
		cat "$run/raw-exact.plan"
		printf '```\n\n### %s x %s, hnsw\n\n```\n' "$n" "$dim"
		cat "$run/raw-hnsw.plan"
		printf '```\n'
	} >>"$TMP/plans.md"
}

for size in $SIZES; do
	run_size "${size%x*}" "${size#*x}"
done

# --- report -------------------------------------------------------------------

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
[[ -n $cpu ]] || cpu=$(sed -n 's/^\(Hardware\|cpu model\|Model\)[[:space:]]*: //p' /proc/cpuinfo | head -n1)
cores=$(grep -c '^processor' /proc/cpuinfo)
online=$(nproc 2>/dev/null || echo "$cores")
ram=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kernel="$(cat /proc/sys/kernel/ostype) $(cat /proc/sys/kernel/osrelease)"
flags=$(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx2|fma|avx512f' | sort -u | tr '\n' ' ')
commit=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo "unknown")
dirty=
if [[ -n $(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null || true) ]]; then
	dirty=", uncommitted changes"
fi
version=$(cat "$SRC/VERSION" 2>/dev/null || echo "?")
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fs=$(df -T "$TMP" | awk 'NR == 2 { print $2 }')

{
	printf '# vault search benchmark, %s\n\n' "$stamp"
	printf '## Index build\n\n'
	printf '| Chunks × dim | Notes | Index build (s) | Chunks/s | Server CPU (s) | Database (MiB) |\n'
	printf '|---|---:|---:|---:|---:|---:|\n'
	while IFS=$'\t' read -r n dim notes build cpub db _; do
		printf '| %s × %s | %s | %s | %s | %s | %s |\n' "$n" "$dim" "$notes" "$build" \
			"$(awk -v n="$n" -v s="$build" 'BEGIN { printf "%.0f", n / s }')" "$cpub" "$db"
	done <"$TMP/summary.tsv"
	printf '\n## Vector cache and memory\n\n'
	printf '| Chunks × dim | First search (ms) | Search after one new note (ms) | The same again (ms) | RSS built (MiB) | RSS after first search (MiB) | RSS after all searches (MiB) | Peak RSS (MiB) | Peak RSS after the new note (MiB) |\n'
	printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
	while IFS=$'\t' read -r n dim _ _ _ _ first after again r1 r2 r3 hwm hwm2; do
		printf '| %s × %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$dim" "$first" \
			"$after" "$again" "$r1" "$r2" "$r3" "$hwm" "$hwm2"
	done <"$TMP/summary.tsv"
	printf '\n## Search latency (one client, sequential, top_k=%s)\n\n' "$TOP_K"
	printf '| Chunks × dim | Mode | Queries | p50 (ms) | p99 (ms) | Max (ms) | Mean (ms) | Results/query |\n'
	printf '|---|---|---:|---:|---:|---:|---:|---:|\n'
	while IFS=$'\t' read -r n dim mode q st hits; do
		read -r p50 p99 max mean <<<"$st"
		printf '| %s × %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$dim" "$mode" "$q" \
			"$p50" "$p99" "$max" "$mean" "$hits"
	done <"$TMP/latency.tsv"
	if [[ -s $TMP/raw.tsv ]]; then
		printf '\n## Raw SQL vs server (PostgreSQL)\n\n'
		printf 'The measured queries'"'"' vectors, the SQL of `store_pg.c` as a prepared statement over one psql connection (psql'"'"'s `\\timing`, the client'"'"'s round trip; HNSW: the query alone, without its BEGIN, SET LOCALs and COMMIT), ef_search and LIMIT as `search_hnsw` sets them for search.c'"'"'s %s candidates. The server uses the plan in the *server plan* column (exact up to EXACT_SCAN_MAX = %s vectors). recall@10: HNSW'"'"'s best 10 notes against the exact ones.\n\n' \
			"$PG_CANDIDATES" "$PG_EXACT_MAX"
		printf '| Chunks × dim | Server semantic p50 (ms) | Server plan | Exact SQL p50/p99 (ms) | HNSW SQL p50/p99 (ms) | HNSW recall@10 | Server p50 − its plan'"'"'s SQL p50 (ms) |\n'
		printf '|---|---:|---|---:|---:|---:|---:|\n'
		while IFS=$'\t' read -r n dim server plan ex hn rc; do
			read -r e50 e99 _ <<<"$ex"
			read -r h50 h99 _ <<<"$hn"
			raw=$e50
			[[ $plan == hnsw ]] && raw=$h50
			printf '| %s × %s | %s | %s | %s / %s | %s / %s | %s | %s |\n' "$n" "$dim" "$server" "$plan" \
				"$e50" "$e99" "$h50" "$h99" "${rc%% *}" \
				"$(awk -v a="$server" -v b="$raw" 'BEGIN { printf "%.2f", a - b }')"
		done <"$TMP/raw.tsv"
	fi
	printf '\n| Machine | |\n|---|---|\n'
	printf '| CPU | %s (%s) |\n' "$cpu" "${flags% }"
	printf '| Cores | %s (%s online for this process) |\n' "$cores" "$online"
	printf '| RAM | %s |\n' "$ram"
	printf '| Kernel | %s |\n' "$kernel"
	if [[ $DATABASE == postgres ]]; then
		pg_settings "$PG_BASE" | while read -r k v; do printf '| %s | %s |\n' "$k" "$v"; done
	else
		printf '| Database file system | %s |\n' "$fs"
	fi
	printf '\n| Run | |\n|---|---|\n'
	printf '| vault | %s (%s%s), `%s`, %s, JSON request log to a file |\n' \
		"$version" "$commit" "$dirty" "${VAULT_BIN#"$SRC"/}" \
		"$([[ $DATABASE == postgres ]] && echo "PostgreSQL (a fresh schema per size; RSS is the vault process only)" || echo SQLite)"
	printf '| Embedder | hashing (`EMBEDDING_PROVIDER=hash`), EMBEDDING_DIM as in the table, EMBED_BATCH_SIZE default |\n'
	printf '| Corpus | one user; synthetic notes from 24 topics (see `bench/search_corpus.c`) |\n'
	printf '| Queries | %s per mode after %s unrecorded ones, the same sets for each mode: keywords, questions, misspelt/inflected words, exact titles |\n' "$QUERIES" "$WARMUP"
	printf '| Client | curl, sequential over one keep-alive connection, loopback |\n'
} >"$TMP/report.md"

mkdir -p "$BENCH/results"
RESULT="$BENCH/results/search-$([[ $DATABASE == postgres ]] && echo postgres-)$(date -u +%Y%m%dT%H%M%SZ).md"
cp "$TMP/report.md" "$RESULT"
if [[ -s $TMP/plans.md ]]; then
	printf '\n## Plans of the raw SQL (EXPLAIN ANALYZE of the first query)\n' >>"$RESULT"
	cat "$TMP/plans.md" >>"$RESULT"
fi
cat "$TMP/report.md"
log "results in ${RESULT#"$ROOT"/}"
