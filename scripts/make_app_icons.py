"""Render the application icon (resources/icons/enginy.svg) to the files the desktop bundles need, with Qt:

    QT_QPA_PLATFORM=offscreen python scripts/make_app_icons.py

writes resources/app-icon/enginy.png (512 px, Linux and the window icon), enginy.ico (16–256 px, Windows) and
enginy.icns (16–1024 px, macOS). The results are committed, so a build never depends on an image converter.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "resources" / "icons" / "enginy.svg"
OUT = ROOT / "resources" / "app-icon"


def render(size: int):  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(SOURCE)).render(painter)
    painter.end()
    return image


# ICNS entries that hold PNG data, and their pixel sizes (Apple's "icns" format: a header, then type, length, data).
ICNS_SIZES = (("icp4", 16), ("icp5", 32), ("icp6", 64), ("ic07", 128), ("ic08", 256), ("ic09", 512), ("ic10", 1024))


def png_bytes(image) -> bytes:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def icns(entries: dict[str, bytes]) -> bytes:
    """An .icns file of PNG entries (written by hand: Qt's own writer makes a table of contents its reader
    rejects)."""
    import struct

    body = b"".join(kind.encode("ascii") + struct.pack(">I", len(png) + 8) + png for kind, png in entries.items())
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def main() -> int:
    from PySide6.QtGui import QGuiApplication, QImageWriter

    _app = QGuiApplication(sys.argv[:1])
    OUT.mkdir(parents=True, exist_ok=True)
    if not render(512).save(str(OUT / "enginy.png"), "PNG"):
        raise SystemExit("could not write enginy.png")
    # ICO: Qt's writer takes one image (256 px, the largest ICO holds); Windows scales it down.
    writer = QImageWriter(str(OUT / "enginy.ico"), b"ico")
    if not writer.write(render(256)):
        raise SystemExit(f"could not write enginy.ico: {writer.errorString()}")
    (OUT / "enginy.icns").write_bytes(icns({kind: png_bytes(render(size)) for kind, size in ICNS_SIZES}))
    print(f"icons in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
