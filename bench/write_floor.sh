#!/usr/bin/env bash
# Where a write's CPU goes, from the bottom up, on SQLite: the statements of an edit in SQLite
# alone (bench/write_sqlite.py, Python's sqlite3), then through the pool and the driver, through
# `service::editing::update_talk_from`, and with the talk read first (`write_floor`,
# tests/examples/write_floor.rs), beside one statement that reads nothing and a write
# transaction that writes nothing. `bench/events.sh` gives the same over HTTP, in the server.
#
# Usage: bench/write_floor.sh [TALKS] [WRITES]   (defaults: 2000 talks, as bench/events.sh; 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
TALKS="${1:-2000}"
WRITES="${2:-2000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lectern-target}"

cargo build --release --quiet -p tests --example seed_talks --example write_floor
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

DB="$WORK/talks.db"
RUST_LOG=warn "$BIN/examples/seed_talks" "sqlite://$DB?mode=rwc" "$TALKS" > /dev/null
# Seeding leaves every page in the WAL; each measure starts from the same checkpointed file.
python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA wal_checkpoint(TRUNCATE)")' "$DB"
echo "lectern $(git describe --always --dirty 2> /dev/null || echo '?'), SQLite, $(nproc) cores, $TALKS talks, $WRITES writes per measure"
python3 bench/write_sqlite.py "$DB" "$WRITES"
RUST_LOG=warn "$BIN/examples/write_floor" "sqlite://$DB" "$WRITES"
