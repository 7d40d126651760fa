#!/usr/bin/env bash
# admission.sh - does a crowd hammering login from one address cost other
# users? Starts vault (SQLite, bcrypt 12, default limits), gives user B a
# note, measures B's GET of it from 127.0.0.2 (bench/latency.c: one request
# after another on one connection) alone, then again while 64 wrk
# connections post logins from 127.0.0.1 as fast as they can. Prints both
# latency distributions and what the logins got back.
# Settings: BENCH_DURATION (10s), BENCH_HAMMER (64 connections),
# BENCH_ENV (extra VAR=value settings for the server, space-separated).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${BENCH_DURATION:-10s}
HAMMER=${BENCH_HAMMER:-64}
command -v wrk >/dev/null || { echo "admission: wrk is not installed" >&2; exit 1; }
make -j"$(nproc)" >/dev/null
cc -O2 -o build/bench_latency bench/latency.c -lcurl

TMP=$(mktemp -d /tmp/vault-admission.XXXXXX)
PID=
cleanup() {
	[[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck disable=SC2086
(cd "$TMP" && exec env ENVIRONMENT=production HOST=127.0.0.1 PORT=0 BCRYPT_ROUNDS=12 \
	DATABASE_URL="sqlite:///$TMP/vault.db" SECRET_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
	LOG_LEVEL=info ${BENCH_ENV:-} "$OLDPWD/build/vault" serve) >"$TMP/log" 2>&1 &
PID=$!
PORT=
for _ in $(seq 300); do
	PORT=$(sed -n 's/.*"server_started".*"port":\([0-9]*\).*/\1/p' "$TMP/log" | head -1)
	[[ -n $PORT ]] && break
	sleep 0.1
done
[[ -n $PORT ]] || { cat "$TMP/log" >&2; exit 1; }
BASE=http://127.0.0.1:$PORT
post() { curl -sS -X POST -H 'Content-Type: application/json' --data-binary "$2" "$BASE$1"; }
post /api/v1/auth/register '{"email":"b@example.com","password":"b-password-123"}' >/dev/null
TOKEN=$(post /api/v1/auth/login '{"email":"b@example.com","password":"b-password-123"}' |
	sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
ID=$(curl -sS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary '{"title":"B'"'"'s note","content":"kept while others guess passwords"}' \
	"$BASE/api/v1/notes" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
echo "$ID" >"$TMP/ids"
export BENCH_TOKEN=$TOKEN BENCH_IDS_FILE=$TMP/ids
export BENCH_LOGIN_BODY='{"email":"a@example.com","password":"guess-1234"}'

get() { build/bench_latency "$BASE/api/v1/notes/$ID" "$TOKEN" "${DURATION%s}" 127.0.0.2; }

echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "idle:    $(get)"
wrk -t1 -c"$HAMMER" -d"$(( ${DURATION%s} + 4 ))s" -s bench/login.lua "$BASE" >"$TMP/hammer" 2>&1 &
HAMMER_PID=$!
sleep 2
echo "hammer:  $(get)"
wait "$HAMMER_PID"
echo "logins:  $(grep BENCH_RESULT "$TMP/hammer")  (non2xx: refused or 401)"
