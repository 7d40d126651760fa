#!/usr/bin/env bash
# Times the worst Markdown shapes at the 1 MiB note limit through the
# renderer and the chunker (bench/markdown.c). Builds with `make` first.
set -euo pipefail
cd "$(dirname "$0")/.."
make -j"$(nproc)" >/dev/null
objs=(build/obj/src/services/{render,markdown,chunker}.o build/obj/src/core/{buf,mem,text}.o)
cc -O2 -std=c17 -D_GNU_SOURCE -Isrc -o build/bench_markdown bench/markdown.c "${objs[@]}" -lmd4c
build/bench_markdown
