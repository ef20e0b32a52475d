"""What build.spec produces on each platform, read from the spec itself (no build, no other OS needed): a
windowed app with its icon on Windows and macOS, a console executable for the command line on Windows, a macOS
.app with its Info.plist, and on Linux the xcb libraries bundled or named."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


class _Recorded:
    made: list[_Recorded]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs
        self.made.append(self)
        self.pure, self.scripts, self.binaries, self.datas = [], [], kwargs.get("binaries", []), kwargs.get("datas", [])


def read_spec(platform: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, list[Any]]:
    made: list[Any] = []
    kinds = {name: type(name, (_Recorded,), {"made": made}) for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_data_files = lambda *a, **k: []  # type: ignore[attr-defined]
    hooks.collect_submodules = lambda *a, **k: []  # type: ignore[attr-defined]
    hooks.copy_metadata = lambda *a, **k: []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    monkeypatch.setattr(sys, "platform", platform)
    namespace = {"SPECPATH": str(ROOT), "workpath": str(tmp_path), "__file__": str(ROOT / "build.spec"), **kinds}
    exec(compile((ROOT / "build.spec").read_text("utf-8"), "build.spec", "exec"), namespace)  # noqa: S102
    return {name: [o for o in made if type(o).__name__ == name] for name in kinds}


def test_windows_is_windowed_with_an_ico_and_a_console_twin(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = read_spec("win32", monkeypatch, tmp_path)
    gui, cli = spec["EXE"]
    assert (gui.kwargs["name"], gui.kwargs["console"]) == ("enginy-desktop", False)
    assert (cli.kwargs["name"], cli.kwargs["console"]) == ("enginy-desktop-cli", True)
    assert gui.kwargs["icon"].endswith(".ico")
    assert Path(gui.kwargs["icon"]).is_file()
    assert spec["BUNDLE"] == []
    assert cli in spec["COLLECT"][0].args  # both in the one folder


def test_macos_makes_a_windowed_app_bundle_with_info_plist(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop import __version__

    spec = read_spec("darwin", monkeypatch, tmp_path)
    (exe,) = spec["EXE"]
    assert exe.kwargs["console"] is False
    (app,) = spec["BUNDLE"]
    assert app.kwargs["name"] == "Enginy Desktop.app"
    assert app.kwargs["icon"].endswith(".icns")
    assert Path(app.kwargs["icon"]).is_file()
    plist = app.kwargs["info_plist"]
    assert plist["CFBundleShortVersionString"] == __version__
    assert plist["NSHighResolutionCapable"] is True
    assert app.kwargs["bundle_identifier"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads this machine's libraries")
def test_linux_bundles_or_names_the_xcb_libraries(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = read_spec("linux", monkeypatch, tmp_path)
    (exe,) = spec["EXE"]
    assert exe.kwargs["console"] is True  # one executable for the window and the command line
    (analysis,) = spec["Analysis"]
    notes = tmp_path / "SYSTEM-PACKAGES.txt"
    assert (str(notes), ".") in analysis.kwargs["datas"]
    text = notes.read_text("utf-8")
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in text
    bundled = {Path(p).name for p, _dest in analysis.kwargs["binaries"]}
    from enginy_desktop.platform_check import missing_xcb_libraries

    for lib, _deb, _rpm in missing_xcb_libraries():
        assert lib in text  # not on this machine: named in the notes
    assert all(n.startswith(("libxcb-", "libxkbcommon")) for n in bundled)


@pytest.mark.parametrize("name", ["enginy.png", "enginy.ico", "enginy.icns"])
def test_the_app_icons_are_real_images(qapp, name: str) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QImageReader

    reader = QImageReader(str(ROOT / "resources" / "app-icon" / name))
    widths = []
    for _ in range(max(reader.imageCount(), 1)):
        image = reader.read()
        assert not image.isNull(), reader.errorString()
        widths.append(image.width())
        if not reader.jumpToNextImage():
            break
    assert max(widths) >= 256
