#!/usr/bin/env bash
# Mixed load: 90% reads (GraphQL talk(slug:) and talks(first: 20) with resources and embeds, REST
# GET of a talk and of a page of talks) and 10% writes (REST and GraphQL creates and updates of
# talks, resources and embeds, with If-Match / expectedVersion; each connection writes only the
# talks it created, so no write can legitimately conflict), closed-loop at CONNECTIONS connections,
# against the release build of `lectern` on a fresh database holding the imported corpus.
#
# Prints requests/s, p50/p99 latency (reads, writes, all), the error count (any non-2xx, GraphQL
# error, transport failure or wrong answer) and the server's VmRSS at the start, after a 10 s
# warm-up and at the end. Exits non-zero on any error, or when the end's VmRSS exceeds the
# post-warm-up one by more than 20%.
#
# Usage: bench/load.sh [--postgres] [SECONDS] [CONNECTIONS]     (defaults: 60 32)
# Environment: WARMUP (10), WRITE_PERCENT (10), LECTERN_CACHE_MB (the server's default),
#   LECTERN_BENCH_PG (postgres://postgres@127.0.0.1:5432) for --postgres, LECTERN_CORPUS.
# The driver is tests/examples/load/ (`load mixed`; `load --help` lists its modes); it targets
# 127.0.0.1 only and stops after SECONDS (and at most 10,000,000 requests). Its editor token
# goes through the environment (LECTERN_LOAD_TOKEN), never its command line.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=sqlite
if [ "${1:-}" = "--postgres" ]; then BACKEND=postgres; shift; fi
DURATION="${1:-60}"
CONNECTIONS="${2:-32}"
WARMUP="${WARMUP:-10}"
WRITE_PERCENT="${WRITE_PERCENT:-10}"
# shellcheck source=bench/lib.sh
. bench/lib.sh
trap lectern_cleanup EXIT

lectern_build
new_database "$BACKEND" load
echo "lectern $(git describe --always --dirty 2> /dev/null || echo '?'), $BACKEND, $(nproc) cores," \
  "${DURATION}s after a ${WARMUP}s warm-up, $CONNECTIONS connections, $WRITE_PERCENT% writes"
summary="$(import_corpus)"
echo "import: $summary"
issue_token
LOG="$WORK/server.log"
start_server "$LOG"
echo "load average before: $(loadavg)"
status=0
"$BIN/load" mixed --url "http://$ADDRESS" --seconds "$DURATION" --warmup "$WARMUP" \
  --connections "$CONNECTIONS" --write-percent "$WRITE_PERCENT" --server-pid "$SERVER" \
  --clk-tck "$(getconf CLK_TCK)" || status=$?
echo "load average after: $(loadavg)"
if grep -qiE 'panicked|ERROR' "$LOG"; then
  echo "server log, errors:"
  grep -iE 'panicked|ERROR' "$LOG" | head -n 10 || true
fi
if [ "$status" -eq 0 ]; then echo "PASS: mixed load ($BACKEND)"; else echo "FAIL: mixed load ($BACKEND)"; fi
exit "$status"
