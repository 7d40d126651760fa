#!/usr/bin/env bash
# Times `vault import` of a generated Obsidian-like vault: BENCH_NOTES (10,000)
# Markdown notes in 100 folders, each with front matter (title, tags, a date),
# a heading, inline #tags, ~1 KB of text and three [[wikilinks]] (one
# unresolved) and every tenth with an ![[embed]]. The notes are imported, not
# embedded: no server or worker runs, so their chunks wait as pending. Then
# times a second import of the same folder (nothing changes), and one after
# 100 files changed.
#
#   bench/import.sh                          SQLite in a temporary folder
#   BENCH_DATABASE=postgres bench/import.sh  PostgreSQL from scripts/pg start
#
# Prints the machine, its load and the three times. Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
make -j"$(nproc)" build/vault >/dev/null

notes=${BENCH_NOTES:-10000}
tmp=$(mktemp -d /tmp/vault-bench-import.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if [ "${BENCH_DATABASE:-sqlite}" = postgres ]; then
	url=$(scripts/pg start)
	schema=bench_import_$$
	scripts/pg psql -qc "CREATE SCHEMA $schema" >/dev/null
	trap 'scripts/pg psql -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
	export DATABASE_URL="$url?options=-csearch_path%3D$schema,public"
else
	export DATABASE_URL="sqlite:///$tmp/vault.db"
fi
export SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export EMBEDDING_PROVIDER=hash EMBEDDING_DIM=256 LOG_LEVEL=warning BCRYPT_ROUNDS=4

# The vault, written by one awk process (a shell loop would take longer than the import).
awk -v n="$notes" -v dir="$tmp/vault" 'BEGIN {
	srand(42)
	words = "alpha beta gamma delta river stone cloud garden paper music light winter " \
	        "harbor pencil orbit lantern meadow copper signal thread"
	nw = split(words, w, " ")
	for (f = 0; f < 100; f++)
		system("mkdir -p " dir "/folder" f)
	for (i = 0; i < n; i++) {
		path = sprintf("%s/folder%d/Note %d.md", dir, i % 100, i)
		printf "---\ntitle: Note number %d\ntags: [bench, t%d]\ncreated: 2024-01-%02d\n---\n", \
		       i, i % 50, i % 28 + 1 > path
		printf "# Heading %d\n\n", i > path
		for (p = 0; p < 3; p++) {
			line = ""
			for (k = 0; k < 25; k++)
				line = line w[int(rand() * nw) + 1] " "
			print line "#topic" (i + p) % 30 "\n" > path
		}
		printf "See [[Note %d]], [[folder%d/Note %d|that one]] and [[Missing %d]].\n", \
		       (i + 1) % n, (i + 7) % 100, ((i + 7) % 100) + 100 * int(i / 100) % n, i > path
		if (i % 10 == 0)
			printf "\n![[Note %d]]\n", (i + 3) % n > path
		close(path)
	}
}'

build/vault migrate up >/dev/null
echo 'bench-password-1' | build/vault user create --email bench@example.com >/dev/null

run() { # run LABEL: times one import, prints its summary line
	local t0 t1
	t0=$(date +%s.%N)
	build/vault import --user bench@example.com "$tmp/vault" >"$tmp/out" 2>"$tmp/err" || {
		cat "$tmp/err" >&2
		exit 1
	}
	t1=$(date +%s.%N)
	printf '%-28s %6.2f s   %s\n' "$1" "$(echo "$t1 - $t0" | bc)" "$(tail -1 "$tmp/out")"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "database: ${BENCH_DATABASE:-sqlite}, $notes notes, $(du -sh "$tmp/vault" | cut -f1) of Markdown"
run "first import"
run "again, nothing changed"
for i in $(seq 0 99); do echo "changed $i" >>"$tmp/vault/folder$i/Note $i.md"; done
run "again, 100 files changed"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
