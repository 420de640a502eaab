#!/usr/bin/env bash
# Measures the text repair on generated talk documents in ten languages, damaged the way the seed
# was (UTF-8 read as Windows-1252 or -1254, undefined bytes dropped or kept), and prints, per
# language and per damage, the share of damaged fields restored exactly, reported as a guess, and
# wrong without a report. Usage: bench/repair.sh [DOCUMENTS_PER_LANGUAGE]   (default 40)
# Exits 1 when any field comes back wrong without a report.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-40}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lectern-target}"
cargo run --quiet -p importer --example damage -- --per-language "$N"
