#!/usr/bin/env bash
# Regenerates the configuration table in README.md from the settings table of a built elk-extension.
# Usage: scripts/readme-settings.sh [path/to/elk-extension]
set -euo pipefail
bin=${1:-build/release/elk-extension}
table=$(mktemp)
"$bin" --settings-markdown > "$table"
awk -v table="$table" '
  /<!-- settings:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
  /<!-- settings:end -->/   { skip = 0 }
  !skip { print }' README.md > README.md.new
mv README.md.new README.md
rm -f "$table"
