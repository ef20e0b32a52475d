"""GUI bootstrap: QApplication + the qasync event loop, one excepthook, clean shutdown.

``asyncio.Runner(loop_factory=qasync.QEventLoop)`` drives Qt and asyncio on one thread (DESIGN §10). Every
unhandled error — in a slot, a callback or an asyncio task — goes to :func:`report_exception`: it is logged
(secrets redacted) and shown in a readable dialog with the technical detail behind "Show Details".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import time
import traceback
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

_error_dialog: Any = None  # the open error dialog, kept referenced so Python does not collect it
_errors_seen = 0
_termination_requested: int | None = None  # a quit signal received before the window's loop runs


def report_exception(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Log an unhandled error and show it to the user; never raises."""
    global _error_dialog, _errors_seen
    from enginy_desktop.core.redact import redact

    _errors_seen += 1
    log.error("Unhandled error", exc_info=(exc_type, exc, tb))
    try:
        from PySide6.QtWidgets import QApplication, QMessageBox

        from enginy_desktop.views.message import MessageBox

        app = QApplication.instance()
        if app is None or _error_dialog is not None or os.environ.get("ENGINY_NO_ERROR_DIALOG"):
            return
        from enginy_desktop.core.logsetup import current_log_file

        box = MessageBox(QApplication.activeWindow())
        box.setObjectName("errorDialog")
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Something went wrong")
        box.setText("Something went wrong")
        detail = redact(exc) or exc_type.__name__
        where = current_log_file()
        box.setInformativeText(
            f"Enginy Desktop hit an unexpected problem: {detail}\n\nYour saved data and settings were not "
            "changed. You can keep working; if this happens again, "
            f"send the log file to support{f' ({where})' if where else ''}."
        )
        box.setDetailedText(redact("".join(traceback.format_exception(exc_type, exc, tb))))
        _error_dialog = box

        def _closed() -> None:
            global _error_dialog
            _error_dialog = None

        box.finished.connect(_closed)
        box.open()
    except Exception:  # the error reporter must never raise
        log.exception("Could not show the error dialog")


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if isinstance(exc, asyncio.CancelledError):
        return
    if exc is None:
        log.error("Event loop: %s", context.get("message"))
        return
    report_exception(type(exc), exc, exc.__traceback__)


def run_app(args: argparse.Namespace) -> int:
    """Open the window; returns the process exit code."""
    from enginy_desktop.core.logsetup import configure_logging
    from enginy_desktop.core.paths import DataDirError, private_umask, resolve_data_dir

    started = time.monotonic()
    private_umask()  # the database, logs, reports and exports are private to the user
    from enginy_desktop.platform_check import window_problem

    problem = window_problem()
    if problem:
        # Qt would abort the process here (a core dump naming one library); say it in one line instead.
        print(f"enginy-desktop: {problem}", file=sys.stderr)
        return 1
    demo = None
    # Until the window's loop runs, a termination request is remembered and the start-up stops between its
    # steps (the demo folder is removed); from then on it closes the window (see _install_quit_signals).
    global _termination_requested
    _termination_requested = None
    previous = _remember_termination()
    try:
        if getattr(args, "demo", False):
            from enginy_desktop.demo import DEFAULT_CRM, DemoUnavailableError, start_demo

            try:
                demo = start_demo(getattr(args, "demo_crm", None) or DEFAULT_CRM)
            except DemoUnavailableError as exc:
                print(f"enginy-desktop: {exc}", file=sys.stderr)
                return 2
            data_dir = demo.data_dir
        else:
            try:
                data_dir = resolve_data_dir(args.data_dir)
            except DataDirError as exc:
                data_dir = exc.path  # the window's start-up reports it and offers another folder
        if _termination_requested is not None:
            return 128 + _termination_requested
        configure_logging(data_dir)
        log.info("Starting Enginy Desktop (data folder %s%s)", data_dir, ", demo" if demo else "")
        return _run_window(args, data_dir, started, demo.passphrase if demo else None)
    finally:
        _restore_signals(previous)
        if demo is not None:
            from enginy_desktop.core.logsetup import stop_logging

            stop_logging()  # release the demo's log file before its folder is deleted
            demo.close()


def _quit_signals() -> list[signal.Signals]:
    names = ("SIGINT", "SIGTERM", "SIGHUP")  # Ctrl+C, `kill`, the terminal closed
    return [getattr(signal, n) for n in names if hasattr(signal, n)]


def _remember_termination() -> dict[signal.Signals, Any]:
    """Before the window's loop runs, a termination request is remembered, not raised at a random point (an
    exception inside a library's clean-up could be swallowed); the start-up checks it between its steps."""

    def _remember(signum: int, _frame: Any) -> None:
        global _termination_requested
        _termination_requested = signum

    previous = {}
    for sig in _quit_signals():
        with contextlib.suppress(ValueError, OSError):  # not the main thread (tests), or not settable here
            previous[sig] = signal.signal(sig, _remember)
    return previous


def _restore_signals(previous: dict[signal.Signals, Any]) -> None:
    for sig, handler in previous.items():
        with contextlib.suppress(ValueError, OSError, TypeError):
            signal.signal(sig, handler)


def _install_quit_signals(app: Any) -> Any:
    """Ctrl+C, SIGTERM and SIGHUP quit the window cleanly (the demo folder is removed, geometry saved).

    Python runs a signal handler only when it next runs bytecode, and Qt's loop may sleep in C++ for long: the
    signal also writes a byte to a socket that a ``QSocketNotifier`` watches, which wakes the loop at once.
    Returns the objects to keep alive while the loop runs.
    """
    import socket

    from PySide6.QtCore import QSocketNotifier, QTimer

    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    try:
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread
        reader.close()
        writer.close()
        return None
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read)

    def _drain() -> None:
        try:
            while reader.recv(64):
                pass
        except OSError:
            pass

    notifier.activated.connect(_drain)

    def _quit(signum: int, _frame: Any) -> None:
        log.info("Quitting on signal %s", signum)
        QTimer.singleShot(0, app.quit)

    for sig in _quit_signals():
        signal.signal(sig, _quit)
    if _termination_requested is not None:  # asked while the window was being built
        QTimer.singleShot(0, app.quit)
    return (reader, writer, notifier)


def _run_window(args: argparse.Namespace, data_dir: Any, started: float, demo_passphrase: str | None) -> int:
    demo = demo_passphrase is not None
    import qasync
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from enginy_desktop import APP_ID, APP_NAME, ORG_NAME
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.core.runs import set_process_label
    from enginy_desktop.core.store import StoreError

    from .views import theme
    from .views.tasks import keep_window_responsive

    set_process_label("window")  # a command line refused by one of the window's runs names the window

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setDesktopFileName(APP_ID)
    theme.apply_theme(app)
    keep_window_responsive()
    sys.excepthook = report_exception

    from enginy_desktop.core.logsetup import configure_logging
    from enginy_desktop.core.paths import DataDirError, resolve_data_dir
    from enginy_desktop.core.store import restore_latest_backup

    from .views import store_problem

    while True:
        try:
            ctx = AppContext.open(resolve_data_dir(data_dir), passphrase=demo_passphrase)
            break
        except (StoreError, DataDirError) as exc:
            log.error("Cannot open the database: %s", exc)
            if args.self_check:
                print(f"self-check: failed: {exc}", file=sys.stderr)
                return 1
            # No event loop runs yet, so modal dialogs are safe here.
            choice, folder = store_problem.ask(exc, data_dir)
            if choice is store_problem.Choice.QUIT:
                return 1
            if choice is store_problem.Choice.OTHER_FOLDER and folder is not None:
                data_dir = folder
                configure_logging(data_dir)
                continue
            try:
                restore_latest_backup(data_dir)
            except StoreError as problem:
                from .views.message import MessageBox

                box = MessageBox(None, "The backup could not be put in place", f"{problem} Nothing was deleted; "
                                 "next, you can choose another data folder.", QMessageBox.Icon.Critical,
                                 title="Cannot restore the backup")
                box.addButton(QMessageBox.StandardButton.Ok)
                box.exec()

    from .views.main_window import MainWindow

    window = MainWindow(ctx)
    if demo:
        window.set_demo(True)
    keep_signals = _install_quit_signals(app)

    class _FirstPaint(QObject):
        painted_at: float | None = None

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.Paint and self.painted_at is None:
                self.painted_at = time.monotonic()
                log.info("First paint after %.0f ms", (self.painted_at - started) * 1000)
                if args.self_check:
                    QTimer.singleShot(0, app.quit)
            return False

    first_paint = _FirstPaint()
    window.installEventFilter(first_paint)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_loop_exception_handler)
        closed = loop.create_future()

        def _quitting() -> None:
            if not closed.done():
                closed.set_result(None)

        app.aboutToQuit.connect(_quitting)
        window.show()
        # Everything built at start-up lives as long as the window: keep it out of the garbage collector's full
        # passes (~70 ms on this heap), which would otherwise pause the window now and then.
        gc.freeze()
        if args.self_check:
            QTimer.singleShot(15000, app.quit)  # never hang a CI run
        await closed

    code = 0
    try:
        with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
            runner.run(main())
            _shutdown(runner.get_loop())
    finally:
        if keep_signals is not None:
            signal.set_wakeup_fd(-1)
            keep_signals[2].setEnabled(False)
            for sock in keep_signals[:2]:
                sock.close()
    window.save_geometry()
    ok = _self_check(window, first_paint.painted_at) if args.self_check else True
    window.close()
    window.deleteLater()
    ctx.close()
    log.info("Stopped cleanly")
    if not ok:
        code = 1
    return code


def _shutdown(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what still runs and let it finish its clean-up (clients closed, journals flushed)."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())


def _self_check(window: Any, painted_at: float | None) -> bool:
    """The frozen bundle's smoke test: the window painted, with every card, and nothing failed."""
    from enginy_desktop.core import catalog
    from enginy_desktop.views.tasks import WINDOW_SWITCH_INTERVAL

    cards = [k for k in catalog.integration_keys() if window.findChild(object, f"card-{k}") is not None]
    problems = []
    if painted_at is None:
        problems.append("the window never painted")
    if len(cards) != len(catalog.INTEGRATIONS):
        problems.append(f"{len(cards)} of {len(catalog.INTEGRATIONS)} cards")
    if sys.getswitchinterval() > WINDOW_SWITCH_INTERVAL:
        problems.append(f"the interpreter's switch interval is {sys.getswitchinterval() * 1000:g} ms: "
                        "a busy worker thread would stall the window")
    if _errors_seen:
        problems.append(f"{_errors_seen} unhandled error(s)")
    if problems:
        print(f"self-check: failed: {'; '.join(problems)}", file=sys.stderr)
        return False
    print(f"self-check: ok cards={len(cards)} painted_monotonic={painted_at:.6f}")
    return True


