#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors and runs the tests.
# Exits non-zero on any failure.
#   scripts/test.sh            the CI build (build/ci): unit + integration
#   scripts/test.sh asan       the same suite under AddressSanitizer + UBSan
#   scripts/test.sh tsan       the same suite under ThreadSanitizer (Python
#                              package off; suppressions in tests/tsan.supp)
#   scripts/test.sh soak       the soak tests (10,000 one-event processes, the
#                              8-process CLI + uploader run) on the CI build
#   scripts/test.sh package    builds the Debian packages (Release, tests off)
#                              and checks them, a consumer included
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-ci}"
build="$preset"
case "$preset" in
  soak | package) build=ci ;;
esac

scripts/bootstrap.sh
cmake --preset "$build" >/dev/null
cmake --build --preset "$build"
ctest --preset "$preset"
