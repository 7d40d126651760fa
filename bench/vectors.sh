#!/usr/bin/env bash
# vectors.sh - vector search of the SQLite store on the pgvector anchor's
# vector sets (../shared/anchors/pgvector_hnsw/gen.py), through
# store_vector_search as the server calls it. See bench/README.md.
#
# For each set it runs build/bench/vectors (bench/vectors.c), which loads
# the set into a SQLite database under BENCH_DB_DIR through the store's own
# calls (kept there: the next run reuses it) and prints recall@10 against
# gen.py's ground truth, p50/p99 latency and the cache's bytes per vector.
# Prints a Markdown table on stdout, progress on stderr.
set -euo pipefail

DATA=${BENCH_DATA:-/var/tmp/anchors}          # gen.py --out
DB_DIR=${BENCH_DB_DIR:-/var/tmp/vault-vectors} # the loaded databases
SETS=${BENCH_SETS:-100000x384 100000x1536 100000x384/per-user}
BUILD=${BENCH_BUILD:-1} # 0: use build/bench/vectors as it is

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/build/bench/vectors"

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

if [[ $BUILD == 1 ]]; then
	log "building build/bench/vectors"
	make -C "$ROOT" -j2 build/bench/vectors >&2
fi
[[ -x $BIN ]] || die "$BIN not found; run with BENCH_BUILD=1"
mkdir -p "$DB_DIR"

printf '| set | recall@10 | p50 ms | p99 ms | mean ms | CPU ms a query | bytes per vector |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for set in $SETS; do
	size=${set%%/*}
	n=${size%x*} dim=${size#*x}
	[[ $n =~ ^[0-9]+$ && $dim =~ ^[0-9]+$ ]] || die "bad set $set (want NxDIM or NxDIM/per-user)"
	args=() db="$DB_DIR/${size}.db"
	if [[ $set == */per-user ]]; then
		args=(--per-user) db="$DB_DIR/${size}-per-user.db"
	fi
	for f in "base_${size}.f32" "query_1000x${dim}.f32" "gt_${size}.i32" "user_gt_${size}.i32"; do
		[[ -f $DATA/$f ]] || die "$DATA/$f missing: run gen.py --out $DATA --sets $size"
	done
	[[ -f $db ]] || log "$set: loading into $db (a few minutes; reused next time)"
	out=$("$BIN" "$db" "$DATA" "$n" "$dim" "${args[@]}") || die "$set: bench/vectors failed"
	val() { sed -n "s/^$1=//p" <<<"$out"; }
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$set" "$(val recall_at_10)" "$(val p50_ms)" \
		"$(val p99_ms)" "$(val mean_ms)" "$(val cpu_ms_per_query)" "$(val bytes_per_vector)"
done
printf '\nMachine: %s, %s CPUs, load %s\n' \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" "$(nproc)" \
	"$(cut -d' ' -f1-3 /proc/loadavg)"
