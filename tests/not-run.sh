#!/usr/bin/env bash
# Prints the tests `make test` did not run and why: the #[ignore = "reason"] tests, which run
# only with --run-ignored (make test passes it when root). Usage: tests/not-run.sh default|all
set -euo pipefail
which="${1:-default}"
cd "$(dirname "$0")/.."
list=$(awk '
  /#\[ignore = "/ { r = $0; sub(/.*#\[ignore = "/, "", r); sub(/"\].*/, "", r); reason = r; next }
  reason != "" && /fn [a-z_0-9]+\(/ {
    n = $0; sub(/.*fn /, "", n); sub(/\(.*/, "", n)
    printf "  %s::%s\n      %s\n", FILENAME, n, reason; reason = ""
  }' $(find tests src -name '*.rs' | sort))
count=$(printf '%s' "$list" | grep -c '::' || true)
# The journald tests need systemd-journald's socket; make test leaves them out without it, as root too.
absent=""
if [ ! -S /run/systemd/journal/socket ]; then
  absent=$(printf '%s\n' "$list" | awk '/::/ { name = $0; next } /journald/ { print name; print }')
fi
if [ "$count" = 0 ]; then
  echo "Tests not run: none (no test is marked ignored)."
elif [ "$which" = all ] && [ -n "$absent" ]; then
  n=$(printf '%s' "$absent" | grep -c '::' || true)
  echo "Tests not run ($n of the $count ignored tests, whose requirement is absent here; the others ran, as root):"
  printf '%s\n' "$absent"
elif [ "$which" = all ]; then
  echo "Tests not run: none (the $count ignored tests ran too, as root)."
else
  echo "Tests not run ($count, marked ignored; run make test as root to include them):"
  printf '%s\n' "$list"
fi
