#!/usr/bin/env bash
# Assets, on the release build and SQLite, everything on loopback:
#  1. `lectern-import --assets` of the corpus with a generated static folder (a 1280 × 720 slide
#     image and a PDF of 8 to 40 JPEG slides for every document, as `tests/examples/gen_site.rs`
#     makes them): wall time and peak resident memory, into an empty database and again.
#  2. First-time transforms: PHOTOS distinct 4000 × 3000 JPEGs uploaded, each then asked for
#     800 px wide once (the variant is rendered, stored and served by that one request).
#  3. A stored variant (and the original) of a published talk's image under wrk.
#
# Usage: bench/assets.sh [SECONDS] [CONNECTIONS] [PHOTOS]   (defaults: 10 32 10)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-32}"
PHOTOS="${3:-10}"
CORPUS="${LECTERN_CORPUS:-$(cd .. && pwd)/shared/corpus}/talks"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lectern-target}"

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v wrk > /dev/null || ! command -v pdftoppm > /dev/null; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk poppler-utils > /dev/null
fi
cargo build --release --quiet -p api --bin lectern -p importer --bin lectern-import -p tests --example gen_site
WORK="$(mktemp -d -t lectern-assets.XXXXXX)"
# Copied once built, so that another build into the shared target folder cannot swap them.
mkdir -p "$WORK/bin"
cp "$CARGO_TARGET_DIR/release/lectern" "$CARGO_TARGET_DIR/release/lectern-import" \
  "$CARGO_TARGET_DIR/release/examples/gen_site" "$WORK/bin/"
BIN="$WORK/bin"
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== a static folder for the corpus"
"$BIN/gen_site" "$CORPUS" "$WORK/site"
DB="sqlite://$WORK/lectern.db?mode=rwc"
import() { # label
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN/lectern-import" --database-url "$DB" \
    --assets "$WORK/site" "$CORPUS" > "$WORK/out"
  read -r secs kib < "$WORK/time"
  printf '%-32s %6.2f s  %6.1f MB peak RSS   %s\n' "$1" "$secs" "$(echo "$kib/1024" | bc -l)" \
    "$(tail -n1 "$WORK/out")"
}
import "import, empty database"
import "import again (all unchanged)"

echo "== the server"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
export LECTERN_PASSWORD="bench-editor-password"
export LECTERN_JWT_SECRET
LECTERN_JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
RUST_LOG=warn "$BIN/lectern" --database-url "$DB" user add --email bench@example.com --role editor > /dev/null
RUST_LOG=warn "$BIN/lectern" --database-url "$DB" --addr "127.0.0.1:$PORT" &
SERVER=$!
for _ in $(seq 1 100); do
  curl -fs "$URL/healthz" > /dev/null && break
  sleep 0.1
done
TOKEN="$(curl -fs "$URL/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\": \"bench@example.com\", \"password\": \"$LECTERN_PASSWORD\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])')"

echo "== first-time transforms: 4000 × 3000 JPEG to 800 px wide"
"$BIN/gen_site" --photos "$PHOTOS" "$WORK/photos"
: > "$WORK/times"
for photo in "$WORK"/photos/*.jpg; do
  id="$(curl -fs "$URL/api/v1/assets" -H "authorization: Bearer $TOKEN" -F "file=@$photo" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
  curl -fs -o "$WORK/variant" -w '%{time_total}\n' -H "authorization: Bearer $TOKEN" \
    "$URL/assets/$id?width=800" >> "$WORK/times"
done
python3 - "$WORK/times" "$WORK/variant" << 'EOF'
import struct, sys
times = sorted(float(t) * 1000 for t in open(sys.argv[1]))
data = open(sys.argv[2], "rb").read()
print(f"{len(times)} transforms: min {times[0]:.0f} ms, median {times[len(times) // 2]:.0f} ms, max {times[-1]:.0f} ms "
      f"(each variant {len(data) // 1024} KB)")
EOF

echo "== a stored variant and an original, under wrk ($CONNECTIONS connections, ${SECONDS_PER_RUN}s)"
ASSET="$(curl -fs "$URL/api/v1/talks?limit=1" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["image_asset_id"])')"
for path in "/assets/$ASSET?width=800" "/assets/$ASSET"; do
  curl -fs -o "$WORK/one" -D "$WORK/headers" "$URL$path"
  printf '%s: %s bytes, %s\n' "$path" "$(wc -c < "$WORK/one")" \
    "$(grep -i '^cache-control' "$WORK/headers" | tr -d '\r')"
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$URL$path" |
    grep -E 'Requests/sec|50%|99%|Non-2xx' | sed 's/^/  /'
done
printf 'server peak RSS: %s\n' "$(grep VmHWM "/proc/$SERVER/status" | awk '{ printf "%.1f MB", $2 / 1024 }')"
