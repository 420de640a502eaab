# Shared by bench/load.sh and bench/faults.sh (sourced, not run): a fresh database (a SQLite
# file, or a PostgreSQL database named lectern_bench_<uuid> that is dropped at the end), the
# corpus imported, an editor token, and `lectern` started on a free port of 127.0.0.1.
# Everything stays on loopback; `lectern_cleanup` (on EXIT) stops what was started and drops
# what was made.
# shellcheck shell=bash

PG="${LECTERN_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
CORPUS="${LECTERN_CORPUS:-$(cd .. && pwd)/shared/corpus}/talks"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lectern-target}"
WORK="$(mktemp -d -t lectern-bench.XXXXXX)"
# The binaries are copied here once built, so that another build into the shared target
# directory cannot swap them in the middle of a run.
BIN="$WORK/bin"
SERVER=""
ADDRESS=""
PGDB=""
DB=""
EXTRA_PIDS=""
export LECTERN_JWT_SECRET
LECTERN_JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

lectern_build() {
  local out="$CARGO_TARGET_DIR/release"
  cargo build --release --quiet -p api --bin lectern -p importer --bin lectern-import -p tests --example load
  mkdir -p "$BIN"
  cp "$out/lectern" "$out/lectern-import" "$out/examples/load" "$BIN/"
  # LECTERN_BIN=PATH serves with that `lectern` (another commit's build, to compare two builds
  # on the same machine one run after the other); the importer and the driver stay this
  # checkout's.
  if [ -n "${LECTERN_BIN:-}" ]; then cp "$LECTERN_BIN" "$BIN/lectern"; fi
}

# Waits (at most $2 seconds) for a process to exit; true when it has (a zombie counts).
wait_gone() {
  local pid="$1" bound="$2" i
  for ((i = 0; i < bound * 10; i++)); do
    if ! kill -0 "$pid" 2> /dev/null; then return 0; fi
    case "$(awk '{ print $3 }' "/proc/$pid/stat" 2> /dev/null)" in Z | X | "") return 0 ;; esac
    sleep 0.1
  done
  return 1
}

stop_server() {
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2> /dev/null || true
    wait_gone "$SERVER" 30 || kill -9 "$SERVER" 2> /dev/null || true
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

lectern_cleanup() {
  local pid
  for pid in $EXTRA_PIDS; do
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
  stop_server
  drop_db
  rm -rf "$WORK"
}

# Sets DB to a fresh database of the backend ($1: sqlite or postgres; $2: a name for the file).
new_database() {
  if [ "$1" = postgres ]; then
    PGDB="lectern_bench_$(tr -d '-' < /proc/sys/kernel/random/uuid)"
    psql "$PG/postgres" -qAtc "CREATE DATABASE \"$PGDB\"" > /dev/null
    DB="$PG/$PGDB"
  else
    DB="sqlite://$WORK/$2.db?mode=rwc"
  fi
}

# Imports the corpus into $DB (every document must import: exit status 0).
import_corpus() {
  RUST_LOG=warn "$BIN/lectern-import" --database-url "$DB" "$CORPUS" > "$WORK/import.log" 2>&1 || {
    echo "lectern-import failed:" >&2
    tail -n 20 "$WORK/import.log" >&2
    return 1
  }
  tail -n 1 "$WORK/import.log"
}

# Issues an editor token into LECTERN_LOAD_TOKEN (read by the driver from the environment).
issue_token() {
  LECTERN_LOAD_TOKEN="$(RUST_LOG=warn "$BIN/lectern" --database-url "$DB" token issue --name bench --role editor --ttl 1d 2> /dev/null)"
  [ -n "$LECTERN_LOAD_TOKEN" ] || { echo "could not issue a token" >&2; return 1; }
  export LECTERN_LOAD_TOKEN
}

# Starts lectern on $DB, on a free port of 127.0.0.1, logging to $1; sets SERVER and ADDRESS.
start_server() {
  local log="$1" i
  touch "$log"
  NO_COLOR=1 RUST_LOG="${RUST_LOG:-warn,api::startup=info}" DATABASE_URL="$DB" LECTERN_ADDR=127.0.0.1:0 \
    "$BIN/lectern" >> "$log" 2>&1 &
  SERVER=$!
  ADDRESS=""
  for ((i = 0; i < 300; i++)); do
    # The "listening" line, as text (address=…) or JSON ("address":"…").
    ADDRESS="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep 'listening' \
      | grep -oE '(address=|"address":")127\.0\.0\.1:[0-9]+' | tail -n1 | grep -oE '127\.0\.0\.1:[0-9]+' || true)"
    if [ -n "$ADDRESS" ] && curl -fs "http://$ADDRESS/healthz" > /dev/null; then return 0; fi
    kill -0 "$SERVER" 2> /dev/null || break
    sleep 0.1
  done
  echo "lectern did not start:" >&2
  tail -n 20 "$log" >&2
  return 1
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
