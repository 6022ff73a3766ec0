#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL and Redis on 127.0.0.1 (when their Debian
# packages are installed), their URLs in ECNEWS_TEST_POSTGRES_URL / ECNEWS_TEST_REDIS_URL,
# and stops them afterwards. URLs already set in the environment are used as they are.
set -euo pipefail

workdir=$(mktemp -d /tmp/ecnews-services.XXXXXX)
chmod 755 "$workdir"
as_postgres=()
if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    as_postgres=(runuser -u postgres --)
    chown postgres "$workdir"
fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cleanup() {
    if [ -f "$workdir/pg/postmaster.pid" ]; then
        "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$workdir/pg" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ -f "$workdir/redis.pid" ]; then
        kill "$(cat "$workdir/redis.pid")" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

if [ -z "${ECNEWS_TEST_POSTGRES_URL:-}" ] && [ -n "$pg_bin" ]; then
    port=$(free_port)
    "${as_postgres[@]}" "$pg_bin/initdb" -D "$workdir/pg" -A trust -U postgres -E UTF8 >/dev/null
    "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$workdir/pg" -l "$workdir/pg.log" -w \
        -o "-p $port -k $workdir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        start >/dev/null
    export ECNEWS_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    echo "with-services: PostgreSQL at 127.0.0.1:$port" >&2
fi

if [ -z "${ECNEWS_TEST_REDIS_URL:-}" ] && command -v redis-server >/dev/null; then
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --dir "$workdir" --pidfile "$workdir/redis.pid" --logfile "$workdir/redis.log"
    for _ in $(seq 50); do [ -f "$workdir/redis.pid" ] && break; sleep 0.1; done
    export ECNEWS_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
    echo "with-services: Redis at 127.0.0.1:$port" >&2
fi

"$@"
