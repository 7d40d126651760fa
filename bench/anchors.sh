#!/usr/bin/env bash
# anchors.sh - the same load on the seed stack and on vault, in one run, with
# the anchors in ../shared/anchors (see bench/README.md, "Beside the anchors").
#
# Runs ../shared/anchors/seed_fastapi/bench.sh for the seed stack on
# PostgreSQL + pgvector and for this checkout's build/vault on SQLite and on
# PostgreSQL, with vault's default settings (the local embedding model) and
# the fake OpenAI-compatible server answering /ask. Unlike compare.sh it
# leaves the anchors' PostgreSQL server running (another benchmark may be
# using it) and tells vault where its model is, since bench.sh starts the
# server in a directory of its own.
#   bench/anchors.sh [seed-pg] [vault-sqlite] [vault-pg]   (default: all three)
# Needs what compare.sh needs (its header), and `make` run here first.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
A=${ANCHORS:-$ROOT/../shared/anchors}
export PGVECTOR_PORT=${PGVECTOR_PORT:-55441}
[[ -x $ROOT/build/vault && -x $ROOT/build/fake_ai ]] || { echo "run make first" >&2; exit 1; }

"$A/pgvector-server" start >/dev/null
"$A/pgvector-server" psql -qc "CREATE DATABASE seed" 2>/dev/null || true
"$A/pgvector-server" psql -qc "DROP DATABASE IF EXISTS vaultbench"
"$A/pgvector-server" psql -qc "CREATE DATABASE vaultbench"
url=$(mktemp)
exec 3< <(sleep 100000)
"$ROOT/build/fake_ai" <&3 >"$url" &
FAKE=$!
trap 'kill $FAKE 2>/dev/null || true; rm -f "$url"' EXIT
sleep 0.5
AI=$(head -1 "$url")
venv="SECRET_KEY=side-by-side-0123456789abcdef0123456789abcdef ENVIRONMENT=production \
LOG_FORMAT=json HOST=127.0.0.1 BCRYPT_ROUNDS=12 LLM_PROVIDER=openai OPENAI_BASE_URL=$AI \
OPENAI_API_KEY=sk-fake EMBEDDING_MODEL_DIR=$ROOT/data/models/use-lite-v1"
stamp=$(date -u +%m%d-%H%M)
for c in ${*:-seed-pg vault-sqlite vault-pg}; do
	case $c in
	seed-pg) "$A/seed_fastapi/bench.sh" --db postgres --workers 2 --no-ceiling \
		--label "$stamp-seed-pg" ;;
	vault-sqlite) "$A/seed_fastapi/bench.sh" --api vault --label "$stamp-vault-sqlite" \
		--server-cmd "env $venv $ROOT/build/vault serve" ;;
	vault-pg) "$A/seed_fastapi/bench.sh" --api vault --no-ceiling \
		--db "postgresql://postgres@127.0.0.1:$PGVECTOR_PORT/vaultbench" \
		--label "$stamp-vault-pg" --server-cmd "env $venv $ROOT/build/vault serve" ;;
	*) echo "unknown configuration $c" >&2; exit 2 ;;
	esac
done
