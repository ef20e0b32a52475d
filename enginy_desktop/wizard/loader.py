"""Background loading of the CRM's fields and users, and of Step 1's duplicate-risk samples.

:class:`CrmDataLoader` runs coroutines of :mod:`enginy_desktop.core.services.crm_setup` as asyncio tasks on the
running loop (qasync's in the app) and keeps a reference to each task until it ends. Tests await its coroutines
(:meth:`CrmDataLoader.load`, :meth:`CrmDataLoader.check_risk`) directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from PySide6.QtCore import QDateTime, QLocale, QObject, QTimeZone, Signal

from enginy_desktop.core.crm_config import ObjectType
from enginy_desktop.core.crm_wizard import WizardState
from enginy_desktop.core.redact import redact
from enginy_desktop.core.services import crm_setup

log = logging.getLogger(__name__)

LOADING, READY, CACHED, OFFLINE, FAILED, IDLE = "loading", "ready", "cached", "offline", "failed", "idle"


def local_time(moment: datetime) -> str:
    """A moment in the user's locale and time zone (short format)."""
    qdt = QDateTime.fromSecsSinceEpoch(int(moment.timestamp()), QTimeZone.systemTimeZone())
    return QLocale().toString(qdt, QLocale.FormatType.ShortFormat)


class CrmDataLoader(QObject):
    """Loads the CRM snapshot into a :class:`WizardState` and says how it stands.

    ``status`` is ``idle`` (nothing yet), ``loading``, ``ready`` (read from the CRM just now), ``cached`` (the
    recent copy from disk, not re-read), ``offline`` (the CRM could not be read; working from the copy saved
    earlier) or ``failed`` (could not be read and no copy exists). ``error`` holds the reason.

    Signals:

    - ``changed()``: status or snapshot changed (pages re-render their pickers);
    - ``riskChanged()``: the duplicate-risk samples or their status changed.
    """

    changed = Signal()
    riskChanged = Signal()

    def __init__(self, ctx: Any, state: WizardState, parent: QObject | None = None, *, transport: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.state = state
        self.transport = transport
        self.status = IDLE
        self.error = ""
        self.risk_status = IDLE
        self.risk_error = ""
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- running -----------------------------------------------------------------------------------------------
    def start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``coro`` as a task on the running loop, keeping a reference until it ends; without a running
        loop (a test building the wizard) the coroutine is dropped and None returned."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    @property
    def busy(self) -> bool:
        return self.status == LOADING

    # -- fields and users --------------------------------------------------------------------------------------
    def use_cache(self) -> bool:
        """Show the copy saved on disk at once (before any request); True when there is one."""
        snapshot = crm_setup.cached_snapshot(self.ctx, self.state.crm)
        if snapshot is None:
            return False
        self.state.snapshot = snapshot
        self.status = CACHED
        self.changed.emit()
        return True

    def needs_fetch(self) -> bool:
        snap = self.state.snapshot
        return snap is None or snap.age_seconds() >= crm_setup.SNAPSHOT_MAX_AGE

    async def load(self, refresh: bool = False) -> crm_setup.SnapshotResult:
        """Read the fields and users (from the recent cache unless ``refresh``); never raises for a CRM that
        cannot be read: the status says so and the cached copy stays in use."""
        self.status = LOADING
        self.error = ""
        self.changed.emit()
        try:
            result = await crm_setup.load_snapshot(self.ctx, self.state.crm, refresh=refresh, transport=self.transport)
        except asyncio.CancelledError:
            self.status = CACHED if self.state.snapshot is not None else IDLE
            raise
        except Exception as exc:  # a bug must not leave the wizard spinning forever
            log.exception("Loading the CRM fields failed unexpectedly")
            result = crm_setup.SnapshotResult(self.state.snapshot, error=redact(str(exc)) or type(exc).__name__)
        if result.snapshot is not None:
            self.state.snapshot = result.snapshot
        self.error = result.error
        if result.error:
            self.status = OFFLINE if self.state.snapshot is not None else FAILED
        else:
            self.status = READY if result.fetched else CACHED
        self.changed.emit()
        return result

    def status_text(self) -> str:
        name = self.state.crm_name
        snap = self.state.snapshot
        when = local_time(snap.fetched_at) if snap is not None else ""
        if self.status == LOADING:
            if snap is not None:
                return f"Refreshing the {name} fields and users… (showing the copy from {when})"
            return f"Loading the {name} fields and users…"
        if self.status == READY:
            return f"{name} fields and users loaded just now."
        if self.status == CACHED and snap is not None:
            return f"{name} fields and users as of {when}."
        if self.status == OFFLINE:
            return f"Working from the CRM fields saved on {when}: {name} could not be reached. {self.error}"
        if self.status == FAILED:
            return (f"The {name} fields could not be loaded, so the field lists are empty. {self.error} "
                    "Check the connection, then press Retry.")  # fmt: skip
        return f"The {name} fields and users have not been loaded yet."

    # -- duplicate risk ------------------------------------------------------------------------------------------
    async def check_risk(self, force: bool = False) -> None:
        """Sample local and CRM records for the objects whose identifier needs fields not sampled yet."""
        wanted = {
            obj: self.state.risk_fields(obj) for obj in ObjectType if force or self.state.needs_sample(obj)
        }
        if not wanted:
            self.riskChanged.emit()
            return
        self.risk_status = LOADING
        self.risk_error = ""
        self.riskChanged.emit()
        try:
            samples = await crm_setup.risk_samples(self.ctx, self.state.crm, wanted, transport=self.transport)
        except crm_setup.READ_ERRORS as exc:
            self.risk_status = FAILED
            self.risk_error = redact(str(exc))
        except asyncio.CancelledError:
            self.risk_status = IDLE
            raise
        else:
            self.state.samples.update(samples)
            self.risk_status = READY
        self.riskChanged.emit()
