"""Threads and processes: every accepted event is in the spool exactly once."""

import collections
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from zenml_analytics import Client

from conftest import HERE, dump, fork_unsafe_under_asan, run_python


def ids(config: Path) -> collections.Counter:
    """(task, i) of every spooled event, counted; also checks that no two
    events share a messageId (a forked child must not mint its parent's)."""
    messages = dump(config)
    assert len({m["messageId"] for m in messages}) == len(messages)
    return collections.Counter(
        (m["properties"]["task"], m["properties"]["i"]) for m in messages)


def test_eight_threads_ten_thousand_each(config_dir: Path) -> None:
    threads, per_thread = 8, 10_000
    failures = []
    with Client(queue_capacity=threads * per_thread) as client:
        def work(t: int) -> None:
            for i in range(per_thread):
                if not client.track("Step created", {"task": t, "i": i}):
                    failures.append((t, i))

        pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        assert client.flush(120)
        stats = client.stats()
    assert failures == []
    assert stats["accepted"] == stats["written"] == threads * per_thread
    seen = ids(config_dir)
    assert len(seen) == threads * per_thread
    assert max(seen.values()) == 1
    assert set(seen) == {(t, i) for t in range(threads) for i in range(per_thread)}


@pytest.mark.parametrize(
    "method", [pytest.param("fork", marks=fork_unsafe_under_asan), "spawn"])
def test_multiprocessing_pool(config_dir: Path, method: str) -> None:
    tasks, per_task = 16, 500
    proc = subprocess.run(
        [sys.executable, str(HERE / "mp_script.py"), method, str(tasks), str(per_task)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == tasks * per_task  # every track() accepted
    seen = ids(config_dir)
    expected = {(t, i) for t in range(tasks) for i in range(per_task)}
    expected |= {(-1, 0), (-1, 1), (-1, 2)}
    assert set(seen) == expected
    assert max(seen.values()) == 1  # nothing written twice (parent's queue)


@fork_unsafe_under_asan
def test_forked_child_keeps_its_own_writer(config_dir: Path) -> None:
    # The parent's writer is busy at the fork; the child tracks, flushes and
    # exits with os._exit (no atexit); the parent goes on tracking.
    run_python("""
        import os, zenml_analytics as z
        for i in range(1000):
            assert z.track("Pipeline run", {"task": 0, "i": i})
        pid = os.fork()
        if pid == 0:
            ok = all(z.track("Step created", {"task": 1, "i": i}) for i in range(500))
            ok = z.flush(30) and ok
            s = z.stats()
            ok = ok and s["written"] == 500 and s["accepted"] == 500
            os._exit(0 if ok else 7)
        for i in range(1000, 2000):
            assert z.track("Pipeline run", {"task": 0, "i": i})
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert z.flush(30)
    """)
    seen = ids(config_dir)
    assert set(seen) == {(0, i) for i in range(2000)} | {(1, i) for i in range(500)}
    assert max(seen.values()) == 1
