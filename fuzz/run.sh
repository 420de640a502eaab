#!/usr/bin/env bash
# Seeds the corpora and fuzzes every target in turn, SECONDS each (default 600), then prints
# each target's final libFuzzer lines. Needs cargo-fuzz (`cargo install cargo-fuzz --locked`);
# on a stable toolchain RUSTC_BOOTSTRAP=1 lets cargo-fuzz use its sanitizer flags.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   (targets default to: document repair cursor)
# Environment: CARGO_TARGET_DIR (default /var/tmp/lectern-fuzz-target), LECTERN_CORPUS.
set -euo pipefail

seconds="${1:-600}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(document repair cursor)
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -lt 1 ]]; then
  echo "usage: fuzz/run.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lectern-fuzz-target}"
mkdir -p "$here/logs"

"$here/seed.sh"
cd "$root"
# Built first, so that the time limit below is fuzzing time only.
cargo fuzz build --fuzz-dir fuzz

status=0
for target in "${targets[@]}"; do
  log="$here/logs/$target.log"
  echo "== $target: fuzzing for ${seconds}s (log: $log)"
  # libFuzzer stops itself after -max_total_time; the timeout is a backstop (`cargo fuzz run`
  # rebuilds first when the sources changed).
  if timeout --kill-after=30 "$((seconds + 900))" \
    cargo fuzz run "$target" --fuzz-dir fuzz -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (exit $?; see $log and fuzz/artifacts/$target/)"
    status=1
  fi
  grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || tail -n 20 "$log"
  echo "== $target: $result; corpus: $(find "$here/corpus/$target" -type f | wc -l) files"
done
exit "$status"
