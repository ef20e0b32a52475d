"""Where Enginy Desktop keeps its data: ``--data-dir``, then ``ENGINY_DATA_DIR``, then the platform default."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from enginy_desktop import APP_ID, ORG_NAME

ENV_DATA_DIR = "ENGINY_DATA_DIR"
DB_FILENAME = "enginy.db"
LOG_DIRNAME = "logs"
LOG_FILENAME = "enginy-desktop.log"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_ID, ORG_NAME, roaming=True))


def resolve_data_dir(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """The data directory chosen by the command line, the environment, or the platform, created if needed."""
    if cli_value:
        path = Path(cli_value)
    elif os.environ.get(ENV_DATA_DIR):
        path = Path(os.environ[ENV_DATA_DIR])
    else:
        path = default_data_dir()
    path = path.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_path(data_dir: Path) -> Path:
    return data_dir / DB_FILENAME


def log_path(data_dir: Path) -> Path:
    return data_dir / LOG_DIRNAME / LOG_FILENAME
