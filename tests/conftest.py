"""Shared fixtures: every test gets a temporary data folder and an in-memory keyring, never the user's own."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.pop("ENGINY_SECRETS_PASSPHRASE", None)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[object]:
    from tests.support.memory_keyring import MemoryKeyring

    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    # Subprocesses started by a test use a file-backed test keyring in the test's own folder.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.memory_keyring.FileKeyring")
    monkeypatch.setenv("ENGINY_TEST_KEYRING_FILE", str(tmp_path / "test-keyring.json"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def fresh_limiters() -> Iterator[None]:
    """Each test is a process of its own for the per-connection limiters (adapters.http.shared_limiter)."""
    from enginy_desktop.adapters.http import forget_limiters

    forget_limiters()
    yield
    forget_limiters()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients opened without a retry policy back off in milliseconds here, not the half-second-and-doubling of a
    real network (same attempts, same ``Retry-After`` handling): a test of a dead server does not wait seconds.
    Patched in the module that defines it, where ``ApiClient`` looks it up at each opening."""
    from enginy_desktop.adapters.http import retry

    monkeypatch.setattr(retry, "default_retry", lambda: retry.RetryPolicy(base_delay=0.01, max_delay=0.05))


@pytest.fixture(autouse=True)
def process_label() -> Iterator[None]:
    """Each test starts as a command line for run leases (a window test labels the process "window")."""
    from enginy_desktop.core.runs import set_process_label

    set_process_label("command line")
    yield
    set_process_label("command line")


@pytest.fixture(autouse=True)
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("ENGINY_DATA_DIR", str(path))
    return path


@pytest.fixture
def not_ready_integration(monkeypatch: pytest.MonkeyPatch) -> object:
    """Datagma presented as an integration whose connector is not available: every card has one today, and the
    "Not available yet" notice must keep working for one that may not (request it before ``window``)."""
    import dataclasses

    from enginy_desktop.core import catalog

    spec = dataclasses.replace(catalog.get("datagma"), ready=False)
    monkeypatch.setattr(catalog, "INTEGRATIONS",
                        tuple(spec if i.key == spec.key else i for i in catalog.INTEGRATIONS))
    monkeypatch.setitem(catalog._BY_KEY, spec.key, spec)
    return spec


@pytest.fixture
def ctx(data_dir: Path) -> Iterator[object]:
    """An opened :class:`AppContext` on the test's data folder."""
    from enginy_desktop.core.context import AppContext

    context = AppContext.open(data_dir)
    yield context
    context.close()


@pytest.fixture
def cli(data_dir: Path):  # type: ignore[no-untyped-def]
    """Run the command line in-process: ``cli("integrations", "list", stdin="...")`` -> (code, out, err)."""
    import io

    from enginy_desktop.cli import run

    def _run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = run(["--data-dir", str(data_dir), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    return _run


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared (vendor specs) is not beside this checkout")
    return SHARED


def python_exe() -> str:
    return sys.executable
