"""Shared fixtures: a throwaway ZenML config dir per test, the built tools,
and helpers that run Python snippets in a fresh interpreter (the package's
module-level clients live as long as their process)."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional

import pytest

BIN_DIR = Path(os.environ.get("ZENML_BIN_DIR", ""))

# Under AddressSanitizer (python/CMakeLists.txt preloads gcc 12's libasan),
# a child forked while another thread is inside ASan's allocator inherits
# that allocator's lock held and deadlocks at its first allocation: the
# runtime has no fork handler for it (glibc's malloc, which users run, has
# one). The Client's writer thread allocates while it prepares its queue
# slots, so the fork tests hung there about one run in two (the stack of a
# stuck child ends in __sanitizer::SizeClassAllocator64::GetFromAllocator).
# They run in the gcc and ThreadSanitizer suites.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
fork_unsafe_under_asan = pytest.mark.skipif(
    UNDER_ASAN, reason="ASan's allocator (gcc 12) is not fork-safe with threads")
HERE = Path(__file__).resolve().parent


def tool(name: str) -> str:
    path = BIN_DIR / name
    if not path.is_file():
        found = shutil.which(name)
        if found is None:
            pytest.fail(f"{name} not found: set ZENML_BIN_DIR to the build's bin/")
        return found
    return str(path)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test starts opted in by default, with its own config dir (not yet
    created) and no auto upload."""
    for var in ("ZENML_ANALYTICS_OPT_IN", "DO_NOT_TRACK", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "zenml"
    monkeypatch.setenv("ZENML_CONFIG_PATH", str(config))
    monkeypatch.setenv("ZENML_ANALYTICS_AUTO_UPLOAD", "0")
    return config


@pytest.fixture
def config_dir(clean_env: Path) -> Path:
    return clean_env


def dump_lines(config: Path) -> List[str]:
    """zenml-spool-dump --json: one line per spooled message, byte for byte."""
    out = subprocess.run(
        [tool("zenml-spool-dump"), "--json", "--config-dir", str(config)],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8")
    return [line for line in out.splitlines() if line]


def dump(config: Path) -> List[Dict]:
    return [json.loads(line) for line in dump_lines(config)]


def run_python(
    code: str,
    env: Optional[Dict[str, str]] = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Runs `code` in a new interpreter (this one), with this environment
    plus `env`, and returns the completed process (text output)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc
