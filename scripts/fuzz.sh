#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang-14, ASan + UBSan)
# and runs one, or each in turn, for SECONDS (docs/FUZZING.md).
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]   e.g. fuzz_config_yaml 60
#   scripts/fuzz.sh all SECONDS                           each target for SECONDS
#   scripts/fuzz.sh list                                  the targets
#
# The run starts from the seeds in fuzz/corpus/TARGET (read only) and keeps
# what it finds in build/fuzz/runs/corpus/TARGET; a crash is written to
# build/fuzz/runs/artifacts/TARGET/ and fails the script (exit 1). Installs clang
# with apt-get if it is missing, so the default build needs no clang.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
targets=(fuzz_config_yaml fuzz_json_value fuzz_track_encode fuzz_spool_value
         fuzz_response fuzz_bundle fuzz_message_fields)

usage() {
  echo "usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer flags...] | list" >&2
  echo "targets: ${targets[*]}" >&2
  exit 64
}

[ $# -ge 1 ] || usage
if [ "$1" = list ]; then
  printf '%s\n' "${targets[@]}"
  exit 0
fi
[ $# -ge 2 ] || usage
what="$1"
seconds="$2"
shift 2
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
if [ "$what" != all ] && [[ ! " ${targets[*]} " == *" $what "* ]]; then
  echo "fuzz.sh: unknown target '$what'" >&2
  usage
fi

# clang-14 and its libFuzzer runtime (Debian 12).
if ! command -v clang++-14 >/dev/null ||
   ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "fuzz.sh: needs clang-14 and libclang-rt-14-dev: sudo apt-get install clang-14 libclang-rt-14-dev" >&2
    exit 69
  fi
  echo "fuzz.sh: installing clang-14 libclang-rt-14-dev" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    clang-14 libclang-rt-14-dev >/dev/null
fi

cd "$root"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
if [ ! -f build/fuzz/CMakeCache.txt ]; then
  cmake --preset fuzz "${launcher[@]}" >/dev/null
fi
if [ "$what" = all ]; then
  cmake --build build/fuzz --target fuzzers -j2 >/dev/null
  run=("${targets[@]}")
else
  cmake --build build/fuzz --target "$what" -j2 >/dev/null
  run=("$what")
fi

status=0
for t in "${run[@]}"; do
  corpus="build/fuzz/runs/corpus/$t"
  artifacts="build/fuzz/runs/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  echo "fuzz.sh: $t for ${seconds}s" >&2
  # -rss_limit_mb: a target that grows past 2 GB is a finding too.
  if ! "build/fuzz/bin/$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" \
      "$corpus" "fuzz/corpus/$t" 2> "build/fuzz/runs/$t.log"; then
    echo "fuzz.sh: $t FAILED; see build/fuzz/runs/$t.log and $artifacts/" >&2
    tail -n 30 "build/fuzz/runs/$t.log" >&2
    status=1
    continue
  fi
  # The summary: executions, coverage (cov: edges, ft: features), corpus.
  grep -E '^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss_mb' \
    "build/fuzz/runs/$t.log" | tail -n 3 >&2 || true  # -fork=N prints none
done
exit $status
