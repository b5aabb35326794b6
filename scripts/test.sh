#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors and runs the tests.
# Exits non-zero on any failure.
#   scripts/test.sh            the CI build (build/ci): unit + integration
#   scripts/test.sh asan       the same suite under AddressSanitizer + UBSan
#   scripts/test.sh tsan       the same suite under ThreadSanitizer (Python
#                              package off; suppressions in tests/tsan.supp;
#                              TSAN_OPTIONS in CMakePresets.json, among them
#                              atexit_sleep_ms=0: TSan otherwise sleeps 1 s at
#                              the exit of a process whose LevelDB thread still
#                              runs, which the tests of exit latency measure)
#   scripts/test.sh clang      the same suite built with clang-14 (build/clang):
#                              -Werror with -Wthread-safety, so a GUARDED_BY
#                              field used without its core::Mutex fails the
#                              build; installs clang-14 with apt-get if missing
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
# The default build needs no clang; this mode does (Debian 12's clang-14).
if [ "$preset" = clang ] && ! command -v clang++-14 >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: needs clang-14: sudo apt-get install clang-14" >&2
    exit 69
  fi
  echo "test.sh: installing clang-14" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    clang-14 >/dev/null
fi
cmake --preset "$build" >/dev/null
cmake --build --preset "$build"
ctest --preset "$preset"
