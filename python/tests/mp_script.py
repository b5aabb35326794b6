"""Run by test_concurrency.py: a multiprocessing pool whose workers track
through the module-level track(). argv: start method, tasks, events per
task. The parent tracks (and so has the spool open) before the pool starts,
and again while it runs. Workers do not flush: their exit must."""

import multiprocessing
import sys

import zenml_analytics


def work(task: int) -> int:
    per_task = int(sys.argv[3])
    ok = 0
    for i in range(per_task):
        ok += zenml_analytics.track("Step created", {"task": task, "i": i})
    return ok


def main() -> None:
    method, tasks = sys.argv[1], int(sys.argv[2])
    assert zenml_analytics.track("Pipeline run", {"task": -1, "i": 0})
    assert zenml_analytics.flush(30)
    assert zenml_analytics.track("Pipeline run", {"task": -1, "i": 1})  # queued
    ctx = multiprocessing.get_context(method)
    pool = ctx.Pool(4)
    accepted = sum(pool.map(work, range(tasks)))
    pool.close()
    pool.join()
    assert zenml_analytics.track("Pipeline run", {"task": -1, "i": 2})
    print(accepted)


if __name__ == "__main__":
    main()
