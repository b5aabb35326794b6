"""track -> flush -> the spool holds what the C++ Client would have written."""

import ast
import json
import re
import subprocess
from pathlib import Path

import zenml_analytics
from zenml_analytics import AnalyticsEvent, Client

from conftest import HERE, dump, dump_lines, run_python, tool

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# core/catalogue.h, in the seed's order.
CATALOGUE = [
    "Datasources listed",
    "Datasource created",
    "Step created",
    "Step Versions listed",
    "Step listed",
    "Pipeline created",
    "Pipeline registered",
    "Pipeline run",
    "Pipelines fetched",
    "Pipeline Artifacts fetched",
    "Repository created",
    "ZenML initialized",
]


def normalized(line: str) -> str:
    """The message with its two per-event fields (messageId, timestamp)
    replaced by placeholders, after checking their format."""
    message = json.loads(line)
    assert UUID4.match(message["messageId"]), message["messageId"]
    assert TIMESTAMP.match(message["timestamp"]), message["timestamp"]
    out = line.replace(message["messageId"], "MESSAGE-ID", 1)
    return out.replace(message["timestamp"], "TIMESTAMP", 1)


def test_bytes_match_the_cpp_client(config_dir: Path) -> None:
    props = {"step_count": 7, "name": "train", "ratio": 0.5, "tags": ["a", "b"],
             "nested": {"gpu": True, "none": None}}
    with Client(zenml_version="9.8.7") as client:
        assert client.track(AnalyticsEvent.RUN_PIPELINE, props)
        assert client.flush(30)
    # The same event through zenml-analytics track: the C++ Client.
    cli = subprocess.run(
        [tool("zenml-analytics"), "track", "Pipeline run", "--zenml-version",
         "9.8.7", "--properties", json.dumps(props, separators=(",", ":"))],
        capture_output=True, text=True, check=True)
    assert UUID4.match(cli.stdout.strip())
    # And through the module-level track() of a fresh interpreter.
    run_python(f"""
        import zenml_analytics
        assert zenml_analytics.track("Pipeline run", {props!r}, zenml_version="9.8.7")
        assert zenml_analytics.flush(30)
    """)

    lines = dump_lines(config_dir)
    assert len(lines) == 3
    assert json.loads(lines[1])["messageId"] == cli.stdout.strip()
    python_client, cpp_cli, python_module = (normalized(x) for x in lines)
    assert python_client == cpp_cli
    assert python_module == cpp_cli
    message = json.loads(lines[0])
    assert message["context"]["zenml"] == {"version": "9.8.7"}
    assert message["properties"] == props
    assert message["event"] == "Pipeline run"
    assert message["userId"] == message["anonymousId"]
    assert len({json.loads(x)["messageId"] for x in lines}) == 3


def test_version_is_the_callers_per_call(config_dir: Path) -> None:
    run_python("""
        import zenml_analytics as z
        assert z.track("Step created", zenml_version="1.0.0")
        assert z.track("Step created", zenml_version="2.0.0")
        assert z.track("Step created")
        assert z.flush(30)
    """)
    versions = [m["context"]["zenml"]["version"] for m in dump(config_dir)]
    default = zenml_analytics.status(str(config_dir))["zenml_version"]
    assert sorted(versions) == sorted(["1.0.0", "2.0.0", default])


def test_enum_is_the_catalogue(config_dir: Path) -> None:
    assert [e.value for e in AnalyticsEvent] == CATALOGUE
    assert issubclass(AnalyticsEvent, str)
    assert AnalyticsEvent.RUN_PIPELINE == "Pipeline run"
    assert str(AnalyticsEvent.INITIALIZE) == "ZenML initialized"
    with Client() as client:
        for event in AnalyticsEvent:
            assert client.track(event, {"n": 1})
        assert client.flush(30)
    assert [m["event"] for m in dump(config_dir)] == CATALOGUE


def test_stats_and_context_manager(config_dir: Path) -> None:
    with Client() as client:
        assert client.track("Custom event", None)
        assert not client.track("", None)
        assert client.flush(30)
        stats = client.stats()
    assert stats == {"accepted": 1, "written": 1, "written_to_inbox": 0,
                     "queued": 0, "dropped_queue_full": 0,
                     "rejected_invalid": 1, "disabled": 0, "write_errors": 0}
    assert not client.track("After close")  # closed: False, no exception
    client.close()  # idempotent


def test_synchronous_client_is_durable_on_return(config_dir: Path) -> None:
    with Client(synchronous=True) as client:
        assert client.track("Pipeline run", {"i": 1})
        assert client.stats()["written"] == 1
        assert [m["properties"] for m in dump(config_dir)] == [{"i": 1}]


def test_queue_full_is_false_and_counted(config_dir: Path) -> None:
    with Client(queue_capacity=1) as client:
        results = [client.track("Pipeline run", {"i": i}) for i in range(2000)]
        assert client.flush(30)
        stats = client.stats()
    assert results.count(False) == stats["dropped_queue_full"] > 0
    assert results.count(True) == stats["accepted"] == len(dump(config_dir))


def test_status_has_the_keys_and_values_of_the_cli(config_dir: Path) -> None:
    with Client() as client:
        assert client.track("Pipeline run")
        assert client.flush(30)
    cli = json.loads(subprocess.run(
        [tool("zenml-analytics"), "status", "--json"], capture_output=True,
        text=True, check=True).stdout)
    ours = zenml_analytics.status()
    # The CLI adds what only zenml-upload's configuration knows; every other
    # key is the library's, with the same value, in the same order.
    upload_only = ["will_upload", "write_key", "endpoint", "upload_config",
                   "system_upload_config", "system_upload_config_skipped",
                   "upload_config_error",
                   "auto_upload"]
    assert list(ours) == [k for k in cli if k not in upload_only]
    assert set(cli) - set(ours) == set(upload_only)
    assert ours == {k: v for k, v in cli.items() if k not in upload_only}
    assert ours["schema"] == 1
    assert ours["pending_events"] == 1
    assert zenml_analytics.status(zenml_version="3.2.1")["zenml_version"] == "3.2.1"


def test_status_creates_nothing(config_dir: Path) -> None:
    status = zenml_analytics.status()
    assert status["consent"]["allowed"] is True
    assert status["anonymous_id"] is None
    assert not config_dir.exists()


def test_help_is_useful() -> None:
    doc = zenml_analytics.track.__doc__
    assert doc.startswith("track(event: str, metadata: Optional[Mapping[str, Any]]"
                          " = None, *, zenml_version: Optional[str] = None) -> bool")
    for words in ("never raises", "opted out", "zenml_version", "stats()"):
        assert words in doc
    assert "AnalyticsEvent" in zenml_analytics.__doc__ or "track(" in zenml_analytics.__doc__


def test_stubs_name_what_the_module_has() -> None:
    import zenml_analytics._native as native

    stub = ast.parse((Path(zenml_analytics.__file__).parent / "_native.pyi").read_text())
    names = {n.name for n in stub.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    names |= {t.target.id for n in stub.body if isinstance(n, ast.AnnAssign)
              for t in [n] if isinstance(t.target, ast.Name)}
    public = {n for n in dir(native) if not n.startswith("__")}
    assert names == public
    assert (Path(zenml_analytics.__file__).parent / "py.typed").exists()
