"""ZenML's anonymous usage analytics, recorded at native speed.

    from zenml_analytics import AnalyticsEvent, track

    track(AnalyticsEvent.RUN_PIPELINE, {"step_count": 3}, zenml_version="0.5.1")

track() validates, serializes and queues the event in about a microsecond
and returns; a background thread writes it to the offline spool
(<config dir>/analytics), from which zenml-upload sends it later. It never
raises and never waits for the disk: it returns False, and counts why in
stats(), when analytics are opted out, the input is invalid or the queue is
full. Opted out (config.yaml ``analytics_opt_in: false``,
``ZENML_ANALYTICS_OPT_IN=false`` or ``DO_NOT_TRACK=1``) nothing is written
and no file or directory is created.

Interpreter exit (and the exit of a forked multiprocessing worker) waits
for the writer at most 1 s, then saves what is left to an inbox file of the
spool: nothing track() accepted is lost by a normal exit. A forked child
tracks into the same spool with a writer of its own. See docs/python.md.
"""

from __future__ import annotations

import atexit as _atexit
import enum as _enum
import json as _json
import os as _os
import sys as _sys
from typing import Any, Dict, Optional

from . import _native
from ._native import AnalyticsError, Client, flush, stats, track

__all__ = [
    "AnalyticsError",
    "AnalyticsEvent",
    "Client",
    "flush",
    "opt_in",
    "opt_out",
    "stats",
    "status",
    "track",
]

__version__: str = _native.LIBRARY_VERSION


class AnalyticsEvent(str, _enum.Enum):
    """The twelve events of ZenML's catalogue (zenml/utils/zenml_analytics.py),
    with the seed's names. Members are str, so track() takes them as they
    are; any other str is tracked as a custom event."""

    # Datasources
    GET_DATASOURCES = "Datasources listed"
    CREATE_DATASOURCE = "Datasource created"
    # Functions
    CREATE_STEP = "Step created"
    GET_STEPS_VERSIONS = "Step Versions listed"
    GET_STEP_VERSION = "Step listed"
    # Pipelines
    CREATE_PIPELINE = "Pipeline created"
    REGISTER_PIPELINE = "Pipeline registered"
    RUN_PIPELINE = "Pipeline run"
    GET_PIPELINES = "Pipelines fetched"
    GET_PIPELINE_ARTIFACTS = "Pipeline Artifacts fetched"
    # Repo
    CREATE_REPO = "Repository created"
    INITIALIZE = "ZenML initialized"

    def __str__(self) -> str:
        return str(self.value)


def opt_in(config_dir: Optional[str] = None) -> None:
    """Allow anonymous usage analytics, as ``zenml-analytics opt-in``.

    Writes ``analytics_opt_in: true`` to config.yaml (keeping every other
    key) and creates the anonymous id. The environment
    (ZENML_ANALYTICS_OPT_IN, DO_NOT_TRACK) still overrides it; status()
    says what decides. Raises AnalyticsError when config.yaml cannot be
    read or written (it is then left as it was)."""
    _native._opt_in(config_dir)


def opt_out(config_dir: Optional[str] = None) -> None:
    """Stop anonymous usage analytics, as ``zenml-analytics opt-out``.

    Writes ``analytics_opt_in: false``, makes every client of this process
    stop recording at once, and deletes every event not yet sent (when
    another process holds the spool, it leaves a purge request that process
    or the next opener carries out before anything else). Raises
    AnalyticsError when config.yaml cannot be written, or in a child forked
    from a process with the spool open (the setting is saved; zenml-upload
    purges the spool of an opted-out user at its next run)."""
    _native._opt_out(config_dir)


def status(
    config_dir: Optional[str] = None, zenml_version: Optional[str] = None
) -> Dict[str, Any]:
    """What ``zenml-analytics status --json`` prints (schema 1), as a dict
    with the same keys and values, minus the upload configuration the CLI
    adds (will_upload, write_key, endpoint, upload_config,
    system_upload_config, system_upload_config_skipped, upload_config_error,
    auto_upload): schema,
    consent ({allowed, source, detail}), anonymous_id, config_dir,
    zenml_version, os, library_version, spool_dir, pending_events,
    pending_bytes, dead_letters, write_errors, dropped, inbox_files,
    last_upload (None or a dict), not_before, config_error. Creates
    nothing. Raises AnalyticsError when no config dir
    can be found."""
    result: Dict[str, Any] = _json.loads(
        _native._status_json(config_dir, zenml_version)
    )
    return result


def _close_all() -> None:
    _native._close_all()


# Interpreter exit: flush within the bound, save the rest to the inbox.
_atexit.register(_close_all)


def _after_fork_in_child() -> None:
    # A forked multiprocessing child ends with os._exit(), which runs no
    # atexit handler; multiprocessing runs its own finalizers instead. Its
    # registry is cleared after this hook, so the finalizer is added from an
    # after-fork callback, which runs after that.
    util = _sys.modules.get("multiprocessing.util")
    if util is not None:
        util.register_after_fork(_close_all_on_finalize, _register_finalizer)


class _Anchor:
    """An object for multiprocessing.util.register_after_fork to hold."""


_close_all_on_finalize = _Anchor()


def _register_finalizer(_: object) -> None:
    import multiprocessing.util as util

    util.Finalize(None, _close_all, exitpriority=100)


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_after_fork_in_child)
