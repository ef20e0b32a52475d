"""Can the window open here? Checked before Qt is started, because Qt aborts the process (a core dump, one
library named) when its platform plugin cannot load or no display answers.

:func:`window_problem` returns one line saying what is missing and what to do, or ``None`` when the window can
open. It never imports Qt: on Linux it looks at ``DISPLAY`` / ``WAYLAND_DISPLAY``, loads the libraries Qt's
``xcb`` platform plugin links against (``ldd .../platforms/libqxcb.so`` on Qt 6) and asks the X server for a
connection, exactly what the plugin will do a moment later.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# Libraries Qt 6's xcb platform plugin (libqxcb.so + libQt6XcbQpa.so) needs from the system, with the package that
# ships each one on Debian/Ubuntu and on Fedora/RHEL. The order is the order they are named to the user.
XCB_LIBRARIES: tuple[tuple[str, str, str], ...] = (
    ("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    ("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    ("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    ("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    ("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    ("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    ("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    ("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    ("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    ("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    ("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    ("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    ("libxcb.so.1", "libxcb1", "libxcb"),
    ("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    ("libX11.so.6", "libx11-6", "libX11"),
    ("libEGL.so.1", "libegl1", "libglvnd-egl"),
    ("libGL.so.1", "libgl1", "libglvnd-glx"),
    ("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    ("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
)

#: Platforms that need no display server (tests, screenshots, the bundle's self-check).
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "linuxfb", "eglfs", "vkkhrdisplay")

CLI_HINT = "Everything also works from the command line: enginy-desktop --help"


def _can_load(name: str) -> bool:
    bundled = getattr(sys, "_MEIPASS", None)  # a desktop bundle may carry its own copy
    for candidate in ([os.path.join(bundled, name)] if bundled else []) + [name]:
        try:
            ctypes.CDLL(candidate)
        except OSError:
            continue
        return True
    return False


def missing_xcb_libraries(can_load: Callable[[str], bool] = _can_load) -> list[tuple[str, str, str]]:
    """The entries of :data:`XCB_LIBRARIES` that cannot be loaded here."""
    return [entry for entry in XCB_LIBRARIES if not can_load(entry[0])]


def _x_server_answers(display: str) -> bool:
    """Open (and close) one connection to the X server, as Qt's xcb plugin will; False when it refuses."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # reported as a missing library instead
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(display.encode(), None)
    try:
        return conn is not None and xcb.xcb_connection_has_error(conn) == 0
    finally:
        if conn is not None:
            xcb.xcb_disconnect(conn)


def window_problem(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    can_load: Callable[[str], bool] = _can_load,
    x_server_answers: Callable[[str], bool] = _x_server_answers,
) -> str | None:
    """One line explaining why the window cannot open here, or ``None`` when it can."""
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    if not platform.startswith("linux"):
        return None  # Windows and macOS always have their platform plugin and a screen
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa.startswith(HEADLESS_PLATFORMS):
        return None
    display, wayland = env.get("DISPLAY", ""), env.get("WAYLAND_DISPLAY", "")
    if not display and not wayland:
        return (
            "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set, for example over SSH). "
            f"{CLI_HINT}; to try the window anyway, start it on a virtual screen: xvfb-run enginy-desktop --demo"
        )
    if qpa.startswith("wayland") or (wayland and not qpa):
        return None  # Qt uses its Wayland plugin (and falls back to xcb itself when that fails)
    missing = missing_xcb_libraries(can_load)
    if missing:
        names = ", ".join(lib for lib, _deb, _rpm in missing)
        debian = " ".join(dict.fromkeys(deb for _lib, deb, _rpm in missing))
        fedora = " ".join(dict.fromkeys(rpm for _lib, _deb, rpm in missing))
        return (
            f"the window cannot open: system libraries Qt needs are missing ({names}). "
            f"Install them (Debian/Ubuntu: sudo apt install {debian}; Fedora: sudo dnf install {fedora}) "
            f"and start again. {CLI_HINT}"
        )
    if not x_server_answers(display):
        return (
            f"cannot connect to the display {display!r} (is the X server running and are you allowed to use it?). "
            f"{CLI_HINT}"
        )
    return None
