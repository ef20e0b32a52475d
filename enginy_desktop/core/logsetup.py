"""Logging: a rotating file in the data directory, every line passed through the secret redactor.

The log never stops the app: a folder it cannot create, a file it cannot write (read-only folder, full disk)
mean no log file, and the first failed write prints one line on stderr (never Python's "--- Logging error ---"
traceback on every record). The log file and its rotated copies are 0600 (they name contacts and lists).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

from .paths import FILE_MODE, FOLDER_MODE, POSIX_MODES, describe_os_error, log_path
from .redact import RedactingFilter

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
log = logging.getLogger(__name__)

# Why the log file is not written (empty when it is): shown by ``--help``-level messages and the window.
problem = ""


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Creates its files 0600 and reports a failing disk once, in one line, instead of a traceback per record."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        if POSIX_MODES:
            with contextlib.suppress(OSError):
                os.fchmod(fd, FILE_MODE)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)  # noqa: SIM115 - the handler closes it

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the last buffered line cannot reach a full disk: nothing to do
            super().close()
        self.stream = None

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging API
        global problem
        exc = sys.exc_info()[1]
        if problem:
            return
        reason = describe_os_error(exc, self.baseFilename) if isinstance(exc, OSError) else repr(exc)
        problem = f"The log file cannot be written; logging stopped. {reason}"
        with contextlib.suppress(Exception):  # stderr itself may be gone (a window without a console)
            sys.stderr.write(f"enginy-desktop: {problem}\n")


def configure_logging(data_dir: Path, level: int = logging.INFO, stderr: bool = False) -> Path | None:
    """Send the app's log to ``<data dir>/logs/enginy-desktop.log`` (1 MB × 5 files).

    Returns the file path, or None when the log cannot be written there (:data:`problem` says why); the app
    runs on without a log file.
    """
    global problem
    problem = ""
    path = log_path(data_dir)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_enginy", False):
            root.removeHandler(handler)
            handler.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        file_handler: logging.Handler | None = _PrivateRotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
        )
    except OSError as exc:
        problem = f"No log file is written: {describe_os_error(exc, path)}"
        file_handler = None
    if file_handler is not None:
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
    return path if file_handler is not None else None


def current_log_file() -> Path | None:
    """The file the app logs to, if logging was configured and the file can be written."""
    if problem:
        return None
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
