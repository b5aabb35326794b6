"""Opted out: track() returns False, nothing is written, nothing created."""

import subprocess
import sys
from pathlib import Path

import pytest
import zenml_analytics
from zenml_analytics import Client

from conftest import dump, run_python


def tree(path: Path) -> list:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


@pytest.mark.parametrize("how", ["config.yaml", "ZENML_ANALYTICS_OPT_IN", "DO_NOT_TRACK"])
def test_opted_out_writes_nothing(config_dir: Path, how: str) -> None:
    env = {}
    if how == "config.yaml":
        config_dir.mkdir()
        (config_dir / "config.yaml").write_text("analytics_opt_in: false\n")
    elif how == "ZENML_ANALYTICS_OPT_IN":
        env["ZENML_ANALYTICS_OPT_IN"] = "false"
    else:
        env["DO_NOT_TRACK"] = "1"
    before = tree(config_dir)
    proc = run_python("""
        import zenml_analytics as z
        results = [z.track(z.AnalyticsEvent.RUN_PIPELINE, {"i": 1}),
                   z.track("Custom", None, zenml_version="1.0")]
        with z.Client() as c:
            results.append(c.track("Pipeline run"))
            assert c.flush(5)
            assert c.stats()["disabled"] == 1, c.stats()
        assert z.flush(5)
        stats = z.stats()
        assert stats["disabled"] == 2 and stats["accepted"] == 0, stats
        assert z.status()["consent"]["allowed"] is False
        print(results)
    """, env)
    assert proc.stdout.strip() == "[False, False, False]"
    assert tree(config_dir) == before  # no directory, no user_id, no spool
    if how == "config.yaml":
        assert (config_dir / "config.yaml").read_text() == "analytics_opt_in: false\n"


def test_opt_out_stops_clients_and_purges(config_dir: Path) -> None:
    with Client() as client:
        assert client.track("Pipeline run", {"i": 1})
        zenml_analytics.opt_out()
        assert dump(config_dir) == []  # the event tracked before is purged too
        assert not client.track("Pipeline run", {"i": 2})
        assert client.flush(5)
        assert dump(config_dir) == []
        status = zenml_analytics.status()
        assert status["consent"]["allowed"] is False and status["consent"]["source"] == "config.yaml"
        assert "analytics_opt_in: false" in (config_dir / "config.yaml").read_text()

        zenml_analytics.opt_in()
        assert zenml_analytics.status()["consent"]["allowed"] is True
        assert client.track("Pipeline run", {"i": 3})
        assert client.flush(30)
    assert [m["properties"] for m in dump(config_dir)] == [{"i": 3}]


def test_opt_in_error_is_an_exception(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "config.yaml").write_text("{not: yaml: [")
    with pytest.raises(zenml_analytics.AnalyticsError):
        zenml_analytics.opt_in()
    assert (config_dir / "config.yaml").read_text() == "{not: yaml: ["


def test_opt_out_wins_while_another_process_holds_the_spool(config_dir: Path) -> None:
    # As `zenml-analytics opt-out`: the purge that cannot run now is left as a
    # request the holder (or the next opener) carries out before anything
    # else, the inbox files go at once, and opt_out() succeeds.
    with Client() as client:
        assert client.track("Pipeline run", {"i": 1})
        assert client.flush(5)
    lock = next((config_dir / "analytics").rglob("LOCK"))
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time\n"
         "f = open(sys.argv[1], 'r+')\n"
         "fcntl.lockf(f, fcntl.LOCK_EX)\n"  # LevelDB's own lock (fcntl)
         "print('held', flush=True)\n"
         "time.sleep(120)\n", str(lock)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        inbox = config_dir / "analytics" / "inbox"
        inbox.mkdir(exist_ok=True)
        (inbox / "half-written.tmp").write_text('{"event": "Pipeline run"}')
        zenml_analytics.opt_out()  # no exception although the spool is held
        assert (config_dir / "analytics" / "purge-requested").exists()
        assert list(inbox.iterdir()) == []
    finally:
        holder.kill()
        holder.wait()
    assert dump(config_dir) == []  # the dump carries the request out first
    assert not (config_dir / "analytics" / "purge-requested").exists()
