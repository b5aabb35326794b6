"""Bad input returns False, is counted, and never raises."""

import datetime
import math
import uuid
from pathlib import Path

import pytest
from zenml_analytics import Client, stats, track

from conftest import dump, run_python


def self_referential() -> list:
    a: list = []
    a.append(a)
    return a


def deep(n: int) -> dict:
    d: dict = {}
    for _ in range(n):
        d = {"d": d}
    return d


BAD_METADATA = {
    "object": {"a": object()},
    "set": {"a": {1, 2}},
    "bytes": {"a": b"x"},
    "datetime": {"a": datetime.datetime(2026, 1, 1)},
    "uuid": {"a": uuid.uuid4()},
    "nan": {"a": math.nan},
    "inf": {"a": math.inf},
    "40 KB property": {"a": "x" * 40_000},
    "surrogate value": {"a": "\udc80"},
    "surrogate key": {"\ud800": 1},
    "int key": {1: "a"},
    "self-referential list": {"a": self_referential()},
    "nested 100 deep": deep(100),
    "list": [1, 2],
    "str": "not a dict",
    "int": 3,
}

BAD_EVENTS = {"empty": "", "surrogate": "Pipeline \udc80", "int": 3, "None": None,
              "bytes": b"Pipeline run", "list": ["Pipeline run"]}


@pytest.mark.parametrize("name", sorted(BAD_METADATA))
def test_bad_metadata(config_dir: Path, name: str) -> None:
    with Client() as client:
        assert client.track("Pipeline run", BAD_METADATA[name]) is False
        assert client.stats()["rejected_invalid"] == 1
        assert client.stats()["accepted"] == 0
        assert client.track("Pipeline run", {"ok": 1}) is True  # still works
        assert client.flush(30)
    assert [m["properties"] for m in dump(config_dir)] == [{"ok": 1}]


@pytest.mark.parametrize("name", sorted(BAD_EVENTS))
def test_bad_event(config_dir: Path, name: str) -> None:
    with Client() as client:
        assert client.track(BAD_EVENTS[name], {"a": 1}) is False
        assert client.stats()["rejected_invalid"] == 1


def test_module_track_bad_input_never_raises(config_dir: Path) -> None:
    proc = run_python("""
        import zenml_analytics as z
        bad = [
            ("Pipeline run", {"a": object()}, None),
            ("Pipeline run", {"a": "x" * 40000}, None),
            ("Pipeline run", {"a": "\\udc80"}, None),
            (3, None, None),
            ("Pipeline run", [1], None),
            ("Pipeline run", None, 1.5),
            ("Pipeline run", None, "\\udc80"),
        ]
        print([z.track(e, m, zenml_version=v) for e, m, v in bad])
        print(z.stats()["rejected_invalid"], z.stats()["accepted"])
    """)
    assert proc.stdout.split("\n")[:2] == ["[False, False, False, False, False, False, False]", "7 0"]
    assert proc.stderr == ""


def test_large_but_valid_metadata(config_dir: Path) -> None:
    props = {"a": "x" * 30_000, "big": 2**70, "neg": -(2**63), "t": (1, 2)}
    with Client() as client:
        assert client.track("Pipeline run", props)
        assert client.flush(30)
    [message] = dump(config_dir)
    assert message["properties"]["a"] == "x" * 30_000
    assert message["properties"]["big"] == float(2**70)
    assert message["properties"]["neg"] == -(2**63)
    assert message["properties"]["t"] == [1, 2]
