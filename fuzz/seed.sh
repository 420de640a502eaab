#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs from the shared talk corpus (never committed):
#   document: every talk document, clean and damaged;
#   repair:   the same documents, and each non-blank line of them (short inputs run faster);
#   cursor:   a few cursors as the API hands them out, and the JSON inside them.
# Usage: fuzz/seed.sh [CORPUS_DIR]   (default: $LECTERN_CORPUS, else ../shared/corpus)
set -euo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${1:-${LECTERN_CORPUS:-$here/../../shared/corpus}}"
if [[ ! -d "$src/talks" ]]; then
  echo "seed.sh: no talk corpus at $src/talks (pass the folder that holds talks/ and seed/)" >&2
  exit 1
fi

mkdir -p "$here/corpus/document" "$here/corpus/repair" "$here/corpus/cursor"

n=0
for f in "$src"/talks/*.md "$src"/seed/*.md; do
  [[ -f "$f" ]] || continue
  name="$(basename "$(dirname "$f")")-$(basename "$f")"
  cp "$f" "$here/corpus/document/$name"
  cp "$f" "$here/corpus/repair/$name"
  # One file per distinct line with non-ASCII text: the interesting ones for the repair.
  while IFS= read -r line; do
    if [[ "$line" == *[^\ -~]* ]]; then
      sum="$(printf '%s' "$line" | sha1sum | cut -c1-16)"
      printf '%s' "$line" >"$here/corpus/repair/line-$sum"
    fi
  done <"$f"
  n=$((n + 1))
done

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
i=0
for json in \
  '{"field":"Date","key":"2019-10-24T08:00:00","id":"01920f3e-7b2a-7c3d-8e4f-5a6b7c8d9e0f"}' \
  '{"field":"Title","key":"The Changing Face of ETL: Event-Driven Architectures","id":"00000000-0000-0000-0000-000000000000"}' \
  '{"field":"UpdatedAt","key":"2025-01-16T10:20:30.123456+00:00","id":"ffffffff-ffff-4fff-bfff-ffffffffffff"}' \
  '{"field":"Relevance","key":"17","id":"01920f3e-7b2a-7c3d-8e4f-5a6b7c8d9e0f"}' \
  '{"field":"Title","key":"Øredev — “Kafka” 💬 \u00e9","id":"01920f3e7b2a7c3d8e4f5a6b7c8d9e0f"}'; do
  i=$((i + 1))
  printf '%s' "$json" >"$here/corpus/cursor/json-$i"
  printf '%s' "$json" | b64url >"$here/corpus/cursor/cursor-$i"
done

echo "seeded from $src: $n documents; document $(ls "$here/corpus/document" | wc -l), repair $(ls "$here/corpus/repair" | wc -l), cursor $(ls "$here/corpus/cursor" | wc -l) files"
