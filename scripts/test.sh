#!/usr/bin/env bash
# Set up videogen and its test tools on a fresh machine, then run the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k render -x).
source "$(dirname "$0")/_env.sh"
install_videogen "[test,monitoring]"

# --- test tools from Debian ------------------------------------------------------------------
# ffprobe (ffmpeg) inspects output files; redis-server and postgresql are the real broker and
# job-store database the service tests talk to; chromium runs the browser tests (Playwright drives
# Debian's /usr/bin/chromium: never `playwright install`). The S3 server (moto) comes with the
# test extra.
need_apt=()
command -v ffprobe >/dev/null || need_apt+=(ffmpeg)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v ip >/dev/null || need_apt+=(iproute2)  # network namespaces of the multi-host test
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing test tools: ${need_apt[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "missing test tools: ${need_apt[*]} (install them with apt-get as root)" >&2
    exit 1
  fi
fi

# --- services the tests need ----------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting redis-server on 127.0.0.1:6379" >&2
  mkdir -p /tmp/videogen-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/videogen-redis --logfile /tmp/videogen-redis/redis.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL" >&2
  for v in /etc/postgresql/*; do
    [ -d "$v" ] && pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
  done
  for _ in $(seq 100); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
fi
# The job-store tests connect as postgres over TCP; make sure that works (trust or a known password).
if ! psql "postgresql://postgres@127.0.0.1:5432/postgres" -c "select 1" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
    runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
    export VIDEOGEN_TEST_PG="postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres"
  fi
fi

# --- static checks: the layers (import-linter contracts in pyproject.toml) and types ----------
echo "checking the layers (lint-imports) and types (mypy)" >&2
if ! out="$("$ROOT/.venv/bin/lint-imports" --no-cache 2>&1)"; then echo "$out" >&2; exit 1; fi
echo "$out" | grep -E "KEPT|BROKEN|Contracts:" >&2
"$ROOT/.venv/bin/mypy" >&2

exec "$VPY" -m pytest "$@"
