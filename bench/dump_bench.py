#!/usr/bin/env python3
"""zenml-spool-dump against a raw LevelDB scan of the same spool, in one run.

    bench/dump_bench.py BIN_DIR [--events N] [--pairs P]

Fills a spool of N events (upload_bench --fill-only --fill-held: a leveled
layout, as a busy Client writer leaves it), then runs P rounds of, in turn,
`zenml-spool-dump --json`, `zenml-spool-dump` (the table) and `zenml_raw_scan`
(open the database with the spool's options, walk the e/ keys, write each
value's JSON and a newline in 1 MiB blocks), each to /dev/null. Prints for each
the median [min-max] of the wall time and of the CPU time (user+sys, which the
other jobs on a loaded machine disturb less), events/s from the wall-time
median, and the dump/raw ratios of the per-round pairs. Checks once that
--json writes exactly the raw scan's bytes. Peak RSS of each, from getrusage.
"""
import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(argv, env, out=subprocess.DEVNULL):
    """Wall time, CPU time and peak RSS (KiB) of one run of argv.

    The child's own rusage, from wait4: RUSAGE_CHILDREN's ru_maxrss is the
    largest of every child so far (the 900 MB fill among them). Linux starts
    a child's ru_maxrss at this process's size, so this one stays small."""
    t0 = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=out)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, argv)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def spread(values, fmt="{:.3f}"):
    return "{} [{}-{}]".format(fmt.format(statistics.median(values)),
                               fmt.format(min(values)), fmt.format(max(values)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--pairs", type=int, default=5)
    a = ap.parse_args()
    b = a.bin_dir
    fill = subprocess.run([f"{b}/upload_bench", "--events", str(a.events),
                           "--fill-only", "--fill-held"],
                          check=True, capture_output=True, text=True)
    config = fill.stdout.strip().splitlines()[-1]
    try:
        env = dict(os.environ, ZENML_CONFIG_PATH=config)
        spool = os.path.join(config, "analytics", "spool")
        with tempfile.TemporaryDirectory() as tmp:
            dump_out, raw_out = f"{tmp}/dump.json", f"{tmp}/raw.json"
            with open(dump_out, "wb") as f:
                run([f"{b}/zenml-spool-dump", "--json"], env, f)
            with open(raw_out, "wb") as f:
                run([f"{b}/zenml_raw_scan", spool], env, f)
            # Compared in chunks: this process stays small, and Linux
            # carries ru_maxrss across fork and exec into every child.
            same = filecmp.cmp(dump_out, raw_out, shallow=False)
        sides = {
            "dump --json": [f"{b}/zenml-spool-dump", "--json"],
            "dump table": [f"{b}/zenml-spool-dump"],
            "raw scan": [f"{b}/zenml_raw_scan", spool],
        }
        wall = {k: [] for k in sides}
        cpu = {k: [] for k in sides}
        rss = {k: 0 for k in sides}
        for _ in range(a.pairs):
            for k, argv in sides.items():
                w, c, r = run(argv, env)
                wall[k].append(w)
                cpu[k].append(c)
                rss[k] = max(rss[k], r)
    finally:
        shutil.rmtree(config, ignore_errors=True)
    print(f"dump of {a.events:,} events, {a.pairs} rounds; --json output "
          f"{'identical to' if same else 'DIFFERENT FROM'} the raw scan's")
    print(f"{'':<12} {'wall s':<24} {'cpu s':<24} {'events/s':>10} {'RSS MiB':>8}")
    for k in sides:
        print(f"{k:<12} {spread(wall[k]):<24} {spread(cpu[k]):<24} "
              f"{a.events / statistics.median(wall[k]):>10,.0f} "
              f"{rss[k] / 1024:>8.1f}")
    for k in ("dump --json", "dump table"):
        w = [x / y for x, y in zip(wall[k], wall["raw scan"])]
        c = [x / y for x, y in zip(cpu[k], cpu["raw scan"])]
        print(f"{k} / raw scan: wall {spread(w, '{:.2f}')}x, "
              f"cpu {spread(c, '{:.2f}')}x")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
