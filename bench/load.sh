#!/usr/bin/env bash
# Two modes against the release build of `lectern` on a fresh database holding the imported
# corpus, every answer checked.
#
# Mixed load (the default): 90% reads (GraphQL talk(slug:) and talks(first: 20) with resources
# and embeds, REST GET of a talk and of a page of talks) and 10% writes (REST and GraphQL creates
# and updates of talks, resources and embeds, with If-Match / expectedVersion; each connection
# writes only the talks it created, so no write can legitimately conflict), closed-loop at
# CONNECTIONS connections. Prints requests/s, p50/p99 latency (reads, writes, all), the error
# count (any non-2xx, GraphQL error, transport failure or wrong answer) and the server's VmRSS
# at the start, after a 10 s warm-up and at the end. Exits non-zero on any error, or when the
# end's VmRSS exceeds the post-warm-up one by more than 20%.
#
# Steady state (--steady): reads while writing, with the server's response cache on (its
# default). CONNECTIONS closed-loop connections read (single talks through GraphQL and REST,
# GraphQL lists on the first page, by event, by year and searching a word, the REST list) while
# writes editing the corpus's published talks (title, location, abstract, a resource; spread
# round-robin over every talk, one at a time per talk) are sent on a fixed schedule. One run,
# one server, one phase per rate of RATES in order (writes/s, comma-separated), each WARMUP
# seconds and then STEADY_SECONDS measured. Every talk in every answer must be at least at the
# version a write acknowledged before the read was sent, with that version's title and
# location; an older one is a stale answer. Prints one RESULT line per phase (reads/s and
# p50/p99, writes/s achieved and p50/p99, stale answers, errors, the server's CPU in cores, its
# VmRSS after the warm-up and at the end, and its response cache lookups by outcome, read from
# /metrics before and after the phase). Exits non-zero on any error or stale answer, or
# when the server's VmRSS at a phase's end exceeds its post-warm-up level by more than 10%
# (MAX_RSS_GROWTH): `STEADY_SECONDS=600 bench/load.sh --steady 50` is the long run for memory.
#
# LECTERN_BIN=PATH serves with that `lectern` binary instead of this checkout's build.
#
# Usage: bench/load.sh [--postgres] [SECONDS] [CONNECTIONS]               (defaults: 60 32)
#        bench/load.sh [--postgres] --steady [RATES] [CONNECTIONS]        (defaults: 0,10,50,200 32)
# Environment: WARMUP (10), WRITE_PERCENT (10), STEADY_SECONDS (30), MAX_RSS_GROWTH (10),
#   LECTERN_CACHE_MB (the server's default), LECTERN_BENCH_PG (postgres://postgres@127.0.0.1:5432)
#   for --postgres, LECTERN_CORPUS.
# The driver is tests/examples/load/ (`load mixed`, `load steady`; `load --help` lists its
# modes); it targets 127.0.0.1 only and stops after its seconds (and at most 10,000,000
# requests). Its editor token goes through the environment (LECTERN_LOAD_TOKEN), never its
# command line.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=sqlite
MODE=mixed
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) BACKEND=postgres ;;
    --steady) MODE=steady ;;
    *) break ;;
  esac
  shift
done
if [ "$MODE" = steady ]; then
  RATES="${1:-0,10,50,200}"
  DURATION="${STEADY_SECONDS:-30}"
else
  DURATION="${1:-60}"
fi
CONNECTIONS="${2:-32}"
WARMUP="${WARMUP:-10}"
WRITE_PERCENT="${WRITE_PERCENT:-10}"
MAX_RSS_GROWTH="${MAX_RSS_GROWTH:-10}"
# shellcheck source=bench/lib.sh
. bench/lib.sh
trap lectern_cleanup EXIT

lectern_build
new_database "$BACKEND" load
if [ "$MODE" = steady ]; then
  echo "lectern $(git describe --always --dirty 2> /dev/null || echo '?'), $BACKEND, $(nproc) cores, steady state:" \
    "writes/s $RATES, each phase ${DURATION}s after a ${WARMUP}s warm-up, $CONNECTIONS connections reading," \
    "LECTERN_CACHE_MB=${LECTERN_CACHE_MB:-(default)}"
else
  echo "lectern $(git describe --always --dirty 2> /dev/null || echo '?'), $BACKEND, $(nproc) cores," \
    "${DURATION}s after a ${WARMUP}s warm-up, $CONNECTIONS connections, $WRITE_PERCENT% writes"
fi
summary="$(import_corpus)"
echo "import: $summary"
issue_token
LOG="$WORK/server.log"
start_server "$LOG"
echo "load average before: $(loadavg)"
status=0
if [ "$MODE" = steady ]; then
  "$BIN/load" steady --url "http://$ADDRESS" --rates "$RATES" --seconds "$DURATION" --warmup "$WARMUP" \
    --connections "$CONNECTIONS" --max-rss-growth "$MAX_RSS_GROWTH" --server-pid "$SERVER" \
    --clk-tck "$(getconf CLK_TCK)" || status=$?
else
  "$BIN/load" mixed --url "http://$ADDRESS" --seconds "$DURATION" --warmup "$WARMUP" \
    --connections "$CONNECTIONS" --write-percent "$WRITE_PERCENT" --server-pid "$SERVER" \
    --clk-tck "$(getconf CLK_TCK)" || status=$?
fi
echo "load average after: $(loadavg)"
if grep -qiE 'panicked|ERROR' "$LOG"; then
  echo "server log, errors:"
  grep -iE 'panicked|ERROR' "$LOG" | head -n 10 || true
fi
NAME="mixed load"
if [ "$MODE" = steady ]; then NAME="steady state"; fi
if [ "$status" -eq 0 ]; then echo "PASS: $NAME ($BACKEND)"; else echo "FAIL: $NAME ($BACKEND)"; fi
exit "$status"
