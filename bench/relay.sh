#!/usr/bin/env bash
# The relay to NATS JetStream from a backlog: N talks written with `seed_talks` (each a
# talk.created event carrying its whole state), then `lectern relay` (release build, SQLite)
# started against a NATS server of this run's own (`nats-server -js` on a free loopback port,
# its store in a temporary folder), timed until its position reaches the last event. Prints
# events/s, the relay's CPU time and its peak resident memory. Then, with the relay still
# running: a follower (`lectern-export --follow … --once`) timed while it catches up the whole
# stream into an empty folder, checked against `lectern-export`; and the lag from commit to
# stream while talks are written at RATE writes/s for 20 s (`relay_lag`).
#
# Usage: bench/relay.sh [N] [RATE]   (defaults 20000 and 250)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-20000}"
RATE="${2:-250}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lectern-target}"
NATS_SERVER="${LECTERN_NATS_SERVER:-/usr/sbin/nats-server}"
if [ ! -x "$NATS_SERVER" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nats-server > /dev/null
fi
cargo build --release --quiet -p api --bin lectern -p importer --bin lectern-export -p tests --example seed_talks --example relay_lag
WORK="$(mktemp -d -t lectern-relay.XXXXXX)"
# The follower is timed twice: into a folder on the disk, and into one in memory (/dev/shm),
# which leaves out the file system's cost of creating files (on ext4 after many files were
# deleted, finding a free inode can cost more than all the rest).
SHM="$(mktemp -d -p /dev/shm lectern-followed.XXXXXX)"
mkdir -p "$WORK/bin"
cp "$CARGO_TARGET_DIR/release/lectern" "$CARGO_TARGET_DIR/release/lectern-export" \
  "$CARGO_TARGET_DIR/release/examples/seed_talks" "$CARGO_TARGET_DIR/release/examples/relay_lag" "$WORK/bin/"
NATS=""
RELAY=""
cleanup() {
  for pid in $RELAY $NATS; do kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; done
  rm -rf "$WORK" "$SHM"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$NATS_SERVER" -a 127.0.0.1 -p "$PORT" -js -sd "$WORK/nats" > /dev/null 2>&1 &
NATS=$!
for _ in $(seq 1 100); do (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null && break; sleep 0.1; done

DB="$WORK/bench.db"
"$WORK/bin/seed_talks" "sqlite://$DB?mode=rwc" "$N" > /dev/null
LAST="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT MAX(seq) FROM change_events").fetchone()[0])' "$DB")"
BYTES="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT SUM(LENGTH(payload)) FROM change_events").fetchone()[0])' "$DB")"
echo "backlog: $LAST events, $((BYTES / LAST)) bytes of state each on average"

START="$(date +%s.%N)"
RUST_LOG=warn "$WORK/bin/lectern" --database-url "sqlite://$DB?mode=rwc" relay \
  --to "nats://127.0.0.1:$PORT" --stream BENCH --subject-prefix bench &
RELAY=$!
# One watcher process polls the position every 5 ms (a process started per poll would take a
# good share of the two cores from the relay and NATS).
python3 - "$DB" "$LAST" << 'EOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
last, deadline = int(sys.argv[2]), time.time() + 300
while True:
    row = db.execute("SELECT seq FROM relay_positions WHERE name = 'BENCH'").fetchone()
    if row and row[0] >= last:
        break
    if time.time() > deadline:
        sys.exit("not caught up in 300 s")
    time.sleep(0.005)
EOF
END="$(date +%s.%N)"
read -r utime stime < <(awk '{ print $14, $15 }' "/proc/$RELAY/stat")
TICKS="$(getconf CLK_TCK)"
HWM="$(awk '/VmHWM/ { print $2 }' "/proc/$RELAY/status")"
python3 - "$START" "$END" "$LAST" "$utime" "$stime" "$TICKS" "$HWM" << 'EOF'
import sys
start, end, events, utime, stime, ticks, hwm = map(float, sys.argv[1:])
secs = end - start
cpu = (utime + stime) / ticks
print(f"relayed {int(events)} events in {secs:.2f} s (from start, connecting and creating the stream included): "
      f"{events / secs:,.0f} events/s; relay CPU {cpu:.2f} s ({cpu / events * 1e6:.1f} µs an event); peak RSS {hwm / 1024:.1f} MB")
EOF

for FOLDER in "$WORK/followed" "$SHM/followed"; do
  echo "== follower: the stream's $LAST events into an empty folder, $FOLDER"
  START="$(date +%s.%N)"
  /usr/bin/time -f "%e s, %M KB peak RSS, %U s user + %S s system" \
    "$WORK/bin/lectern-export" --follow "nats://127.0.0.1:$PORT" --stream BENCH --subject-prefix bench \
    --out "$FOLDER" --once
  END="$(date +%s.%N)"
  python3 -c 'import sys; s = float(sys.argv[2]) - float(sys.argv[1]); n = int(sys.argv[3]); print(f"caught up {n} events in {s:.2f} s: {n / s:,.0f} events/s")' "$START" "$END" "$LAST"
done
"$WORK/bin/lectern-export" --database-url "sqlite://$DB?mode=rwc" --out "$WORK/exported" > /dev/null
for FOLDER in "$WORK/followed" "$SHM/followed"; do
  if diff -r -x .lectern-follow.json "$FOLDER" "$WORK/exported" > /dev/null; then
    echo "$FOLDER equals lectern-export's folder ($(ls "$WORK/exported" | wc -l) documents)"
  else
    echo "$FOLDER differs from lectern-export's folder" >&2; exit 1
  fi
done

echo "== lag from commit to stream at $RATE writes/s"
"$WORK/bin/relay_lag" "sqlite://$DB?mode=rwc" "nats://127.0.0.1:$PORT" bench "$RATE" 20
