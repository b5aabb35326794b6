"""Type stubs of zenml_analytics._native (pybind11)."""

from typing import Any, Dict, Mapping, Optional, Type
from types import TracebackType

LIBRARY_VERSION: str

class AnalyticsError(RuntimeError): ...

def track(
    event: str,
    metadata: Optional[Mapping[str, Any]] = None,
    *,
    zenml_version: Optional[str] = None,
) -> bool: ...
def _noop(
    event: str,
    metadata: Optional[Mapping[str, Any]] = None,
    *,
    zenml_version: Optional[str] = None,
) -> bool: ...
def flush(timeout: float = 5.0) -> bool: ...
def stats() -> Dict[str, int]: ...
def _close_all() -> None: ...
def _opt_in(config_dir: Optional[str] = None) -> None: ...
def _opt_out(config_dir: Optional[str] = None) -> None: ...
def _status_json(
    config_dir: Optional[str] = None, zenml_version: Optional[str] = None
) -> str: ...

class Client:
    def __init__(
        self,
        config_dir: Optional[str] = None,
        zenml_version: Optional[str] = None,
        *,
        queue_capacity: int = 10000,
        synchronous: bool = False,
        flush_on_exit_timeout: float = 1.0,
        auto_upload: bool = True,
    ) -> None: ...
    def track(
        self, event: str, metadata: Optional[Mapping[str, Any]] = None
    ) -> bool: ...
    def flush(self, timeout: float = 5.0) -> bool: ...
    def stats(self) -> Dict[str, int]: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Client": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
