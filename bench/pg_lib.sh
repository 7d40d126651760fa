# pg_lib.sh - PostgreSQL helpers for the benchmarks; sourced by http.sh,
# search.sh and pg_plans.sh (needs ROOT, log and die from the caller).
#
# Every run works in a schema of its own (the URL's search_path), created
# here and dropped by the caller's clean-up, so a shared server (scripts/pg,
# also used by the tests) keeps nothing of it. See bench/README.md.
# shellcheck shell=bash
# shellcheck disable=SC2016,SC2034 # SQL with $n parameters; constants used by the callers

# The SQL of store_pg.c's vector search, copied from its query table
# (Q_VECTOR_EXACT, Q_VECTOR_HNSW); keep them in step with it. $1 user_id,
# $2 model, $3 dim, $4 the query vector, $5 the limit.
PG_VECTOR_EXACT_SQL='SELECT note_id, id, 1 - d FROM (SELECT DISTINCT ON (note_id) note_id, id, embedding <=> $4::vector AS d FROM chunks WHERE user_id = $1::bigint AND model = $2::text AND dim = $3::integer AND embedding IS NOT NULL ORDER BY note_id, d, id) best ORDER BY d, note_id LIMIT $5::bigint'
PG_VECTOR_HNSW_SQL='SELECT note_id, id, embedding <=> $4::vector AS d FROM chunks WHERE user_id + 0 = $1::bigint AND model = $2::text AND dim = $3::integer ORDER BY embedding <=> $4::vector LIMIT $5::bigint'
# search.c asks every vector search for CANDIDATES_MAX notes; search_hnsw
# fetches HNSW_FETCH_FACTOR times as many chunks with ef_search the same,
# clamped to [HNSW_EF_MIN, HNSW_EF_MAX].
PG_CANDIDATES=200
PG_HNSW_FETCH_FACTOR=4
PG_HNSW_EF_MIN=40
PG_HNSW_EF_MAX=1000
# Q_HNSW_SETTINGS: how far the iterative scan may walk (HNSW_MAX_SCAN_TUPLES).
PG_HNSW_MAX_SCAN_TUPLES=$(sed -n 's/^#define HNSW_MAX_SCAN_TUPLES[[:space:]]*\([0-9]*\).*/\1/p' \
	"$ROOT/src/store/store_pg.c" 2>/dev/null)
PG_HNSW_MAX_SCAN_TUPLES=${PG_HNSW_MAX_SCAN_TUPLES:-20000}

# pg_server_url: BENCH_PG_URL, or the throwaway server of scripts/pg (started if needed).
pg_server_url() {
	if [[ -n ${BENCH_PG_URL:-} ]]; then
		printf '%s\n' "$BENCH_PG_URL"
	else
		"$ROOT/scripts/pg" start
	fi
}

# pg_schema_url URL SCHEMA: URL with search_path SCHEMA,public.
pg_schema_url() {
	local sep='?'
	[[ $1 == *\?* ]] && sep='&'
	printf '%s%soptions=-csearch_path%%3D%s,public\n' "$1" "$sep" "$2"
}

# pg_sql URL SQL: runs SQL, prints the rows unaligned (| between columns).
pg_sql() {
	psql -X -q -v ON_ERROR_STOP=1 -At "$1" -c "$2"
}

# pg_create_schema URL SCHEMA: pgvector in public (once per database) and an empty SCHEMA.
pg_create_schema() {
	pg_sql "$1" "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public" >/dev/null 2>&1 ||
		pg_sql "$1" "SELECT 1 FROM pg_extension WHERE extname = 'vector'" | grep -q 1 ||
		die "cannot create the vector extension"
	pg_sql "$1" "DROP SCHEMA IF EXISTS $2 CASCADE; CREATE SCHEMA $2" >/dev/null ||
		die "cannot create schema $2"
}

pg_drop_schema() {
	pg_sql "$1" "DROP SCHEMA IF EXISTS $2 CASCADE" >/dev/null 2>&1 || true
}

# pg_schema_mib URL SCHEMA: tables, TOAST and indexes of SCHEMA in MiB.
pg_schema_mib() {
	pg_sql "$1" "SELECT round(coalesce(sum(pg_total_relation_size(c.oid)), 0) / 1048576.0)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = '$2' AND c.relkind = 'r'"
}

# pg_settings URL: the server settings that matter here, one "name value" a line.
pg_settings() {
	pg_sql "$1" "SELECT 'PostgreSQL', current_setting('server_version')
		UNION ALL SELECT 'pgvector', extversion FROM pg_extension WHERE extname = 'vector'
		UNION ALL SELECT name, current_setting(name) FROM pg_settings WHERE name IN
		('shared_buffers', 'work_mem', 'maintenance_work_mem', 'effective_cache_size',
		 'max_parallel_workers_per_gather', 'jit', 'synchronous_commit', 'fsync',
		 'random_page_cost', 'max_connections')" | tr '|' ' '
}

# pg_hnsw_ef LIMIT: the ef_search search_hnsw sets for a search of LIMIT notes.
pg_hnsw_ef() {
	local ef=$(($1 * PG_HNSW_FETCH_FACTOR))
	((ef < PG_HNSW_EF_MIN)) && ef=$PG_HNSW_EF_MIN
	((ef > PG_HNSW_EF_MAX)) && ef=$PG_HNSW_EF_MAX
	printf '%s\n' "$ef"
}

# pg_raw URL PLAN USER MODEL DIM LIMIT EF VECFILE OUT: runs the store's
# query for each vector of VECFILE (pgvector literals, one a line) as a
# prepared statement over one psql connection, as the server's pool does:
# PLAN exact (Q_VECTOR_EXACT, LIMIT notes) or hnsw (Q_VECTOR_HNSW in a
# transaction with iterative_scan relaxed_order and ef_search EF, LIMIT
# chunks; Q_HNSW_SETTINGS as store_pg.c sets them: enable_sort off, so the
# planner takes the HNSW index, and hnsw.max_scan_tuples). Writes OUT.ms (psql's \timing of the query alone: the client's
# round trip, no BEGIN/SET/COMMIT), OUT.rows (note_id|chunk_id|value rows,
# "---" after each query) and OUT.plan (EXPLAIN ANALYZE of the first query,
# after all of them: the plan the statement has settled on, generic or not).
# PLAN hnsw-planner: hnsw without enable_sort off and max_scan_tuples,
# the planner's own choice (what store_pg.c did before it forced the index).
pg_raw() {
	local url=$1 plan=$2 user=$3 model=$4 dim=$5 limit=$6 ef=$7 vecs=$8 out=$9 sql pre post
	if [[ $plan == exact ]]; then
		sql=$PG_VECTOR_EXACT_SQL pre='' post=''
	else
		sql=$PG_VECTOR_HNSW_SQL
		pre="BEGIN; SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL hnsw.ef_search = $ef;"
		[[ $plan == hnsw ]] &&
			pre+=" SET LOCAL hnsw.max_scan_tuples = $PG_HNSW_MAX_SCAN_TUPLES; SET LOCAL enable_sort = off;"
		post='COMMIT;'
	fi
	{
		printf '\\set ON_ERROR_STOP 1\n\\pset tuples_only on\n\\pset format unaligned\n'
		printf 'PREPARE q(bigint, text, integer, vector, bigint) AS %s;\n' "$sql"
		printf '\\o %s.rows\n' "$out"
		awk -v u="$user" -v m="$model" -v d="$dim" -v l="$limit" -v pre="$pre" -v post="$post" '{
			printf "%s\n\\timing on\nEXECUTE q(%s, '\''%s'\'', %s, '\''%s'\'', %s);\n\\timing off\n%s\n\\qecho ---\n",
				pre, u, m, d, $0, l, post }' "$vecs"
		printf '\\o %s.plan\n' "$out"
		head -n1 "$vecs" | awk -v u="$user" -v m="$model" -v d="$dim" -v l="$limit" -v pre="$pre" -v post="$post" '{
			printf "%s\nEXPLAIN (ANALYZE, BUFFERS) EXECUTE q(%s, '\''%s'\'', %s, '\''%s'\'', %s);\n%s\n",
				pre, u, m, d, $0, l, post }'
	} | psql -X -q "$url" 2>"$out.err" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' >"$out.ms"
	[[ -s $out.err ]] && die "psql ($plan): $(head -n 3 "$out.err")"
	(($(wc -l <"$out.ms") == $(wc -l <"$vecs"))) || die "psql ($plan): $(wc -l <"$out.ms") timings for $(wc -l <"$vecs") queries"
}

# pg_scan PLANFILE: the scan node of an EXPLAIN: the HNSW index or what instead.
pg_scan() {
	grep -o -m1 -E 'Index Scan using [a-z_]+|Index Only Scan using [a-z_]+|Parallel Seq Scan|Seq Scan|Bitmap Heap Scan' "$1" ||
		echo '?'
}

# pg_stats_ms FILE: "p50 p99 mean" of the milliseconds (one a line) in FILE,
# percentiles by nearest rank.
pg_stats_ms() {
	sort -g "$1" | awk '{ v[NR] = $1; s += $1 }
		function rank(q,  r) { r = int(q * NR); if (r < q * NR) r++; return v[r < 1 ? 1 : r] }
		END { printf "%.2f %.2f %.2f", rank(0.50), rank(0.99), s / NR }'
}

# pg_recall EXACT.rows APPROX.rows K: mean recall@K of the approximate
# plan's best K notes (each note at its best chunk, as search_hnsw keeps
# them) against the exact plan's, and the mean number of notes it found
# (capped at K); "recall found".
pg_recall() {
	local k=$3
	# query number, note, distance (similarity for the exact rows), sorted best first
	awk -F'|' '$0 == "---" { q++; next } NF >= 3 { print q + 0, $1, $3 }' "$2" |
		sort -k1,1n -k3,3g -k2,2n >"$2.sorted"
	awk -F'|' '$0 == "---" { q++; next } NF >= 3 { print q + 0, $1 }' "$1" >"$1.notes"
	awk -v k="$k" '
		FNR == 1 { f++ }
		f == 1 { if (++ne[$1] <= k) want[$1, $2] = 1; if ($1 + 1 > nq) nq = $1 + 1; next }
		!(($1, $2) in seen) { seen[$1, $2] = 1; if (++na[$1] <= k && (($1, $2) in want)) hit[$1]++ }
		END {
			for (i = 0; i < nq; i++) {
				n = ne[i] < k ? ne[i] : k; if (n == 0) continue
				r += hit[i] / n; fsum += (na[i] < k ? na[i] : k); c++
			}
			printf "%.3f %.1f", c ? r / c : 0, c ? fsum / c : 0
		}' "$1.notes" "$2.sorted"
}
