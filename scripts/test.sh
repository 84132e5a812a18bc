#!/usr/bin/env bash
# The repository's single test command: the whole suite on SQLite, then again on a real PostgreSQL server
# started just for this run in a temporary directory and stopped (and deleted) on exit, whatever happens.
#
#   bash scripts/test.sh            (from any directory; CI runs it as root with no stdin via .ci/run)
#
# Extra arguments go to both `dotnet test` runs, e.g. `bash scripts/test.sh --filter FullyQualifiedName~Pruning`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
exec </dev/null   # nothing below may wait for a keyboard (apt, su, dotnet first-run prompts)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# ---------------------------------------------------------------------------------------------------------
# System packages. Add further installs (e.g. a Chromium for browser tests) in this section, each guarded by
# a check so that a machine that already has it does not touch the network.
# ---------------------------------------------------------------------------------------------------------
apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

find_pg_bin() {
    local dir
    # Highest installed major version first.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

if ! pg_bin="$(find_pg_bin)"; then
    log "PostgreSQL server not found; installing it with apt-get"
    apt_install postgresql
    pg_bin="$(find_pg_bin)" || { log "PostgreSQL still not found after installing it"; exit 1; }
fi

# Debian's Chromium for the browser end-to-end tests (Playwright drives /usr/bin/chromium; no browser download).
bash "$repo_root/scripts/install-chromium.sh"
# nginx for the scale-out tests (two server processes behind a round-robin proxy).
bash "$repo_root/scripts/install-nginx.sh"

# ---------------------------------------------------------------------------------------------------------
# A throw-away PostgreSQL cluster. initdb refuses to run as root, so the cluster belongs to a non-root user:
# the `postgres` account the Debian package creates, or the current user when not root.
# ---------------------------------------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
    pg_user=postgres
    if ! id -u "$pg_user" >/dev/null 2>&1; then
        useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin "$pg_user"
    fi
    as_pg() { runuser -u "$pg_user" -- "$@"; }
else
    pg_user="$(id -un)"
    as_pg() { "$@"; }
fi

pg_dir="$(mktemp -d -t identityserver-pg.XXXXXX)"
chmod 755 "$pg_dir"
chown "$pg_user" "$pg_dir"
pg_data="$pg_dir/data"
pg_started=0

cleanup() {
    local status=$?
    if [ "$pg_started" -eq 1 ]; then
        as_pg "$pg_bin/pg_ctl" -D "$pg_data" stop -m fast -w >/dev/null 2>&1 || log "pg_ctl stop failed (see $pg_dir/server.log)"
    fi
    rm -rf "$pg_dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 40000))
        if ! ss -Htln "sport = :$port" | grep -q .; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    return 1
}

pg_role=identityserver_test
pg_password="test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
pg_port="$(free_port)" || { log "no free TCP port found"; exit 1; }

log "Starting PostgreSQL ($pg_bin) on 127.0.0.1:$pg_port in $pg_dir"
printf '%s\n' "$pg_password" > "$pg_dir/superuser-password"
chown "$pg_user" "$pg_dir/superuser-password"
chmod 600 "$pg_dir/superuser-password"
# Password (scram) authentication for TCP; local socket access stays with the cluster owner only.
as_pg "$pg_bin/initdb" -D "$pg_data" -U "$pg_user" --auth-local=peer --auth-host=scram-sha-256 \
    --pwfile="$pg_dir/superuser-password" -E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; exit 1; }

# Listen on loopback only; the socket lives in the temp dir so nothing clashes with a system cluster.
# fsync off: the data is thrown away at the end, and it halves the time of the many CREATE DATABASEs.
pg_started=1
as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_dir/server.log" -s \
    -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$pg_dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start || { cat "$pg_dir/server.log" >&2; exit 1; }

ready=0
for _ in $(seq 1 150); do   # up to 30 s
    if "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -t 1; then ready=1; break; fi
    sleep 0.2
done
if [ "$ready" -ne 1 ]; then
    log "PostgreSQL did not become ready"; cat "$pg_dir/server.log" >&2; exit 1
fi

# The test role creates (and drops) one database per test class.
as_pg "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_dir" -p "$pg_port" -d postgres \
    -c "CREATE ROLE $pg_role LOGIN CREATEDB PASSWORD '$pg_password';"

# ---------------------------------------------------------------------------------------------------------
# The suite, once per provider. Built once; both runs reuse the build.
# ---------------------------------------------------------------------------------------------------------
log "Building"
dotnet build IdentityServer.sln -c Release -nologo -v q

total_passed=0
total_failed=0
failed_runs=0

# run_suite NAME "PROJECT..." [ENV=VALUE...]
run_suite() {
    local name=$1 projects=$2; shift 2
    local out="$pg_dir/test-$name.log" status=0 project
    : >"$out"
    log "Tests on $name"
    for project in $projects; do
        env "$@" dotnet test "$project" -c Release --no-build -nologo "${extra_args[@]}" 2>&1 | tee -a "$out" || status=$?
    done
    # e.g. "Passed!  - Failed:     0, Passed:    12, Skipped:     0, Total:    12, Duration: 9 s - X.dll (net10.0)"
    local line failed passed found=0
    while IFS= read -r line; do
        failed="$(sed -nE 's/.*Failed: *([0-9]+),.*/\1/p' <<<"$line")"
        passed="$(sed -nE 's/.*Passed: *([0-9]+),.*/\1/p' <<<"$line")"
        total_failed=$((total_failed + ${failed:-0}))
        total_passed=$((total_passed + ${passed:-0}))
        found=1
    done < <(grep -E '^(Passed|Failed)! +- Failed: *[0-9]+, Passed: *[0-9]+' "$out" || true)
    if [ "$status" -ne 0 ] || [ "$found" -eq 0 ]; then
        failed_runs=$((failed_runs + 1))
        log "Tests on $name FAILED (exit $status)"
    fi
}

extra_args=("$@")
# The browser tests run their own servers on SQLite, so they run once, in the SQLite pass.
run_suite Sqlite "tests/IdentityServer.Tests tests/IdentityServer.EndToEnd.Tests" IDENTITYSERVER_TEST_PROVIDER=Sqlite
# The scale-out tests share one PostgreSQL database between two server processes, so they run in that pass.
run_suite PostgreSql "tests/IdentityServer.Tests tests/IdentityServer.ScaleOut.Tests" IDENTITYSERVER_TEST_PROVIDER=PostgreSql \
    "IDENTITYSERVER_TEST_POSTGRES=Host=127.0.0.1;Port=$pg_port;Username=$pg_role;Password=$pg_password"

echo "$total_passed passed, $total_failed failed"
[ "$failed_runs" -eq 0 ] && [ "$total_failed" -eq 0 ]
