#!/usr/bin/env bash
# `make apply`: the local cloud runs the example's `auth.users` database on PostgreSQL, on a server of its own
# (platform_sdk/localcloud/dbserver.py). Install PostgreSQL's server programs when they are missing on a machine we
# may install on (root with apt-get: a fresh Debian/Ubuntu machine, as in CI); otherwise say what to install and
# stop before anything is applied. Idempotent: nothing happens when they are there.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "make apply: installing PostgreSQL's server programs (apt-get install postgresql): the local cloud runs"
    echo "            the example's database on them"
    log=$(mktemp)
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            postgresql; } >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "make apply: apt-get install postgresql failed" >&2
        exit 1
    fi
    rm -f "$log"
    exit 0
fi
cat >&2 <<'MSG'
make apply: the local cloud runs the example's database on PostgreSQL, whose server programs are not installed.
Install them (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql), or set
  [clouds.local]
  databases = "sqlite"
in envs/local.toml for the explicit SQLite stand-in. Nothing was applied.
MSG
exit 2
