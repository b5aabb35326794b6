#!/usr/bin/env bash
# Every headline figure of docs/BENCHMARKS.md in one command, on a fresh
# Debian 12 machine (as root, for apt-get): installs what is missing, builds
# the `bench` preset (Release, benchmarks on) and runs each benchmark, printing
# each figure as a ratio against its baseline measured in the same run, with
# its median and range, and the load average before and after each section.
#
#   scripts/bench.sh            every section (~15 min on 2 cores)
#   scripts/bench.sh quick      fewer repetitions, 100,000 instead of 1,000,000
#                               events (~6 min): a smoke test, not for the docs
#   scripts/bench.sh SECTION... only these: spool client upload dump python
#                               oneshot (the one-shot CLI figure alone; also
#                               part of client)
#
# Databases go under $ZENML_BENCH_DIR (default /var/tmp), which must be on a
# real disk: on tmpfs fsync is free and the ratios mean nothing. Traffic goes
# to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
sections=()
for a in "$@"; do
  case "$a" in
    quick) quick=1 ;;
    spool | client | oneshot | upload | dump | python) sections+=("$a") ;;
    *)
      echo "bench.sh: unknown argument '$a' (quick, spool, client, oneshot, upload, dump, python)" >&2
      exit 64
      ;;
  esac
done
[ ${#sections[@]} -gt 0 ] || sections=(spool client upload dump python)

scripts/bootstrap.sh
cmake --preset bench >/dev/null
targets=(spool_bench client_bench upload_bench zenml_raw_scan zenml_oneshot_put
  zenml-analytics zenml-upload zenml-spool-dump)
# The Python module, where pybind11 and the Python headers let it be built.
if cmake --build --preset bench --target help 2>/dev/null | grep -q zenml_analytics_native; then
  targets+=(zenml_analytics_native)
fi
cmake --build --preset bench --target "${targets[@]}" >/dev/null
bin="$PWD/build/bench/bin"
export ZENML_BENCH_DIR="${ZENML_BENCH_DIR:-/var/tmp}"

if [ "$quick" = 1 ]; then reps=3 events=100000; else reps=7 events=1000000; fi

load() { printf 'load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"; }
section() {
  printf '\n======== %s (%s, commit %s) ========\n' "$1" "$(date -u +%FT%TZ)" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  load
}

for s in "${sections[@]}"; do
  case "$s" in
    spool)
      section "spool: Append vs raw WriteBatch, one-shot vs raw open/put/close"
      "$bin/spool_bench" --benchmark_filter=Paired --benchmark_repetitions="$reps" \
        --benchmark_format=json \
        2>/dev/null | python3 -c '
import json, statistics, sys
runs = [b for b in json.load(sys.stdin)["benchmarks"] if b.get("run_type") == "iteration"]
def show(bench, counter, what, target):
    v = [b[counter] for b in runs if b["run_name"].startswith(bench)]
    print(f"{what}: median {statistics.median(v):.2f}x [{min(v):.2f}-{max(v):.2f}] over {len(v)} repetitions (target {target})")
show("BM_PairedAppend64VsRawBatch64", "spool_vs_raw", "Append of 64 events, spool throughput / raw synced WriteBatch", ">= 0.9x")
show("BM_PairedOneShot", "spool_over_raw", "one-shot Spool open+append+close / raw open+put(sync)+close", "<= 1.1x")
show("BM_PairedOneShot", "no_reuse_over_reuse", "raw without reuse_logs / with it", "-")'
      load
      ;;
    client)
      section "client: Track() caller cost, durable throughput, one-shot CLI"
      "$bin/client_bench" --benchmark_repetitions="$reps" \
        --benchmark_filter='BM_Encode|BM_Track|BM_MutexDeque|Paired|OneShot' 2>/dev/null |
        sed -n '/Client benchmark summary/,$p'
      load
      ;;
    oneshot)
      section "oneshot: zenml-analytics track vs raw open/put(sync)/close, $reps repetitions of 200 pairs"
      "$bin/client_bench" --benchmark_repetitions="$reps" \
        --benchmark_filter='OneShot' 2>/dev/null |
        sed -n '/Client benchmark summary/,$p' | grep -E '^one-shot|oneshot/'
      load
      ;;
    upload)
      section "upload: zenml-upload drain vs the same requests with no spool"
      sizes=(--events 100000)
      [ "$quick" = 1 ] || sizes+=(--events 1000000)
      repeat="$([ "$quick" = 1 ] && echo 2 || echo 3)"
      # Two spool layouts (docs/BENCHMARKS.md, "Uploader"): a writer that
      # held the spool (leveled tables), then 10,000-event batches each in
      # its own open (level 0 crowded, compacted by the drain).
      echo "fill: --fill-held"
      "$bin/upload_bench" "${sizes[@]}" --repeat "$repeat" --fill-held
      load
      echo "fill: default (one open per 10,000-event batch)"
      "$bin/upload_bench" "${sizes[@]}" --repeat "$repeat"
      load
      ;;
    dump)
      section "dump: zenml-spool-dump vs a raw LevelDB scan"
      python3 bench/dump_bench.py "$bin" --events "$events" --pairs "$([ "$quick" = 1 ] && echo 3 || echo 5)"
      load
      ;;
    python)
      section "python: zenml_analytics.track() vs an empty C call and the CLI"
      if compgen -G "build/bench/python/zenml_analytics/_native*.so" >/dev/null; then
        PYTHONPATH=build/bench/python /usr/bin/python3 bench/python_track_bench.py \
          --bin-dir "$bin" --calls "$([ "$quick" = 1 ] && echo 20000 || echo 100000)"
      else
        echo "skipped: the Python package is not built in build/bench"
      fi
      load
      ;;
  esac
done
