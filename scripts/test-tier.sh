#!/usr/bin/env bash
# Runs one tier of the compiled tests, dist/test/<tier>/**/*.test.js, with
# node's test runner; any further arguments go to `node --test`. A tier with
# no test files (interop before its first test) says so and passes.
set -euo pipefail
tier=$1
shift
mapfile -t files < <(find "dist/test/$tier" -name '*.test.js' 2>/dev/null | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no $tier tests in dist/test/$tier"
  exit 0
fi
exec node --test "$@" "${files[@]}"
