"""Logging: a rotating file in the data directory, every line passed through the secret redactor."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from .paths import log_path
from .redact import RedactingFilter

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(data_dir: Path, level: int = logging.INFO, stderr: bool = False) -> Path:
    """Send the app's log to ``<data dir>/logs/enginy-desktop.log`` (1 MB × 5 files). Returns the file path."""
    path = log_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_enginy", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(_FORMAT))
    file_handler.addFilter(RedactingFilter())
    file_handler._enginy = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    if stderr:
        err = logging.StreamHandler()
        err.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        err.addFilter(RedactingFilter())
        err.setLevel(logging.WARNING)
        err._enginy = True  # type: ignore[attr-defined]
        root.addHandler(err)
    root.setLevel(level)
    return path


def current_log_file() -> Path | None:
    """The file the app logs to, if logging was configured."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_enginy", False) and isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return None


def stop_logging() -> None:
    """Close the app's log handlers (the demo does this before deleting its folder)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_enginy", False):
            root.removeHandler(handler)
            handler.close()
