#!/usr/bin/env bash
# Times lectern-import (release build, SQLite) on the corpus and on N synthetic documents,
# reporting wall time and peak resident memory. Usage: bench/import.sh [N]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
CORPUS="${LECTERN_CORPUS:-$(cd .. && pwd)/shared/corpus}/talks"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lectern-target}"
cargo build --release --quiet -p importer --bin lectern-import
BIN="$CARGO_TARGET_DIR/release/lectern-import"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

measure() { # label, database file, paths...
  local label="$1" db="$2"; shift 2
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" --database-url "sqlite://$db?mode=rwc" "$@" > "$WORK/out"
  read -r secs kib < "$WORK/time"
  printf '%-34s %7.2f s  %6.1f MB peak RSS   %s\n' "$label" "$secs" "$(echo "$kib/1024" | bc -l)" "$(tail -n1 "$WORK/out")"
}

python3 bench/gen_talks.py "$N" "$WORK/synthetic"
measure "corpus (124 docs), empty db" "$WORK/corpus.db" "$CORPUS"
measure "corpus again (all unchanged)" "$WORK/corpus.db" "$CORPUS"
measure "$N synthetic docs, empty db" "$WORK/synthetic.db" "$WORK/synthetic"
measure "$N synthetic docs again" "$WORK/synthetic.db" "$WORK/synthetic"
