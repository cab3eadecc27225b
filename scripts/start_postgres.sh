#!/usr/bin/env bash
# Make a local PostgreSQL available for the tests and print its DSN on stdout.
# Installs Debian's server if missing (needs root), starts the first cluster, and
# creates the role and database "vas_test". Used by .ci/run; safe to run again.
set -euo pipefail
log() { echo "start_postgres: $*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    log "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi
VERSION="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$VERSION main$"; then
    log "creating cluster $VERSION/main"
    pg_createcluster "$VERSION" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
    log "starting cluster $VERSION/main"
    pg_ctlcluster "$VERSION" main start >&2
fi
PORT="$(pg_lsclusters -h | awk -v v="$VERSION" '$1==v && $2=="main" {print $3}')"
for _ in $(seq 1 30); do
    if runuser -u postgres -- pg_isready -q -p "$PORT"; then break; fi
    sleep 1
done
psql_admin() { runuser -u postgres -- psql -p "$PORT" -v ON_ERROR_STOP=1 -qtAc "$1"; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'vas_test'")" != "1" ]; then
    psql_admin "CREATE ROLE vas_test LOGIN PASSWORD 'vas_test'" >&2
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = 'vas_test'")" != "1" ]; then
    psql_admin "CREATE DATABASE vas_test OWNER vas_test" >&2
fi
psql_admin "ALTER DATABASE vas_test OWNER TO vas_test" >&2
echo "postgresql://vas_test:vas_test@127.0.0.1:$PORT/vas_test"
