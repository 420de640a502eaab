#!/usr/bin/env bash
# Change events under load: writes through the REST API at a fixed rate (open-loop) while
# webhook endpoints and GraphQL subscriptions listen, against the same writes with nobody
# listening. Prints, per run, the write latency, the end-to-end delivery latency of each channel
# (from the write's send and from the event's commit) and what was delivered (missing,
# duplicated, out of order); then the write latency with listeners against without.
#
# Usage: bench/events.sh [--postgres] [RATE] [SECONDS]       (defaults: 1000 writes/s, 30 s)
# Environment: WEBHOOKS (10), SUBSCRIBERS (100), CONNECTIONS (64), TALKS (2000), WARMUP (3),
#   MODES ("off on": off = no listeners, on = WEBHOOKS + SUBSCRIBERS, subs = the SUBSCRIBERS
#   only, hooks = the WEBHOOKS only),
#   LECTERN_BENCH_PG (postgres://postgres@127.0.0.1:5432) for --postgres, PROFILE (when set,
#   samples the server with `perf record -e cpu-clock` during each run and prints the top
#   entries by self time and the share of each thread; PROFILE_KEEP=PREFIX keeps each run's
#   samples as PREFIX-MODE.data for `perf report`), LECTERN_BIN (a `lectern` binary to serve
#   with instead of this checkout's build: another commit's, to compare two builds).
# With MODES="off subs hooks" (see `cost` below) it also prints what each delivery costs the
# server: its CPU time (from /proc/PID/stat) from the first measured write until every listener
# has every event, per write with nobody listening, and, beyond that, per subscription message
# and per webhook delivery; then the cores 1,000 writes/s with 100 subscriptions and 10 webhooks
# take at those costs.
# Each run gets a fresh database: a SQLite file, or a PostgreSQL database named
# lectern_bench_<random> that is dropped afterwards. Everything stays on loopback.
# The driver is tests/examples/events_bench/ (`events_bench --help`); the admin's password goes
# through its environment (LECTERN_PASSWORD), never its command line.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=sqlite
if [ "${1:-}" = "--postgres" ]; then BACKEND=postgres; shift; fi
RATE="${1:-1000}"
DURATION="${2:-30}"
WEBHOOKS="${WEBHOOKS:-10}"
SUBSCRIBERS="${SUBSCRIBERS:-100}"
CONNECTIONS="${CONNECTIONS:-64}"
TALKS="${TALKS:-2000}"
WARMUP="${WARMUP:-3}"
MODES="${MODES:-off on}"
PG="${LECTERN_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lectern-target}"

cargo build --release --quiet -p api --bin lectern -p tests --example seed_talks --example events_bench
BIN="$CARGO_TARGET_DIR/release"
LECTERN="${LECTERN_BIN:-$BIN/lectern}"

WORK="$(mktemp -d)"
SERVER=""
PGDB=""
stop_server() {
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2> /dev/null || true
    wait "$SERVER" 2> /dev/null || true
    SERVER=""
  fi
}
drop_db() {
  if [ -n "$PGDB" ]; then
    psql "$PG/postgres" -qAtc "DROP DATABASE IF EXISTS \"$PGDB\" WITH (FORCE)" > /dev/null || true
    PGDB=""
  fi
}
cleanup() {
  stop_server
  drop_db
  rm -rf "$WORK"
}
trap cleanup EXIT

EMAIL=bench@example.com
export LECTERN_PASSWORD="bench-password-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export LECTERN_JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CLK_TCK="$(getconf CLK_TCK)"

run() { # mode: off | on | subs | hooks
  local mode="$1" db hooks=0 subs=0
  case "$mode" in
    on) hooks="$WEBHOOKS"; subs="$SUBSCRIBERS" ;;
    subs) subs="$SUBSCRIBERS" ;;
    hooks) hooks="$WEBHOOKS" ;;
    off) ;;
    *) echo "unknown mode: $mode (off, on, subs, hooks)" >&2; exit 2 ;;
  esac
  if [ "$BACKEND" = postgres ]; then
    PGDB="lectern_bench_$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    psql "$PG/postgres" -qAtc "CREATE DATABASE \"$PGDB\"" > /dev/null
    db="$PG/$PGDB"
  else
    db="sqlite://$WORK/events-$mode.db?mode=rwc"
  fi
  RUST_LOG=warn "$BIN/examples/seed_talks" "$db" "$TALKS" > /dev/null
  RUST_LOG=warn "$LECTERN" --database-url "$db" user add --email "$EMAIL" --role admin > /dev/null
  local log="$WORK/server-$mode.log"
  NO_COLOR=1 LECTERN_LOG_FORMAT=text RUST_LOG="warn,api::startup=info" DATABASE_URL="$db" LECTERN_ADDR=127.0.0.1:0 \
    "$LECTERN" > "$log" 2>&1 &
  SERVER=$!
  local address=""
  for _ in $(seq 1 100); do
    address="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'listening address=[0-9.:]*' | head -n1 | cut -d= -f2 || true)"
    [ -n "$address" ] && curl -fs "http://$address/healthz" > /dev/null && break
    sleep 0.1
  done
  [ -n "$address" ] || { echo "lectern did not start:" >&2; cat "$log" >&2; exit 1; }
  local perf_pid=""
  if [ -n "${PROFILE:-}" ]; then
    perf record -q -e cpu-clock -F 499 -g -o "$WORK/perf-$mode.data" -p "$SERVER" 2> /dev/null &
    perf_pid=$!
  fi
  "$BIN/examples/events_bench" --url "http://$address" --email "$EMAIL" \
    --rate "$RATE" --seconds "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS" \
    --talks "$TALKS" --webhooks "$hooks" --subscribers "$subs" --label "$mode" \
    --server-pid "$SERVER" --clk-tck "$CLK_TCK" | tee "$WORK/result-$mode.txt"
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2> /dev/null || true
    wait "$perf_pid" 2> /dev/null || true
    echo "profile of the server ($mode), self time, top entries:"
    perf report -i "$WORK/perf-$mode.data" --no-children --sort symbol --percent-limit 1 --stdio 2> /dev/null \
      | grep -E '^ +[0-9.]+%' | head -n 40 | cut -c1-150
    echo "profile of the server ($mode), by thread:"
    perf report -i "$WORK/perf-$mode.data" --no-children --sort comm --stdio 2> /dev/null \
      | grep -E '^ +[0-9.]+%' | head -n 10
    [ -n "${PROFILE_KEEP:-}" ] && cp "$WORK/perf-$mode.data" "$PROFILE_KEEP-$mode.data"
  fi
  if grep -qiE 'panicked|error' "$log"; then
    echo "server log ($mode), errors:"; grep -iE 'panicked|error' "$log" | head -n 10
  fi
  stop_server
  drop_db
  echo
}

echo "lectern $(git describe --always --dirty 2> /dev/null || echo '?'), $BACKEND, $(nproc) cores," \
  "$RATE writes/s for ${DURATION}s, $TALKS talks, $CONNECTIONS connections;" \
  "listeners when on: $WEBHOOKS webhooks, $SUBSCRIBERS subscriptions"
echo
for mode in $MODES; do run "$mode"; done

field() { # mode key
  grep '^RESULT ' "$WORK/result-$1.txt" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'
}
if [ -f "$WORK/result-off.txt" ] && [ -f "$WORK/result-on.txt" ]; then
  echo "write latency, listeners on against off ($BACKEND, $RATE writes/s):"
  for key in write_p50_ms write_p99_ms send_p50_ms send_p99_ms achieved; do
    off="$(field off "$key")"; on="$(field on "$key")"
    awk -v k="$key" -v off="$off" -v on="$on" 'BEGIN {
      if (off > 0) printf "  %-14s off %10s   on %10s   on/off %.2f (%+.0f%%)\n", k, off, on, on / off, 100 * (on / off - 1)
      else printf "  %-14s off %10s   on %10s\n", k, off, on }'
  done
fi

# What each delivery costs the server, in CPU: the write path's own per write ("off"), and
# beyond it per subscription message ("subs") and per webhook delivery ("hooks").
if [ -f "$WORK/result-off.txt" ]; then
  echo "server CPU per delivery ($BACKEND, $RATE writes/s; CPU from the first write to the end of the drain):"
  cpu_off="$(field off server_cpu_s)"; ok_off="$(field off ok)"
  awk -v c="$cpu_off" -v n="$ok_off" 'BEGIN { printf "  write path (off):        %.2f s for %d writes = %.1f us per write\n", c, n, 1e6 * c / n }'
  per_write="$(awk -v c="$cpu_off" -v n="$ok_off" 'BEGIN { print c / n }')"
  per_msg=""; per_hook=""
  if [ -f "$WORK/result-subs.txt" ]; then
    c="$(field subs server_cpu_s)"; n="$(field subs ok)"; m="$(field subs sub_messages)"
    per_msg="$(awk -v c="$c" -v n="$n" -v m="$m" -v w="$per_write" 'BEGIN { print (c - n * w) / m }')"
    awk -v c="$c" -v n="$n" -v m="$m" -v p="$per_msg" 'BEGIN { printf "  subscriptions (subs):    %.2f s for %d writes and %d messages = %.2f us per message beyond the writes\n", c, n, m, 1e6 * p }'
  fi
  if [ -f "$WORK/result-hooks.txt" ]; then
    c="$(field hooks server_cpu_s)"; n="$(field hooks ok)"; m="$(field hooks hook_messages)"
    per_hook="$(awk -v c="$c" -v n="$n" -v m="$m" -v w="$per_write" 'BEGIN { print (c - n * w) / m }')"
    awk -v c="$c" -v n="$n" -v m="$m" -v p="$per_hook" 'BEGIN { printf "  webhooks (hooks):        %.2f s for %d writes and %d deliveries = %.1f us per delivery beyond the writes\n", c, n, m, 1e6 * p }'
  fi
  if [ -n "$per_msg" ] && [ -n "$per_hook" ]; then
    awk -v w="$per_write" -v m="$per_msg" -v h="$per_hook" 'BEGIN {
      printf "  1,000 writes/s with 100 subscriptions and 10 webhooks: 1000 x (%.1f + 100 x %.2f + 10 x %.1f) us = %.2f cores\n",
        1e6 * w, 1e6 * m, 1e6 * h, 1000 * (w + 100 * m + 10 * h) }'
  fi
fi
