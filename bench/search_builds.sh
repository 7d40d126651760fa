#!/usr/bin/env bash
# search_builds.sh CHUNKS ROUNDS NAME=VAULT_BINARY...: keyword and hybrid
# search of several builds of vault on one corpus, interleaved round by round.
#
# Seeds CHUNKS chunks (x 384) once with bench/search_corpus.c, lets the first
# build embed them, and keeps that database; then, for each round and each
# build, starts the build on a copy of it, sends 30 unrecorded and 300
# measured queries per mode one after another with curl, and prints one line
# per build and mode: latency percentiles, the server's CPU time per query
# (user + system, from /proc: steadier than latency on a shared machine),
# its resident memory afterwards and the load average. For changes that
# trade speed for memory, e.g. the SQLite settings in store_sqlite.c. The
# corpus stays in $TMPDIR/vault-search-builds-CHUNKS for the next run.
#
#   bench/search_builds.sh 100000 3 before=/tmp/old/build/vault after=build/vault
set -euo pipefail

(($# >= 3)) || {
	echo "usage: $0 CHUNKS ROUNDS NAME=VAULT_BINARY..." >&2
	exit 2
}
N=$1 ROUNDS=$2
shift 2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CORPUS_BIN=$ROOT/build/bench/search_corpus
[[ -x $CORPUS_BIN ]] || BENCH_ONLY_BUILD=1 "$ROOT/bench/search.sh"
W=${TMPDIR:-/tmp}/vault-search-builds-$N
mkdir -p "$W"
ENV=(ENVIRONMENT=production DEBUG=false HOST=127.0.0.1 PORT=0 BCRYPT_ROUNDS=4
	SECRET_KEY=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	ACCESS_TOKEN_EXPIRE_MINUTES=240 LOG_LEVEL=info LOG_FORMAT=json EMBEDDING_PROVIDER=hash
	LLM_PROVIDER=none EMBEDDING_DIM=384)
EMAIL=bench@example.com PASSWORD=bench-password-1
PID=
trap '[[ -n $PID ]] && kill -TERM "$PID" 2>/dev/null' EXIT

# start BINARY DIR: the server on DIR/vault.db; sets PID, BASE and TOKEN.
start() {
	local bin
	bin=$(realpath "$1")
	(cd "$2" && exec env "${ENV[@]}" DATABASE_URL="sqlite:///$2/vault.db" "$bin" serve) \
		>"$2/log" 2>&1 </dev/null &
	PID=$!
	local line=
	for _ in $(seq 600); do
		line=$(grep -m1 '"server_started"' "$2/log" || true)
		[[ -n $line ]] && break
		sleep 0.1
	done
	[[ -n $line ]] || { echo "$1 did not start" >&2; exit 1; }
	BASE="http://127.0.0.1:$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' <<<"$line")"
	TOKEN=$(curl -sS -X POST -H 'Content-Type: application/json' \
		--data-binary "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login" |
		sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
}
stop() {
	kill -TERM "$PID"
	wait "$PID" || true
	PID=
}
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$PID/stat"; }

if [[ ! -f $W/indexed.db ]]; then
	rm -rf "$W/seed"
	mkdir -p "$W/seed"
	(cd "$W/seed" && env "${ENV[@]}" DATABASE_URL="sqlite:///$W/seed/vault.db" \
		"$CORPUS_BIN" "$N" "$EMAIL" "$PASSWORD" "$W/queries.txt" 330 >&2)
	start "${1#*=}" "$W/seed"
	until curl -sS -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/index/status" |
		grep -q '"pending":0'; do
		sleep 1
	done
	stop # the last connection's close checkpoints the WAL into vault.db
	cp "$W/seed/vault.db" "$W/indexed.db"
fi

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

# config MODE FROM TO: a curl config for queries FROM..TO.
config() {
	local i=0 q
	sed -n "$2,$3p" "$W/queries.txt" | while IFS= read -r q; do
		i=$((i + 1))
		((i > 1)) && printf 'next\n'
		printf 'url = "%s/api/v1/search?query=%s&mode=%s&top_k=5"\n' "$BASE" "$(urlencode "$q")" "$1"
		printf 'header = "Authorization: Bearer %s"\noutput = "/dev/null"\n' "$TOKEN"
		printf 'write-out = "%%{http_code} %%{time_total}\\n"\n'
	done
}
# stats: p50, p90, p99 and mean in ms of the seconds on stdin (nearest rank).
stats() {
	sort -g | awk '{ v[NR] = $1 * 1000; s += v[NR] }
		function r(q, k) { k = int(q * NR); if (k < q * NR) k++; return v[k < 1 ? 1 : k] }
		END { printf "p50 %.2f p90 %.2f p99 %.2f mean %.2f", r(.5), r(.9), r(.99), s / NR }'
}

hz=$(getconf CLK_TCK)
for round in $(seq "$ROUNDS"); do
	for build in "$@"; do
		name=${build%%=*} d=$W/run-${build%%=*}
		rm -rf "$d"
		mkdir -p "$d"
		cp "$W/indexed.db" "$d/vault.db"
		start "${build#*=}" "$d"
		load=$(cut -d' ' -f1-3 /proc/loadavg)
		for mode in keyword hybrid; do
			config "$mode" 1 30 >"$d/warm.curl"
			curl -s -K "$d/warm.curl" >/dev/null
			config "$mode" 31 330 >"$d/$mode.curl"
			c0=$(cpu_ticks)
			curl -s -K "$d/$mode.curl" >"$d/$mode.times"
			c1=$(cpu_ticks)
			bad=$(awk '$1 != 200' "$d/$mode.times" | wc -l)
			printf 'round %s %s %s: %s queries, %s failed, %s, cpu/query %s ms, rss %s KiB, load %s\n' \
				"$round" "$name" "$mode" "$(wc -l <"$d/$mode.times")" "$bad" \
				"$(awk '{ print $2 }' "$d/$mode.times" | stats)" \
				"$(awk -v a="$c0" -v b="$c1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz * 1000 / 300 }')" \
				"$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")" "$load"
		done
		stop
	done
done
