#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors and runs every test.
# Exits non-zero on any failure.
#   scripts/test.sh            the CI build (build/ci)
#   scripts/test.sh asan       the same suite under AddressSanitizer + UBSan
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-ci}"

scripts/bootstrap.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset"
