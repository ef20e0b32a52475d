"""Where Enginy Desktop keeps its data: ``--data-dir``, then ``ENGINY_DATA_DIR``, then the platform default.

The data folder holds contact data, so it is private to the user where the platform allows: the folder and its
sub-folders 0700, its files 0600 (:func:`secure_data_dir`, run when the store opens; files the app creates
later are created with those modes, see :func:`private_umask`). Windows keeps its own access lists (a user's
application-data folder is private already); there the modes are left alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import IO, Any

import platformdirs

from enginy_desktop import APP_ID, ORG_NAME

ENV_DATA_DIR = "ENGINY_DATA_DIR"
DB_FILENAME = "enginy.db"
LOG_DIRNAME = "logs"
LOG_FILENAME = "enginy-desktop.log"

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# What the app writes in its data folder: the modes of these are tightened when the store opens. Anything else
# a user keeps in the folder is left alone.
_PRIVATE_PREFIXES = (DB_FILENAME, "secrets.enc", "window.ini")
_PRIVATE_FOLDERS = (LOG_DIRNAME, "reports", "exports", "backups")
POSIX_MODES = os.name == "posix"


class DataDirError(Exception):
    """The data folder cannot be created or written; ``str()`` is one line for the user."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_ID, ORG_NAME, roaming=True))


def describe_os_error(exc: OSError, path: Path | str | None = None) -> str:
    """One sentence for a file-system failure: what happened and what to do (no traceback, no errno soup)."""
    where = str(path or exc.filename or "the data folder")
    code = exc.errno
    if code == errno.ENOSPC or code == getattr(errno, "EDQUOT", -1):
        return (
            f"The disk holding {where} is full. Free some space (or choose another data folder with --data-dir) "
            "and try again."
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"{where} cannot be written: the folder is read-only or you do not have permission to write to it. "
            "Fix its permissions, or choose another data folder with --data-dir (or ENGINY_DATA_DIR)."
        )
    return f"{where} cannot be used: {exc.strerror or exc}."


def resolve_data_dir(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """The data directory chosen by the command line, the environment, or the platform, created if needed.

    Raises :class:`DataDirError` (one line) when it cannot be created.
    """
    if cli_value:
        path = Path(cli_value)
    elif os.environ.get(ENV_DATA_DIR):
        path = Path(os.environ[ENV_DATA_DIR])
    else:
        path = default_data_dir()
    path = path.expanduser().resolve()
    if not path.is_dir():
        try:
            path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        except (FileExistsError, NotADirectoryError):
            raise DataDirError(
                f"{path} cannot be the data folder: a file stands where it (or a folder above it) should be. "
                "Choose a folder with --data-dir (or ENGINY_DATA_DIR); the file is left untouched.",
                path,
            ) from None
        except OSError as exc:
            raise DataDirError(describe_os_error(exc, path), path) from None
    return path


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            return
        if stat.S_IMODE(st.st_mode) & ~mode:
            path.chmod(stat.S_IMODE(st.st_mode) & mode)


def secure_data_dir(data_dir: Path) -> None:
    """Make the data folder and what the app keeps in it private to the user (POSIX: 0700 folders, 0600
    files); existing files written by older versions (0644) are tightened. Never fails: a file system without
    modes (a FAT USB stick, a network share) keeps what it has."""
    if not POSIX_MODES:
        return
    _tighten(data_dir, FOLDER_MODE)
    try:
        entries = list(data_dir.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(_PRIVATE_PREFIXES):
            _tighten(entry, FILE_MODE)
        elif entry.name in _PRIVATE_FOLDERS and entry.is_dir() and not entry.is_symlink():
            _tighten(entry, FOLDER_MODE)
            for root, dirs, files in os.walk(entry):
                for name in dirs:
                    _tighten(Path(root, name), FOLDER_MODE)
                for name in files:
                    _tighten(Path(root, name), FILE_MODE)


def private_umask() -> None:
    """Files and folders this process creates from now on are private to the user (umask 077).

    Called by the window and the command line at start (not by the library code that tests import), so that
    files written by any part of the app — exports, reports, backups, SQLite's -wal and -shm — are 0600.
    """
    if POSIX_MODES:
        os.umask(0o077)


def open_private(path: Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """``open()`` for a new file of the data folder: created 0600 (POSIX), whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    if POSIX_MODES:
        with contextlib.suppress(OSError):
            os.fchmod(fd, FILE_MODE)
    return open(fd, mode, **kwargs)  # noqa: SIM115 - the caller closes it


def db_path(data_dir: Path) -> Path:
    return data_dir / DB_FILENAME


def log_path(data_dir: Path) -> Path:
    return data_dir / LOG_DIRNAME / LOG_FILENAME
