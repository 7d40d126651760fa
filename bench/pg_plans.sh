#!/usr/bin/env bash
# pg_plans.sh - the two plans of store_pg.c's vector search, side by side,
# per size of a user's vault, in a table shared with other users.
#
# Loads one chunks table (the columns and indexes store_pg.c's queries use)
# with BENCH_PLAN_OTHERS users of BENCH_PLAN_OTHER_ROWS chunks each, plus one
# user per size of BENCH_PLAN_SIZES; every chunk is a synthetic note of
# bench/search_corpus.c embedded with the local embedder (each user its own
# corpus). Builds the HNSW index as the migration defines it, then for each
# measured user runs BENCH_PLAN_QUERIES queries with each plan as prepared
# statements over one psql connection, timed with \timing:
#   exact      Q_VECTOR_EXACT, the user's rows through chunks_user;
#   hnsw       Q_VECTOR_HNSW after Q_HNSW_SETTINGS as search_hnsw sets
#              them: iterative scan relaxed_order, hnsw.max_scan_tuples,
#              enable_sort off (the HNSW index, not a scan and a sort),
#              ef_search and LIMIT for search.c's 200 candidates (800, 800);
#   hnsw-k10   the same with what a search of 10 notes would set (40, 40);
#   planner    hnsw's query and ef/LIMIT without enable_sort off and
#              max_scan_tuples: the planner's own choice.
# Each row names the scan the plan settled on (EXPLAIN after the run).
# recall@10: the approximate plan's best 10 notes against the exact plan's.
# Prints a Markdown report on stdout and keeps a copy under bench/results/.
# See bench/README.md.
#
# shellcheck disable=SC2016
set -euo pipefail

SIZES=${BENCH_PLAN_SIZES:-1000 5000 10000 20000 50000}
OTHERS=${BENCH_PLAN_OTHERS:-100}
OTHER_ROWS=${BENCH_PLAN_OTHER_ROWS:-1000}
QUERIES=${BENCH_PLAN_QUERIES:-100}
DIM=${BENCH_PLAN_DIM:-384}
BUILD=${BENCH_BUILD:-1}
K=10

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
BUILD_DIR=${BENCH_BUILD_DIR:-build}
CORPUS_BIN="$ROOT/$BUILD_DIR/bench/search_corpus"

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}
# shellcheck source=bench/pg_lib.sh
. "$BENCH/pg_lib.sh"

command -v psql >/dev/null || die "psql is not installed"
for n in $SIZES; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "BENCH_PLAN_SIZES: '$n' is not a count"; done

if [[ $BUILD == 1 ]]; then
	BENCH_SIZES=1x1 BENCH_ONLY_BUILD=1 BENCH_BUILD_DIR=$BUILD_DIR "$BENCH/search.sh" >&2
fi
[[ -x $CORPUS_BIN ]] || die "$CORPUS_BIN not found; run with BENCH_BUILD=1"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vault-plans-bench.XXXXXX")
SCHEMA="bench_plans_$$"
BASE_URL=
cleanup() {
	local rc=$?
	[[ -n $BASE_URL ]] && pg_drop_schema "$BASE_URL" "$SCHEMA"
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BASE_URL=$(pg_server_url) || die "no PostgreSQL server"
pg_create_schema "$BASE_URL" "$SCHEMA"
URL=$(pg_schema_url "$BASE_URL" "$SCHEMA")
MODEL=bench

# The same columns and indexes as pg_migrations.c's chunks, minus what the queries do not read.
pg_sql "$URL" "CREATE TABLE chunks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	note_id bigint NOT NULL, user_id bigint NOT NULL, status smallint NOT NULL DEFAULT 1,
	dim integer DEFAULT $DIM, model text DEFAULT '$MODEL', embedding vector($DIM))" >/dev/null

CORPUS_ENV=(ENVIRONMENT=development SECRET_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	EMBEDDING_PROVIDER=hash EMBEDDING_DIM="$DIM" LLM_PROVIDER=none LOG_LEVEL=warning
	DATABASE_URL="sqlite:///$TMP/unused.db")

# Users: 1..OTHERS the others; OTHERS+i the i-th measured size. Interleaved
# by chunks, so no user's rows sit together in the heap (as after months of use).
total=$((OTHERS * OTHER_ROWS))
for n in $SIZES; do total=$((total + n)); done
log "loading $total chunks of ${DIM} floats ($OTHERS users x $OTHER_ROWS, and $SIZES)"
t0=$(date +%s.%N)
{
	for ((u = 1; u <= OTHERS; u++)); do
		(cd "$TMP" && env "${CORPUS_ENV[@]}" "$CORPUS_BIN" --vectors "$OTHER_ROWS" "$u" "$u")
	done
	u=$OTHERS
	for n in $SIZES; do
		u=$((u + 1))
		(cd "$TMP" && env "${CORPUS_ENV[@]}" "$CORPUS_BIN" --vectors "$n" "$u" "$u" \
			"$TMP/queries-$u.txt" "$QUERIES")
	done
} | awk -F'\t' 'BEGIN { srand(1) } { printf "%.9f\t%s\t%d\t%s\n", rand(), $1, $1 * 1000000 + $2, $3 }' |
	sort -k1,1 -S 25% -T "$TMP" | cut -f2- |
	psql -X -q -v ON_ERROR_STOP=1 "$URL" -c '\copy chunks (user_id, note_id, embedding) FROM STDIN' ||
	die "loading failed"
t1=$(date +%s.%N)
log "loaded in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')s; building indexes"
pg_sql "$URL" "CREATE INDEX chunks_user ON chunks (user_id, model, dim, note_id) INCLUDE (status)" >/dev/null
t2=$(date +%s.%N)
# The migration's index, built after the load with room for the graph in memory (session only).
pg_sql "$URL" "SET maintenance_work_mem = '2GB';
	CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops)" >/dev/null
t3=$(date +%s.%N)
pg_sql "$URL" "VACUUM ANALYZE chunks" >/dev/null
hnsw_s=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.0f", b - a }')
log "HNSW index built in ${hnsw_s}s"
table_mib=$(pg_schema_mib "$BASE_URL" "$SCHEMA")

EXACT_MAX=$(sed -n 's/^#define EXACT_SCAN_MAX[[:space:]]*\([0-9]*\).*/\1/p' "$ROOT/src/store/store_pg.c")
[[ -n $EXACT_MAX ]] || die "no EXACT_SCAN_MAX in src/store/store_pg.c"
: >"$TMP/count.tsv"
EF_SERVER=$(pg_hnsw_ef "$PG_CANDIDATES")
FETCH_SERVER=$((PG_CANDIDATES * PG_HNSW_FETCH_FACTOR))
EF_K=$(pg_hnsw_ef "$K")
FETCH_K=$((K * PG_HNSW_FETCH_FACTOR))

: >"$TMP/rows.tsv"
u=$OTHERS
for n in $SIZES; do
	u=$((u + 1))
	(cd "$TMP" && env "${CORPUS_ENV[@]}" "$CORPUS_BIN" --embed "$TMP/queries-$u.txt") >"$TMP/vecs-$u.txt" ||
		die "embedding the queries failed"
	rows=$(pg_sql "$URL" "SELECT count(*) FROM chunks WHERE user_id = $u")
	# Q_VECTORS_COUNT, which every search runs first: its execution time, best of 5.
	cnt_ms=$(for _ in 1 2 3 4 5; do
		pg_sql "$URL" "EXPLAIN (ANALYZE) SELECT count(*) FROM (SELECT 1 FROM chunks WHERE user_id = $u
			AND model = '$MODEL' AND dim = $DIM LIMIT $((EXACT_MAX + 1))) t" |
			sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p'
	done | sort -g | head -n1)
	printf '%s\t%s\n' "$rows" "$cnt_ms" >>"$TMP/count.tsv"
	log "user $u ($rows chunks): exact"
	pg_raw "$URL" exact "$u" "$MODEL" "$DIM" "$PG_CANDIDATES" 0 "$TMP/vecs-$u.txt" "$TMP/exact-$u"
	log "user $u: hnsw ef_search $EF_SERVER limit $FETCH_SERVER"
	pg_raw "$URL" hnsw "$u" "$MODEL" "$DIM" "$FETCH_SERVER" "$EF_SERVER" "$TMP/vecs-$u.txt" "$TMP/hnsw-$u"
	log "user $u: hnsw ef_search $EF_K limit $FETCH_K"
	pg_raw "$URL" hnsw "$u" "$MODEL" "$DIM" "$FETCH_K" "$EF_K" "$TMP/vecs-$u.txt" "$TMP/hnswk-$u"
	log "user $u: planner's choice, ef_search $EF_SERVER limit $FETCH_SERVER"
	pg_raw "$URL" hnsw-planner "$u" "$MODEL" "$DIM" "$FETCH_SERVER" "$EF_SERVER" "$TMP/vecs-$u.txt" "$TMP/planner-$u"
	printf '%s\t%s\texact\t%s\t%s\t1.000 %s\n' "$u" "$rows" "$(pg_scan "$TMP/exact-$u.plan")" \
		"$(pg_stats_ms "$TMP/exact-$u.ms")" \
		"$(pg_recall "$TMP/exact-$u.rows" "$TMP/exact-$u.rows" "$K" | cut -d' ' -f2)" >>"$TMP/rows.tsv"
	for p in hnsw hnswk planner; do
		case $p in
		hnsw) label="hnsw as search_hnsw runs it (ef $EF_SERVER, limit $FETCH_SERVER, max_scan_tuples $PG_HNSW_MAX_SCAN_TUPLES)" ;;
		hnswk) label="hnsw, ef $EF_K, limit $FETCH_K (max_scan_tuples $PG_HNSW_MAX_SCAN_TUPLES)" ;;
		planner) label="hnsw query, planner's choice (ef $EF_SERVER, limit $FETCH_SERVER, max_scan_tuples default)" ;;
		esac
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$u" "$rows" "$label" "$(pg_scan "$TMP/$p-$u.plan")" \
			"$(pg_stats_ms "$TMP/$p-$u.ms")" \
			"$(pg_recall "$TMP/exact-$u.rows" "$TMP/$p-$u.rows" "$K")" >>"$TMP/rows.tsv"
	done
	for p in exact hnsw hnswk planner; do
		{ printf '\n### user %s (%s chunks), %s\n\n```\n' "$u" "$rows" "$p"; cat "$TMP/$p-$u.plan"; printf '```\n'; } >>"$TMP/plans.md"
	done
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
	printf '# vault PostgreSQL vector plans, %s\n\n' "$stamp"
	printf 'One table: %s users x %s chunks and one user per size below, %s-d, local embedder, %s MiB with indexes; HNSW (m 16, ef_construction 64) built in %s s. %s queries per user, one psql connection, prepared statements; times are psql'"'"'s `\\timing` (client round trip). recall@%s against the exact plan; *notes* = mean notes found of %s.\n\n' \
		"$OTHERS" "$OTHER_ROWS" "$DIM" "$table_mib" "$hnsw_s" "$QUERIES" "$K" "$K"
	printf '| User chunks | Plan | Scan (EXPLAIN) | p50 (ms) | p99 (ms) | Mean (ms) | recall@%s | notes |\n|---:|---|---|---:|---:|---:|---:|---:|\n' "$K"
	while IFS=$'\t' read -r _ rows plan scan st rc; do
		read -r p50 p99 mean <<<"$st"
		read -r rec found <<<"$rc"
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$rows" "$plan" "$scan" "$p50" "$p99" "$mean" "$rec" "$found"
	done <"$TMP/rows.tsv"
	printf '\nQ_VECTORS_COUNT (LIMIT EXACT_SCAN_MAX + 1 = %s), which precedes every search: execution time (EXPLAIN ANALYZE, best of 5)\n\n| User chunks | count (ms) |\n|---:|---:|\n' "$((EXACT_MAX + 1))"
	while IFS=$'\t' read -r rows ms; do printf '| %s | %s |\n' "$rows" "$ms"; done <"$TMP/count.tsv"
	printf '\n| Machine | |\n|---|---|\n| CPU | %s, %s online |\n| RAM | %s |\n| Kernel | %s |\n' "$cpu" "$(nproc)" \
		"$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" "$(uname -r)"
	printf '\n| Server | |\n|---|---|\n'
	pg_settings "$URL" | while read -r k v; do printf '| %s | %s |\n' "$k" "$v"; done
} >"$TMP/report.md"

mkdir -p "$BENCH/results"
RESULT="$BENCH/results/pg-plans-$(date -u +%Y%m%dT%H%M%SZ).md"
{
	cat "$TMP/report.md"
	printf '\n## Plans (EXPLAIN ANALYZE of the first query)\n'
	cat "$TMP/plans.md"
} >"$RESULT"
cat "$TMP/report.md"
log "results in ${RESULT#"$ROOT"/}"
