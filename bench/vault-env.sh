# Sourced by bench/profile.sh and bench/instructions.sh after `cd` to the repository: a throwaway
# vault's environment (WORK, PORT, BASE; a fresh key and bootstrap token; rate limits out of the
# way), then the caller's NAME=value arguments, then a build if there is none.
WORK=$(mktemp -d); PORT=${PORT:-$DEFAULT_PORT}; BASE=http://127.0.0.1:$PORT
export DATABASE_URL=${DATABASE_URL:-sqlite:$WORK/vault.db} KMS_LOCAL_KEY=$(head -c32 /dev/urandom | base64)
export SCAIVAULT_BOOTSTRAP_TOKEN=skt_$(head -c32 /dev/urandom | base64 | tr -d '/+=') LOG_LEVEL=warn BIND_ADDRESS=127.0.0.1:$PORT
for c in READ WRITE DELETE LIST BATCH_READ POLICY AUTH AUDIT_QUERY; do export RATE_LIMIT_$c=100000000; done
for kv in "$@"; do export "$kv"; done
[ -f dist/main.js ] || npm run build >/dev/null
