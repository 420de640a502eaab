#!/usr/bin/env bash
# Loads the release build of `lectern` (SQLite) with wrk on loopback and prints requests/s,
# p50/p99 latency and peak resident memory for: GET /healthz (the machine's ceiling), the
# `talks(first: 20)` list with resources and embeds, and `talk(slug:)` with resources and
# embeds, in one run so that their ratios hold.
#
# Usage: bench/http.sh [TALKS] [SECONDS] [CONNECTIONS]   (defaults: 1000 30 32)
# LECTERN_CACHE_MB=0 bench/http.sh   measures without the response cache.
# LECTERN_BIN=PATH serves with that `lectern` binary (another commit's build, to compare two
# builds on the same machine one run after the other) instead of this checkout's.
# Each run prints the server's CPU time per request (from /proc). The two GraphQL requests are
# then loaded again from a single connection, one request at a time: the latency of a request
# that has the server to itself.
# PROFILE=1 also samples the server with `perf record` (Debian's linux-perf, installed when
# missing) during each GraphQL run and prints the profile's top entries (self time).
# Then the floor: `read_floor --serve` (tests/examples/read_floor.rs) answers the same two
# requests over HTTP from a GraphQL schema holding Lectern's answers in memory (no database, no
# cache, none of Lectern's resolvers), loaded by wrk as Lectern was. Last, `read_floor` reads the
# same page and talk without HTTP, one request at a time: through the service functions alone,
# then through GraphQL, then from memory.
set -euo pipefail
cd "$(dirname "$0")/.."
TALKS="${1:-1000}"
SECONDS_PER_RUN="${2:-30}"
CONNECTIONS="${3:-32}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lectern-target}"

if ! command -v wrk > /dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk > /dev/null
fi
if [ -n "${PROFILE:-}" ] && ! command -v perf > /dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq linux-perf > /dev/null
fi
cargo build --release --quiet -p api --bin lectern -p tests --example seed_talks --example read_floor
BIN="$CARGO_TARGET_DIR/release"
LECTERN="${LECTERN_BIN:-$BIN/lectern}"

WORK="$(mktemp -d)"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2> /dev/null && wait "$SERVER" 2> /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

DB="sqlite://$WORK/bench.db?mode=rwc"
"$BIN/examples/seed_talks" "$DB" "$TALKS"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
RUST_LOG=warn "$LECTERN" --database-url "$DB" --addr "127.0.0.1:$PORT" &
SERVER=$!
for _ in $(seq 1 100); do
  curl -fs "$URL/healthz" > /dev/null && break
  sleep 0.1
done
curl -fs "$URL/healthz" > /dev/null || { echo "lectern did not start" >&2; exit 1; }

FIELDS='id slug title date event location imageUrl pdfUrl excerpt resources { title url description } embeds { kind html tweet { url author handle text date } video { src provider } }'
printf '{"query":"{ talks(first: 20) { totalCount pageInfo { hasNextPage endCursor } nodes { %s } } }"}' "$FIELDS" > "$WORK/list.json"
SLUG="$(printf 'talk-%06d' $((TALKS / 2)))"
printf '{"query":"query ($slug: String!) { talk(slug: $slug) { %s bodyHtml } }","variables":{"slug":"%s"}}' "$FIELDS" "$SLUG" > "$WORK/talk.json"
for request in list talk; do
  body="$(curl -fs -H 'Content-Type: application/json' --data-binary "@$WORK/$request.json" "$URL/graphql")"
  case "$body" in *'"errors"'*|*'"data":null'*|*'"talk":null'*) echo "$request query failed: $body" >&2; exit 1 ;; esac
done

# Peak resident memory of the server, sampled while the load runs.
PEAK_FILE="$WORK/peak"
echo 0 > "$PEAK_FILE"
(
  peak=0
  while kill -0 "$SERVER" 2> /dev/null; do
    rss="$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER/status" 2> /dev/null || echo 0)"
    [ "${rss:-0}" -gt "$peak" ] && peak="$rss" && echo "$peak" > "$PEAK_FILE"
    sleep 0.2
  done
) &
SAMPLER=$!

ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER/stat"; }

run() { # label, path, [body file], [connections]
  local label="$1" path="$2" body="${3:-}" connections="${4:-$CONNECTIONS}" out="$WORK/wrk.out"
  local perf_pid="" threads=2
  [ "$connections" -lt 2 ] && threads=1
  # Sampling starts before the load and lasts as long as it does.
  if [ -n "${PROFILE:-}" ] && [ -n "$body" ]; then
    perf record -q -e cpu-clock -F 499 -g -o "$WORK/perf.data" -p "$SERVER" -- sleep "$SECONDS_PER_RUN" 2> /dev/null &
    perf_pid=$!
  fi
  local before
  before="$(ticks)"
  if [ -n "$body" ]; then
    GRAPHQL_BODY="$body" wrk -t"$threads" -c"$connections" -d"${SECONDS_PER_RUN}s" --latency -s bench/wrk/graphql.lua "$URL$path" > "$out"
  else
    wrk -t"$threads" -c"$connections" -d"${SECONDS_PER_RUN}s" --latency "$URL$path" > "$out"
  fi
  local rps p50 p99 errors requests cpu
  requests="$(awk '/requests in/ { print $1 }' "$out")"
  # Clock ticks are 1/100 s.
  cpu="$(awk -v t="$(( $(ticks) - before ))" -v n="$requests" 'BEGIN { printf "%.0f", t * 10000 / n }')"
  rps="$(awk '/^Requests\/sec/ { print $2 }' "$out")"
  p50="$(awk '$1 == "50%" { print $2 }' "$out")"
  p99="$(awk '$1 == "99%" { print $2 }' "$out")"
  errors="$(awk '/Non-2xx|Socket errors/ { $1 = $1; print }' "$out" | paste -sd ';' -)"
  printf '%-32s %10s req/s   p50 %8s   p99 %8s   server CPU %5s µs/request   %s\n' "$label" "$rps" "$p50" "$p99" "$cpu" "$errors"
  echo "$rps" > "$WORK/$label.rps"
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" 2> /dev/null || true
    echo "  profile of the server ($label), self time, top entries:"
    perf report -i "$WORK/perf.data" --no-children --sort symbol --percent-limit 1.5 --stdio 2> /dev/null \
      | grep -E '^ +[0-9.]+%' | head -n 25 | cut -c1-150
  fi
}

echo "lectern $(git describe --always --dirty 2> /dev/null || echo '?')${LECTERN_BIN:+ (serving with $LECTERN_BIN)}, $TALKS talks, ${SECONDS_PER_RUN}s per run, $CONNECTIONS connections, cache ${LECTERN_CACHE_MB:-32} MiB"
run healthz /healthz
run "talks(first: 20)" /graphql "$WORK/list.json"
run "talk(slug:)" /graphql "$WORK/talk.json"
run "talks(first: 20), 1 connection" /graphql "$WORK/list.json" 1
run "talk(slug:), 1 connection" /graphql "$WORK/talk.json" 1
kill "$SAMPLER" 2> /dev/null || true
wait "$SAMPLER" 2> /dev/null || true
awk -v list="$(cat "$WORK/talks(first: 20).rps")" -v health="$(cat "$WORK/healthz.rps")" \
  'BEGIN { printf "list / healthz: %.1f%%\n", 100 * list / health }'
echo "peak RSS under load: $(( $(cat "$PEAK_FILE") / 1024 )) MB"
kill "$SERVER" 2> /dev/null && wait "$SERVER" 2> /dev/null
SERVER=""

echo "floor: the same requests answered from memory by async-graphql behind actix-web"
"$BIN/examples/read_floor" "$DB" --serve "127.0.0.1:$PORT" "$SLUG" > /dev/null &
SERVER=$!
for _ in $(seq 1 100); do
  curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$WORK/list.json" "$URL/graphql" && break
  sleep 0.1
done
for request in list talk; do
  body="$(curl -fs -H 'Content-Type: application/json' --data-binary "@$WORK/$request.json" "$URL/graphql")"
  case "$body" in *'"errors"'*|*'"data":null'*|*'"talk":null'*) echo "floor: $request query failed: $body" >&2; exit 1 ;; esac
done
run "floor: talks(first: 20)" /graphql "$WORK/list.json"
run "floor: talk(slug:)" /graphql "$WORK/talk.json"
kill "$SERVER" 2> /dev/null && wait "$SERVER" 2> /dev/null
SERVER=""

"$BIN/examples/read_floor" "$DB" "${FLOOR_ITERATIONS:-2000}"
