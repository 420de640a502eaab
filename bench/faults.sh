#!/usr/bin/env bash
# Fault scenarios against the release build of `lectern`, each on a fresh database holding the
# imported corpus, each bounded in time, each ending with a PASS or FAIL line:
#
#   a. SIGKILL during writes: writes at full speed (8 connections, REST and GraphQL, talks,
#      resources and embeds), `kill -9` of the server after KILL_AFTER seconds, a restart on the
#      same database, then a check that every acknowledged write is stored at its version with
#      that state (or one write later when a write was left without an answer), that there is
#      exactly one change event per acknowledged version, and that for every talk the latest
#      event's payload equals the stored talk, resources and embeds.
#   b. SIGTERM during load: mixed traffic at 32 connections; after 3 s the driver sends SIGTERM
#      and every request sent before it must complete with a 2xx; the process must exit 0
#      within 30 s.
#   c. PostgreSQL stopped and started during load (--postgres only): mixed traffic at 8
#      connections for 45 s; `pg_ctlcluster VERSION main stop` after 10 s, `start` 10 s later.
#      Errors must happen only from the stop until GRACE seconds after the start, each a 503,
#      and every request after the last error must succeed, with the same lectern process.
#      THIS STOPS THE MACHINE'S POSTGRESQL: run it only when nobody else is using it.
#      --dry-run does everything but the stop and start (and then expects no error at all).
#      --simulate, instead of stopping the cluster, cuts this run's database alone for the same
#      10 s (ALTER DATABASE … ALLOW_CONNECTIONS false and its sessions terminated, then allowed
#      again): safe on a shared server, and close to an outage as lectern sees it.
#
# Usage: bench/faults.sh [--postgres] [--dry-run | --simulate] [SCENARIO...]
#   SCENARIO: a, b, c; default "a b", and "a b c" with --postgres.
# Environment: KILL_AFTER (5), GRACE (15), LECTERN_BENCH_PG (postgres://postgres@127.0.0.1:5432),
#   LECTERN_CORPUS. Exits 1 when any scenario failed.
# The driver is tests/examples/load/ (`load writes`, `verify`, `sigterm`, `outage`); the editor
# token (LECTERN_LOAD_TOKEN) and the database URL (DATABASE_URL, which may hold a password) go
# through its environment, never its command line.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=sqlite
DRY_RUN=0
SIMULATE=0
SCENARIOS=()
for arg in "$@"; do
  case "$arg" in
    --postgres) BACKEND=postgres ;;
    --dry-run) DRY_RUN=1 ;;
    --simulate) SIMULATE=1 ;;
    a | b | c) SCENARIOS+=("$arg") ;;
    *) echo "usage: bench/faults.sh [--postgres] [--dry-run | --simulate] [a] [b] [c]" >&2; exit 2 ;;
  esac
done
if [ "${#SCENARIOS[@]}" -eq 0 ]; then
  if [ "$BACKEND" = postgres ]; then SCENARIOS=(a b c); else SCENARIOS=(a b); fi
fi
KILL_AFTER="${KILL_AFTER:-5}"
GRACE="${GRACE:-15}"
# shellcheck source=bench/lib.sh
. bench/lib.sh

PG_VERSION=""
PG_STOPPED=0
DB_CUT=0
allow_connections() { # true | false: this run's database only
  psql "$PG/postgres" -qAtc "ALTER DATABASE \"$PGDB\" WITH ALLOW_CONNECTIONS $1" > /dev/null
  if [ "$1" = false ]; then
    psql "$PG/postgres" -qAtc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$PGDB'" > /dev/null
  fi
}
faults_cleanup() {
  # Whatever happened, PostgreSQL is started again if this script stopped it.
  if [ "$PG_STOPPED" -eq 1 ]; then
    pg_ctlcluster "$PG_VERSION" main start || true
    PG_STOPPED=0
  fi
  if [ "$DB_CUT" -eq 1 ]; then allow_connections true || true; DB_CUT=0; fi
  lectern_cleanup
}
trap faults_cleanup EXIT

lectern_build
DRIVER="$BIN/load"
FAILED=()
echo "lectern $(git describe --always --dirty 2> /dev/null || echo '?'), $BACKEND, $(nproc) cores," \
  "scenarios: ${SCENARIOS[*]}$([ "$DRY_RUN" -eq 1 ] && echo ' (dry run)')$([ "$SIMULATE" -eq 1 ] && echo ' (simulated outage)')"

verdict() { # scenario, status, what
  if [ "$2" -eq 0 ]; then
    echo "PASS: $1. $3 ($BACKEND)"
  else
    echo "FAIL: $1. $3 ($BACKEND)"
    FAILED+=("$1")
  fi
}

server_log_errors() { # log
  if grep -qiE 'panicked|ERROR' "$1"; then
    echo "server log, errors ($(grep -ciE 'panicked|ERROR' "$1") lines; the first 10):"
    grep -iE 'panicked|ERROR' "$1" | head -n 10 || true
  fi
}

prepare() { # name
  new_database "$BACKEND" "$1"
  summary="$(import_corpus)"
  echo "import: $summary"
  issue_token
}

scenario_a() {
  echo
  echo "== a. SIGKILL during writes (load average $(loadavg))"
  prepare faults-a
  local log="$WORK/server-a.log" status=0 driver rc=0
  start_server "$log"
  timeout 120 "$DRIVER" writes --url "http://$ADDRESS" --acks "$WORK/acks.json" \
    --seconds 60 --connections 8 &
  driver=$!
  EXTRA_PIDS="$driver"
  sleep "$KILL_AFTER"
  echo "kill -9 $SERVER after ${KILL_AFTER}s"
  kill -9 "$SERVER"
  wait "$SERVER" 2> /dev/null || true
  SERVER=""
  wait "$driver" || rc=$?
  EXTRA_PIDS=""
  [ "$rc" -eq 0 ] || { echo "the write driver failed (status $rc)"; status=1; }
  echo "restarting lectern on the same database"
  start_server "$WORK/server-a2.log"
  DATABASE_URL="$DB" timeout 120 "$DRIVER" verify --url "http://$ADDRESS" --acks "$WORK/acks.json" || status=1
  server_log_errors "$WORK/server-a2.log"
  stop_server
  drop_db
  verdict a "$status" "SIGKILL during writes: acknowledged writes stored, outbox consistent"
}

scenario_b() {
  echo
  echo "== b. SIGTERM during load (load average $(loadavg))"
  prepare faults-b
  local log="$WORK/server-b.log" status=0 rc=0
  start_server "$log"
  timeout 120 "$DRIVER" sigterm --url "http://$ADDRESS" --server-pid "$SERVER" --before 3 \
    --bound 30 --connections 32 || status=1
  if wait_gone "$SERVER" 35; then
    wait "$SERVER" || rc=$?
    echo "lectern exited with status $rc"
    [ "$rc" -eq 0 ] || status=1
  else
    echo "lectern still running 35 s after the driver ended; killing it"
    kill -9 "$SERVER" 2> /dev/null || true
    wait "$SERVER" 2> /dev/null || true
    status=1
  fi
  SERVER=""
  server_log_errors "$log"
  drop_db
  verdict b "$status" "SIGTERM during load: in-flight requests complete, exit 0 within 30 s"
}

scenario_c() {
  echo
  if [ "$BACKEND" != postgres ]; then
    echo "== c. skipped: PostgreSQL outage needs --postgres"
    return 0
  fi
  PG_VERSION="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2> /dev/null | sort -V | tail -n1)"
  [ -n "$PG_VERSION" ] || { echo "no cluster in /etc/postgresql"; verdict c 1 "PostgreSQL outage"; return 0; }
  echo "== c. PostgreSQL $PG_VERSION stopped and started during load (load average $(loadavg))"
  prepare faults-c
  local log="$WORK/server-c.log" status=0 driver rc=0 marks="$WORK/marks"
  : > "$marks"
  start_server "$log"
  timeout 120 "$DRIVER" outage --url "http://$ADDRESS" --seconds 45 --connections 8 \
    --grace "$GRACE" --marks "$marks" &
  driver=$!
  EXTRA_PIDS="$driver"
  sleep 10
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "DRY RUN: would run: pg_ctlcluster $PG_VERSION main stop; sleep 10; pg_ctlcluster $PG_VERSION main start"
  elif [ "$SIMULATE" -eq 1 ]; then
    echo "stop $(date +%s%3N)" >> "$marks"
    DB_CUT=1
    allow_connections false
    echo "SIMULATED: connections to $PGDB refused and its sessions terminated"
    sleep 10
    allow_connections true
    DB_CUT=0
    echo "start $(date +%s%3N)" >> "$marks"
    echo "SIMULATED: connections to $PGDB allowed again"
  else
    echo "stop $(date +%s%3N)" >> "$marks"
    PG_STOPPED=1
    pg_ctlcluster "$PG_VERSION" main stop
    echo "PostgreSQL stopped"
    sleep 10
    pg_ctlcluster "$PG_VERSION" main start
    PG_STOPPED=0
    echo "start $(date +%s%3N)" >> "$marks"
    echo "PostgreSQL started"
  fi
  wait "$driver" || rc=$?
  EXTRA_PIDS=""
  [ "$rc" -eq 0 ] || status=1
  if kill -0 "$SERVER" 2> /dev/null; then
    echo "lectern (pid $SERVER) ran throughout"
  else
    echo "lectern is gone"
    status=1
  fi
  server_log_errors "$log"
  stop_server
  drop_db
  verdict c "$status" "PostgreSQL outage: 503s only while it is down, then every request succeeds"
}

for scenario in "${SCENARIOS[@]}"; do
  "scenario_$scenario"
done
echo
echo "load average at the end: $(loadavg)"
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "FAIL: scenarios ${FAILED[*]} ($BACKEND)"
  exit 1
fi
echo "PASS: scenarios ${SCENARIOS[*]} ($BACKEND)"
