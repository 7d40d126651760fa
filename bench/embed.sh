#!/usr/bin/env bash
# embed.sh - speed and memory of the local embedder (EMBEDDING_PROVIDER=local).
#
# Builds vault and bench/embed_speed.c (linked with the server's objects),
# fetches the model if missing, and runs embed_speed on eval/notes.jsonl in a
# temporary directory (so a developer's .env cannot change the run): the
# cores' measured arithmetic limit, the model's load time and memory, chunks
# of ~200 pieces a second on one core and on all, a 10-word query's latency,
# and 2,000 notes through the worker. The machine and its load average
# before and after go with the report, since other jobs on a shared machine
# slow every number down. Prints Markdown on stdout and keeps a copy under
# bench/results/. See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BENCH_BUILD_DIR:-build}
OUT="$ROOT/$BUILD_DIR"
BIN="$OUT/bench/embed_speed"
MODEL_DIR=${EMBEDDING_MODEL_DIR:-$ROOT/data/models/use-lite-v1}

log() { printf 'bench: %s\n' "$*" >&2; }

log "building (make BUILD=$BUILD_DIR)"
make -C "$ROOT" BUILD="$BUILD_DIR" -j"$(nproc)" all "$BUILD_DIR/bench/embed_speed" >/dev/null
"$ROOT/scripts/fetch-model" "$MODEL_DIR"
TMP=$(mktemp -d /tmp/vault-bench-embed.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$ROOT/bench/results"
report="$ROOT/bench/results/embed-$(date -u +%Y%m%dT%H%M%SZ).md"
{
	printf '## Local embedder: %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf '| Machine | %s, %s CPUs, %s |\n|---|---|\n' \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" "$(nproc)" \
		"$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)"
	printf '| OpenBLAS | %s |\n' "$(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?')"
	printf '| Load average before | %s |\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	(cd "$TMP" && env -i PATH="$PATH" EMBEDDING_MODEL_DIR="$MODEL_DIR" "$BIN" "$ROOT/eval/notes.jsonl")
	printf '\nLoad average after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$report"
log "report kept in $report"
