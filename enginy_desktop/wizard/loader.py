"""Background loading of the CRM's fields and users, and Step 1's duplicate-risk check.

:class:`CrmDataLoader` runs coroutines of :mod:`enginy_desktop.core.services.crm_setup` and the duplicate-risk
check of :mod:`enginy_desktop.core.sync` as tasks of its :class:`~enginy_desktop.views.tasks.TaskKeeper`
(``loader.tasks``). Tests await its coroutines (:meth:`CrmDataLoader.load`, :meth:`CrmDataLoader.check_risk`)
directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal

from enginy_desktop.core.crm_config import ObjectType
from enginy_desktop.core.crm_wizard import WizardState
from enginy_desktop.core.redact import redact
from enginy_desktop.core.services import crm_setup
from enginy_desktop.views.formatting import when
from enginy_desktop.views.tasks import TaskKeeper

log = logging.getLogger(__name__)

LOADING, READY, CACHED, OFFLINE, FAILED, IDLE = "loading", "ready", "cached", "offline", "failed", "idle"
AUTO_CHECK_LIMIT = 2000  # records of a list checked without the user asking (a bigger list costs more requests)


class CrmDataLoader(QObject):
    """Loads the CRM snapshot into a :class:`WizardState` and says how it stands.

    ``status`` is ``idle`` (nothing yet), ``loading``, ``ready`` (read from the CRM just now), ``cached`` (the
    recent copy from disk, not re-read), ``offline`` (the CRM could not be read; working from the copy saved
    earlier) or ``failed`` (could not be read and no copy exists). ``error`` holds the reason.

    Signals:

    - ``changed()``: status or snapshot changed (pages re-render their pickers);
    - ``riskChanged()``: a duplicate-risk check started or ended.
    """

    changed = Signal()
    riskChanged = Signal()

    def __init__(self, ctx: Any, state: WizardState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.state = state
        self.status = IDLE
        self.error = ""
        self.detail = ""  # the technical part of the error, for "Details"
        self.risk_checking: set[ObjectType] = set()  # identifiers whose duplicate-risk check is running
        self.tasks = TaskKeeper()  # the loads and checks running in the background

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
        return (snap is None or snap.age_seconds() >= crm_setup.SNAPSHOT_MAX_AGE
                or snap.people_object != self.state.config.people_object)  # read for another people object

    async def load(self, refresh: bool = False) -> crm_setup.SnapshotResult:
        """Read the fields and users (from the recent cache unless ``refresh``); never raises for a CRM that
        cannot be read: the status says so and the cached copy stays in use."""
        self.status = LOADING
        self.error = self.detail = ""
        self.changed.emit()
        try:
            result = await crm_setup.load_snapshot(self.ctx, self.state.crm, refresh=refresh,
                                                   people=self.state.config.people_object)
        except asyncio.CancelledError:
            self.status = CACHED if self.state.snapshot is not None else IDLE
            raise
        except Exception as exc:  # a bug must not leave the wizard spinning forever
            log.exception("Loading the CRM fields failed unexpectedly")
            result = crm_setup.SnapshotResult(self.state.snapshot, error=redact(str(exc)) or type(exc).__name__)
        if result.snapshot is not None:
            self.state.snapshot = result.snapshot
        self.error, self.detail = result.error, result.detail
        if result.error:
            self.status = OFFLINE if self.state.snapshot is not None else FAILED
        else:
            self.status = READY if result.fetched else CACHED
        self.changed.emit()
        return result

    def status_text(self) -> str:
        name = self.state.crm_name
        snap = self.state.snapshot
        fetched = when(snap.fetched_at) if snap is not None else ""
        if self.status == LOADING:
            if snap is not None:
                return f"Refreshing the {name} fields and users… (showing the copy from {fetched})"
            return f"Loading the {name} fields and users…"
        if self.status == READY:
            return f"{name} fields and users loaded just now."
        if self.status == CACHED and snap is not None:
            return f"{name} fields and users as of {fetched}."
        if self.status == OFFLINE:
            why = self.error if name in self.error else f"{name} could not be reached. {self.error}"  # said once
            return f"Working from the CRM fields saved on {fetched}: {why}"
        if self.status == FAILED:
            return (f"The {name} fields could not be loaded, so the field lists are empty. {self.error} "
                    "Check the connection, then press Retry.")  # fmt: skip
        return f"The {name} fields and users have not been loaded yet."

    # -- duplicate risk ------------------------------------------------------------------------------------------
    async def check_risk(self, objects: Iterable[ObjectType] | None = None, force: bool = False) -> None:
        """Run the duplicate-risk check (``core.sync.check_duplicate_risk``) of each identifier on its chosen
        list: when ``force``d, else only when its result is out of date and the list is small enough to check
        without being asked (:data:`AUTO_CHECK_LIMIT` records)."""
        from enginy_desktop.core import sync

        state = self.state
        todo = []
        for obj in objects or list(ObjectType):
            chosen = state.chosen_risk_list(obj)
            if chosen is None or state.snapshot is None or state.current_rule(obj).problems():
                continue
            if not force and (state.risk_is_current(obj) or chosen.count > AUTO_CHECK_LIMIT):
                continue
            todo.append((obj, chosen))
        if not todo:
            self.riskChanged.emit()
            return
        self.risk_checking = {obj for obj, _ in todo}
        self.riskChanged.emit()
        try:
            for obj, chosen in todo:
                key = state.rule_key(obj)
                try:
                    report = await sync.check_duplicate_risk(self.ctx, chosen.id, object=obj.value,
                                                             rule=state.current_rule(obj), crm=state.crm)
                except (sync.SyncError, *crm_setup.READ_ERRORS) as exc:
                    state.set_risk(obj, chosen.id, key, error=redact(str(exc)) or type(exc).__name__)
                else:
                    state.set_risk(obj, chosen.id, key, report)
                self.risk_checking.discard(obj)
                self.riskChanged.emit()
        finally:
            self.risk_checking = set()
            self.riskChanged.emit()
