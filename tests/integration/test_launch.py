"""Launching the window: a missing display or Qt library is one clear line (never Qt's abort); signals and
Ctrl+Q quit cleanly; the demo always removes its folder and shows a badge that stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from enginy_desktop.platform_check import XCB_LIBRARIES, window_problem


def _loads_all_but(*missing: str):  # type: ignore[no-untyped-def]
    return lambda name: name not in missing


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({}, "linux", "no display"),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", None),
        ({"QT_QPA_PLATFORM": "minimal"}, "linux", None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
        ({}, "win32", None),
        ({}, "darwin", None),
        ({"DISPLAY": ":0"}, "linux", "libxcb-cursor0"),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", "libxcb-cursor0"),
    ],
)
def test_window_problem_names_what_is_missing(environ: dict[str, str], platform: str, expected: str | None) -> None:
    problem = window_problem(
        environ, platform, can_load=_loads_all_but("libxcb-cursor.so.0"), x_server_answers=lambda d: True
    )
    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert expected in problem
        assert "\n" not in problem
        assert "enginy-desktop --help" in problem  # the way on without the window


def test_every_missing_library_is_named_with_its_package_once() -> None:
    problem = window_problem(
        {"DISPLAY": ":0"}, "linux",
        can_load=_loads_all_but("libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-shape.so.0", "libxcb-sync.so.1"),
        x_server_answers=lambda d: True,
    )
    assert problem is not None
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in problem
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-sync1;" in problem
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms libxcb)" in problem  # one package named once


def test_a_display_that_does_not_answer_is_named() -> None:
    problem = window_problem({"DISPLAY": ":42"}, "linux", can_load=lambda n: True, x_server_answers=lambda d: False)
    assert problem is not None
    assert "':42'" in problem


def test_the_list_covers_what_the_installed_xcb_plugin_links() -> None:
    """Every system library Qt's xcb plugin needs (read from the installed plugin) is in the list we check."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the xcb plugin is Linux's")
    import shutil

    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file() or shutil.which("ldd") is None:
        pytest.skip("no xcb plugin or no ldd here")
    needed = set()
    for lib in (plugin, qt / "lib" / "libQt6XcbQpa.so.6"):
        out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, check=False).stdout
        needed |= {line.split()[0] for line in out.splitlines() if "xcb" in line.split()[0] or "xkb" in line}
    assert needed <= {lib for lib, _deb, _rpm in XCB_LIBRARIES}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(TMPDIR=str(tmp_path), ENGINY_DATA_DIR=str(tmp_path / "data"), **extra)
    return env


@pytest.mark.subprocess
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="displays are a Linux question")
def test_no_display_is_one_line_not_an_abort(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "enginy_desktop", "--demo"], capture_output=True, text=True, timeout=60,
        env=_env(tmp_path),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("enginy-desktop: no display")
    assert result.stderr.count("\n") == 1
    assert "--demo" in result.stderr
    assert "enginy-desktop --help" in result.stderr
    assert not list(tmp_path.glob("enginy-demo-*"))  # checked before the demo is made


@pytest.mark.subprocess
@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_quits_the_demo_cleanly_and_removes_its_folder(tmp_path: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "enginy_desktop", "--demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=_env(tmp_path, QT_QPA_PLATFORM="offscreen"),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            logs = list(tmp_path.glob("enginy-demo-*/logs/enginy-desktop.log"))
            if logs and "First paint" in logs[0].read_text("utf-8", errors="replace"):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        else:
            pytest.fail("the demo window never painted")
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert not list(tmp_path.glob("enginy-demo-*"))
