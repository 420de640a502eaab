#!/usr/bin/env bash
# Lectern Studio on a large archive: the server time of the talks list (first page, a search,
# filters, another order, a later page) with TALKS talks, and the bytes a first visit
# transfers (sign-in page, its script and style files, signing in, the list), compressed as a
# browser asks for them. Release build, SQLite, loopback only.
#
# Usage: bench/studio.sh [TALKS] [REQUESTS]   (defaults: 10000 200)
# Server time is curl's time to the first byte of each answer, one request at a time (the
# page is rendered whole before its first byte is sent); p50, p95 and the slowest are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
TALKS="${1:-10000}"
REQUESTS="${2:-200}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lectern-target}"
cargo build --release --quiet -p api --bin lectern -p tests --example seed_talks
BIN="$CARGO_TARGET_DIR/release"

WORK="$(mktemp -d)"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2> /dev/null && wait "$SERVER" 2> /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

DB="sqlite://$WORK/bench.db?mode=rwc"
"$BIN/examples/seed_talks" "$DB" "$TALKS" > /dev/null
export LECTERN_PASSWORD="a long password for the bench"
"$BIN/lectern" --database-url "$DB" user add --email bench@example.com --role editor > /dev/null 2>&1
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
RUST_LOG=warn "$BIN/lectern" --database-url "$DB" --addr "127.0.0.1:$PORT" &
SERVER=$!
for _ in $(seq 1 100); do
  curl -fs "$URL/healthz" > /dev/null && break
  sleep 0.1
done
curl -fs "$URL/healthz" > /dev/null || { echo "lectern did not start" >&2; exit 1; }

# A first visit, as a browser makes it: every byte received, headers included, gzip accepted.
JAR="$WORK/cookies"
fetch() { # method, path, [form data]; prints bytes received
  local args=(-s -o "$WORK/body" -w '%{size_header} %{size_download}' -b "$JAR" -c "$JAR"
    -H 'Accept-Encoding: gzip' -H 'Accept: text/html')
  if [ "$1" = POST ]; then args+=(--data "$3"); fi
  curl "${args[@]}" "$URL$2" | awk '{ print $1 + $2 }'
}
total=0
visit() { # label, method, path, [form data]
  local bytes
  bytes="$(fetch "$2" "$3" "${4:-}")"
  total=$((total + bytes))
  printf '  %-44s %8d bytes\n' "$1" "$bytes"
}
echo "lectern $(git describe --always --dirty 2> /dev/null || echo '?'), $TALKS talks"
echo "first visit (compressed, headers included):"
visit "GET /studio/login" GET /studio/login
LOGIN_PAGE="$(curl -s "$URL/studio/login")"
for asset in $(grep -o '/static/[0-9a-f]*/[^"]*' <<< "$LOGIN_PAGE" | sort -u); do
  visit "GET ${asset#/static/*/}" GET "$asset"
done
# The sign-in form's token goes with the cookie the same page set: one more fetch, with the jar.
CSRF="$(curl -s -b "$JAR" -c "$JAR" "$URL/studio/login" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//; s/"//')"
visit "POST /studio/login" POST /studio/login "csrf=$CSRF&email=bench%40example.com&password=a+long+password+for+the+bench&next=%2Fstudio%2Ftalks"
visit "GET /studio/talks (50 of $TALKS talks)" GET /studio/talks
grep -q 'class="talks"' "$WORK/body" || { gunzip -c "$WORK/body" 2> /dev/null | grep -q 'class="talks"' || { echo "the list did not render" >&2; exit 1; }; }
printf '  %-44s %8d bytes (%d KB)\n' "total" "$total" $((total / 1024))

# Server time of list pages.
NEXT="$(curl -s -b "$JAR" "$URL/studio/talks?sort=title" | grep -o 'href="[^"]*" rel="next"' | sed 's/href="//; s/" rel="next"//; s/&#38;/\&/g')"
echo "server time, $REQUESTS requests each, one at a time:"
for path in "/studio/talks" "/studio/talks?q=performance" "/studio/talks?status=published&year=2019" \
  "/studio/talks?sort=title" "$NEXT" "/studio/talks?sort=updated"; do
  status="$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" "$URL$path")"
  [ "$status" = 200 ] || { echo "$path answered $status" >&2; exit 1; }
  for _ in $(seq 1 "$REQUESTS"); do
    curl -s -o /dev/null -w '%{time_starttransfer}\n' -b "$JAR" -H 'Accept-Encoding: gzip' "$URL$path"
  done | sort -n | awk -v label="$path" '
    { t[NR] = $1 * 1000 }
    END { printf "  %-48s p50 %6.2f ms   p95 %6.2f ms   max %6.2f ms\n", substr(label, 1, 48), t[int(NR * 0.5)], t[int(NR * 0.95)], t[NR] }'
done
