"""What flush() covered survives SIGKILL; Ctrl-C during a flush and
interpreter exit lose nothing accepted."""

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import dump, fork_unsafe_under_asan

KILLED_CHILD = """
    import os, sys, time, zenml_analytics as z
    FORK = {fork}
    if FORK:  # the parent has the spool open: the child writes inbox files
        assert z.track("Pipeline run", {{"i": -1}}) and z.flush(30)
        if os.fork() != 0:
            os.wait()
            os._exit(0)
    for i in range(300):
        assert z.track("Step created", {{"i": i}})
    assert z.flush(30)
    print("flushed", os.getpid(), flush=True)
    for i in range(300, 100000):  # more, never flushed
        z.track("Step created", {{"i": i}})
    time.sleep(600)
"""


@pytest.mark.parametrize(
    "fork", [False, pytest.param(True, marks=fork_unsafe_under_asan)],
    ids=["process", "forked-child"])
def test_sigkill_after_flush_loses_nothing_flushed(config_dir: Path, fork: bool) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_CHILD.format(fork=fork))],
        stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().split()
        assert line[:1] == ["flushed"], line
        os.kill(int(line[1]), signal.SIGKILL)
    finally:
        if fork:
            proc.wait(timeout=60)
        else:
            proc.kill()
            proc.wait()
    seen = [m["properties"]["i"] for m in dump(config_dir) if m["event"] == "Step created"]
    assert set(range(300)) <= set(seen)
    assert len(seen) == len(set(seen))


def test_ctrl_c_during_flush_loses_nothing(config_dir: Path) -> None:
    # The spool's database is locked by this test (an fcntl lock on LevelDB's
    # LOCK file), so the child's writer waits for it (2 s, then an inbox
    # file) and flush() blocks meanwhile; SIGINT arrives during that wait.
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, zenml_analytics as z
        assert z.track("Pipeline run", {"i": -1}) and z.flush(30)
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(100):
            assert z.track("Step created", {"i": i})
        print("flushing", flush=True)
        try:
            z.flush(60)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        print("not interrupted", flush=True)
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    lock_path = config_dir / "analytics" / "spool" / "LOCK"
    with open(lock_path, "r+b") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)  # waits for the child's idle close
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "flushing"
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        assert child.stdout.readline().strip() == "interrupted"
        assert child.wait(timeout=60) == 3
        fcntl.lockf(lock, fcntl.LOCK_UN)
    seen = [m["properties"]["i"] for m in dump(config_dir)]
    assert sorted(seen) == list(range(-1, 100))


def test_exit_without_flush_loses_nothing(config_dir: Path) -> None:
    subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import zenml_analytics as z
        for i in range(2000):
            assert z.track("Step created", {"i": i})
    """)], check=True, timeout=60)
    seen = [m["properties"]["i"] for m in dump(config_dir)]
    assert sorted(seen) == list(range(2000))
