"""The command line: ``enginy-desktop [--data-dir DIR] COMMAND ...`` (DESIGN §11).

Each module in :data:`COMMAND_MODULES` adds its subcommands through ``register(subparsers)``; a handler takes
the parsed arguments and a :class:`Runtime` and returns the exit code. Failures are one clear line on stderr and
a non-zero exit; no command takes a secret as an argument.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from enginy_desktop import APP_NAME, __version__

# Command groups, in the order `--help` lists them. Each is a module of this package with `register()`.
COMMAND_MODULES: list[str] = [
    "integrations", "crm", "crm_config", "sandbox", "workspace", "sync", "export", "store", "ai", "enrich",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class CliError(Exception):
    """One line for stderr; ``code`` is the exit status. ``detail`` is the technical part (also found on the
    error it was raised from), printed only with ``--verbose``."""

    def __init__(self, message: str, code: int = EXIT_ERROR, *, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail


def print_error(stderr: TextIO, exc: BaseException, *, verbose: bool, text: object = None) -> None:
    """The one way a command says it failed: ``enginy-desktop: SENTENCE`` (``text``, else the error itself), and
    with ``--verbose`` the technical detail on a second line. Both are redacted."""
    from enginy_desktop.adapters.base import error_detail
    from enginy_desktop.core.redact import redact

    print(f"enginy-desktop: {redact(exc if text is None else text)}", file=stderr)
    detail = error_detail(exc) if verbose else ""
    if detail:
        print(f"  Details: {detail}", file=stderr)


class Runtime:
    """Opens the app context lazily, so ``--help`` and argument errors never touch the database."""

    def __init__(self, data_dir: str | None, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> None:
        self._data_dir_arg = data_dir
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self._ctx: Any = None

    @property
    def data_dir(self) -> Path:
        from enginy_desktop.core.paths import resolve_data_dir

        return resolve_data_dir(self._data_dir_arg)

    def context(self) -> Any:
        if self._ctx is None:
            from enginy_desktop.core.context import AppContext
            from enginy_desktop.core.logsetup import configure_logging

            data_dir = self.data_dir
            configure_logging(data_dir)
            self._ctx = AppContext.open(data_dir)
        return self._ctx

    def print(self, *parts: object) -> None:
        print(*parts, file=self.stdout)

    def print_json(self, value: object) -> None:
        json.dump(value, self.stdout, indent=2, ensure_ascii=False, default=str)
        self.stdout.write("\n")

    @property
    def interactive(self) -> bool:
        """Someone at a terminal can answer a question (not a script, a pipe or a test's buffer)."""
        return bool(getattr(self.stdin, "isatty", lambda: False)()) and self.stdin is sys.stdin

    def confirm(self, question: str, yes: bool, *, refused: str) -> None:
        """Ask ``question`` before a command writes to a CRM or spends credits; ``--yes`` answers for scripts.

        Without a terminal and without ``--yes`` the command is refused (a script must say yes explicitly);
        any answer but yes cancels. ``refused`` says what was (not) done, e.g. "nothing was written".
        """
        if yes:
            return
        if not self.interactive:
            raise CliError(f"{question} Not confirmed, {refused}: add --yes to go ahead without a terminal.")
        print(f"{question} Type yes to go ahead: ", end="", file=self.stderr, flush=True)
        if self.stdin.readline().strip().lower() not in ("yes", "y"):
            raise CliError(f"Cancelled: {refused}.")

    @property
    def progress_is_live(self) -> bool:
        """Progress may redraw one line in place (stderr is a terminal); otherwise it prints whole lines."""
        return bool(getattr(self.stderr, "isatty", lambda: False)())

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()


Handler = Callable[[argparse.Namespace, Runtime], int]


def _quiet_closed_stdout(stdout: TextIO) -> None:
    """After a closed pipe, point the real stdout at /dev/null so Python's exit flush does not complain."""
    import os

    if stdout is sys.stdout:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enginy-desktop",
        description=f"{APP_NAME}: the integrations hub of Enginy on your own machine. "
        "Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder for the database, logs and reports (default: $ENGINY_DATA_DIR, else your user data folder)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the window on a temporary sample workspace with a CRM connected to a local sandbox",
    )
    parser.add_argument(
        "--crm",
        dest="demo_crm",
        metavar="KEY",
        help="with --demo: the CRM the demo connects to (default: hubspot; any CRM with an adapter and a sandbox)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="when a command fails, also print the technical detail (the error under the sentence)",
    )
    parser.add_argument("--self-check", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    _accept_global_options_anywhere(parser)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *_subparsers(child)]
    return found


def _accept_global_options_anywhere(parser: argparse.ArgumentParser) -> None:
    """``--data-dir DIR`` and ``--verbose`` work before or after the command (``enginy-desktop lists --data-dir
    DIR``).

    Each command's parser gets the options too, with no default of its own, so a value given before the command
    is kept unless one after it replaces it.
    """
    for child in _subparsers(parser):
        options = {o for a in child._actions for o in a.option_strings}
        if "--data-dir" not in options:
            child.add_argument(
                "--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                help="folder for the database, logs and reports (also accepted before the command)",
            )
        for action in child._actions:  # a command's own --verbose (sync's) keeps one given before the command
            if "--verbose" in action.option_strings:
                action.default = argparse.SUPPRESS
        if "--verbose" not in options:
            child.add_argument(
                "--verbose", action="store_true", default=argparse.SUPPRESS,
                help="when the command fails, also print the technical detail (also accepted before the command)",
            )


def run(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command; returns the exit code. ``argv`` without a command is the caller's business (the GUI)."""
    from enginy_desktop.core.redact import redact

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(stdout)
        return EXIT_USAGE
    from enginy_desktop.core.paths import private_umask

    private_umask()  # files the command writes (database, logs, reports, exports) are private to the user
    rt = Runtime(args.data_dir, stdin, stdout, stderr)
    verbose = bool(getattr(args, "verbose", False))
    try:
        return handler(args, rt)
    except BrokenPipeError:
        # The reader went away (`enginy-desktop lists NAME | head`): stop quietly, as other commands do.
        _quiet_closed_stdout(stdout)
        return EXIT_OK
    except CliError as exc:
        print_error(stderr, exc, verbose=verbose)
        return exc.code
    except KeyboardInterrupt:
        print("enginy-desktop: interrupted", file=stderr)
        return 130
    except Exception as exc:
        from enginy_desktop.core.catalog import UnknownIntegrationError
        from enginy_desktop.core.logsetup import current_log_file
        from enginy_desktop.core.paths import DataDirError, describe_os_error
        from enginy_desktop.core.runs import RunError
        from enginy_desktop.core.secrets import SecretsError
        from enginy_desktop.core.services.integrations import IntegrationError
        from enginy_desktop.core.services.workspace import WorkspaceError
        from enginy_desktop.core.store import StoreError

        if isinstance(exc, StoreError | IntegrationError | SecretsError | UnknownIntegrationError | DataDirError
                      | RunError | WorkspaceError):  # a list that does not exist, a value that does not fit
            print_error(stderr, exc, verbose=verbose)
            return EXIT_ERROR
        if isinstance(exc, OSError):  # a full disk, a read-only folder... one line, never a traceback
            logging.getLogger(__name__).warning("Command %s failed: %s", args.command, exc)
            print_error(stderr, exc, verbose=verbose, text=describe_os_error(exc))
            return EXIT_ERROR
        logging.getLogger(__name__).exception("Command %s failed", args.command)
        where = current_log_file()
        details = f"details in {where}" if where else "no log file could be written"
        print(f"enginy-desktop: unexpected error: {redact(exc)} ({details})", file=stderr)
        return EXIT_ERROR
    finally:
        rt.close()
