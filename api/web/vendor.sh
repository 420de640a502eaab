#!/usr/bin/env bash
# The browser files Lectern serves from its own origin (GraphiQL, React and htmx), taken once from
# the npm registry with `npm pack` and committed under api/web/vendor/ with their licences and
# SHA256SUMS. The binary embeds them; nothing is fetched at build or run time.
#
# Usage: api/web/vendor.sh           fetch the packages below again and rewrite vendor/
#        api/web/vendor.sh --check   check the committed files against vendor/SHA256SUMS
set -euo pipefail
cd "$(dirname "$0")/vendor"

if [ "${1:-}" = "--check" ]; then
  exec sha256sum --quiet --check SHA256SUMS
fi

# package@version  file in the package  name served
FILES=(
  "react@18.3.1 umd/react.production.min.js react.production.min.js"
  "react-dom@18.3.1 umd/react-dom.production.min.js react-dom.production.min.js"
  "graphiql@4.1.2 graphiql.min.js graphiql.min.js"
  "graphiql@4.1.2 graphiql.min.css graphiql.min.css"
  "htmx.org@2.0.11 dist/htmx.min.js htmx.min.js"
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
: > "$work/PACKAGES"
for entry in "${FILES[@]}"; do
  read -r package file name <<< "$entry"
  dir="$work/${package//[@\/]/_}"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$package" > tarball && tar xzf "$(cat tarball)")
    integrity="$(cd "$dir" && npm view "$package" dist.integrity)"
    echo "$package $integrity" >> "$work/PACKAGES"
    licence="$(ls "$dir/package" | grep -i -m1 '^licen[cs]e')"
    mkdir -p licenses
    cp "$dir/package/$licence" "licenses/${package%@*}.LICENSE"
  fi
  cp "$dir/package/$file" "$name"
done
cp "$work/PACKAGES" PACKAGES
sha256sum -- *.js *.css licenses/* PACKAGES | grep -v ' SHA256SUMS$' > SHA256SUMS
echo "vendored:"; cat PACKAGES
