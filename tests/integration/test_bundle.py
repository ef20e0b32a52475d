"""The frozen one-folder bundle (build.spec) starts, paints its window and exits cleanly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("pyinstaller", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("PyInstaller is not installed (pip install -e '.[test]')")
    work = tmp_path_factory.mktemp("bundle")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "pyinstaller"),
            "--noconfirm",
            "--log-level=WARN",
            "--distpath", str(work / "dist"),
            "--workpath", str(work / "build"),
            str(ROOT / "build.spec"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    exe = work / "dist" / "enginy-desktop" / "enginy-desktop"
    assert exe.is_file()
    return exe


def _env() -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONPATH", None)  # the bundle must not lean on the source tree
    env.pop("PYTHON_KEYRING_BACKEND", None)  # nor on the test keyring, which it cannot import
    return env


def test_frozen_app_self_check(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(bundle), "--data-dir", str(tmp_path), "--self-check"],
        capture_output=True, text=True, timeout=120, env=_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("self-check: ok cards=18")
    assert (tmp_path / "enginy.db").is_file()


def test_frozen_command_line(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(bundle), "--data-dir", str(tmp_path), "integrations", "list", "--json"],
        capture_output=True, text=True, timeout=120, env=_env(),
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 18
