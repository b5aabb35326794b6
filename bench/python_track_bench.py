#!/usr/bin/env python3
"""zenml_analytics.track() from Python against its floor and the CLI.

Measures, each call timed on its own with time.perf_counter_ns():
  track    zenml_analytics.track(AnalyticsEvent.RUN_PIPELINE,
           {"step_count": 3, "name": "train"}, zenml_version="0.5.1"): the
           module-level client, every call accepted (the queue is drained by a
           flush, untimed, after each chunk, so no call is a queue-full drop);
  floor    zenml_analytics._native._noop(...) with the same arguments: the
           same pybind11 binding and signature, calling an empty C function;
  cli      subprocess.run(["zenml-analytics", "track", "Pipeline run",
           "--property", "step_count=3", "--zenml-version", "0.5.1"]): what
           ZenML had before (fewer calls).
track and floor alternate call by call, so load from other processes hits
both alike; the ratios are the figures to read on a loaded machine.

Usage (from the repository root, after building the python package):
  PYTHONPATH=build/ci/python /usr/bin/python3 bench/python_track_bench.py \
      [--calls 100000] [--cli-calls 50] [--bin-dir build/ci/bin]
Works in a throwaway config dir; never uploads.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def percentile(sorted_ns, q):
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--cli-calls", type=int, default=50)
    parser.add_argument("--chunk", type=int, default=5_000)
    parser.add_argument("--bin-dir", default="build/ci/bin")
    args = parser.parse_args()

    config = tempfile.mkdtemp(prefix="zenml-py-bench-")
    os.environ["ZENML_CONFIG_PATH"] = config
    os.environ["ZENML_ANALYTICS_AUTO_UPLOAD"] = "0"
    for var in ("ZENML_ANALYTICS_OPT_IN", "DO_NOT_TRACK"):
        os.environ.pop(var, None)

    import zenml_analytics
    from zenml_analytics import AnalyticsEvent

    track = zenml_analytics.track
    noop = zenml_analytics._native._noop
    event = AnalyticsEvent.RUN_PIPELINE
    props = {"step_count": 3, "name": "train"}
    clock = time.perf_counter_ns

    # Warm up: the first track creates the anonymous id and the writer.
    assert track(event, props, zenml_version="0.5.1")
    assert zenml_analytics.flush(30)

    timer = []
    for _ in range(args.calls):
        t0 = clock()
        t1 = clock()
        timer.append(t1 - t0)

    track_ns, floor_ns = [], []
    refused = 0
    done = 0
    while done < args.calls:
        n = min(args.chunk, args.calls - done)
        for _ in range(n):
            t0 = clock()
            ok = track(event, props, zenml_version="0.5.1")
            t1 = clock()
            noop(event, props, zenml_version="0.5.1")
            t2 = clock()
            track_ns.append(t1 - t0)
            floor_ns.append(t2 - t1)
            refused += not ok
        assert zenml_analytics.flush(60), "flush timed out"
        done += n
    stats = zenml_analytics.stats()

    cli = str(Path(args.bin_dir) / "zenml-analytics")
    cli_ns = []
    for _ in range(args.cli_calls):
        t0 = clock()
        subprocess.run([cli, "track", "Pipeline run", "--property", "step_count=3",
                        "--zenml-version", "0.5.1"], check=True,
                       stdout=subprocess.DEVNULL)
        cli_ns.append(clock() - t0)

    for xs in (timer, track_ns, floor_ns, cli_ns):
        xs.sort()
    rows = [("timer (two perf_counter_ns calls)", timer),
            ("floor: _noop(), empty C function", floor_ns),
            ("zenml_analytics.track()", track_ns),
            ("zenml-analytics track (subprocess)", cli_ns)]
    print(f"python {sys.version.split()[0]} ({sys.executable}), "
          f"{args.calls} calls, {args.cli_calls} CLI calls, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, xs in rows:
        print(f"{name:38s} p50 {percentile(xs, 0.5) / 1000:10.2f} us   "
              f"p99 {percentile(xs, 0.99) / 1000:10.2f} us   "
              f"mean {statistics.fmean(xs) / 1000:10.2f} us   n={len(xs)}")
    t50, t99 = percentile(track_ns, 0.5), percentile(track_ns, 0.99)
    f50, f99 = percentile(floor_ns, 0.5), percentile(floor_ns, 0.99)
    c50 = percentile(cli_ns, 0.5)
    print(f"track / floor: p50 {t50 / f50:.2f}x, p99 {t99 / f99:.2f}x")
    print(f"cli / track:   p50 {c50 / t50:,.0f}x")
    print(f"refused tracks: {refused}; written {stats['written']}, "
          f"dropped_queue_full {stats['dropped_queue_full']}")
    return 0 if refused == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
