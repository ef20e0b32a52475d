"""One active run per list and CRM (or provider), across processes: the window and any command lines.

A run that works on a list takes a *lease* (a ``run_leases`` row keyed ``<crm>/list/<list id>``) in the same
transaction that creates or resumes it, and gives it up in the transaction that ends it. A second run of the same
list — an export, a sync, an enrichment — is refused with :class:`RunBusyError`, whose message says who holds
it ("An export of “Prospects” to HubSpot is already running (started 18:02 by this computer's window).").

A process that dies holding a lease does not block the list: the lease is taken over when its process is gone
(same computer: its pid no longer exists) or has not beaten for :data:`STALE_AFTER` seconds (a process beats every
:data:`HEARTBEAT_EVERY` seconds from a background thread while it holds a lease). The run it held becomes
*interrupted*, and can be resumed.

Every run kind gets this by passing ``crm`` and ``list_id`` to :meth:`RunService.create` (or its own ``lease``
key); :func:`describe` and :meth:`RunService.lease_holder` let a caller refuse before it even plans.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import RunError

__all__ = [
    "HEARTBEAT_EVERY",
    "STALE_AFTER",
    "LeaseHolder",
    "RunBusyError",
    "lease_key",
    "process_label",
    "set_process_label",
]

HEARTBEAT_EVERY = 15.0  # seconds between two beats of a process holding a lease
STALE_AFTER = 120.0  # a lease not renewed for this long belongs to a process that is gone or hung

_label = "command line"


def set_process_label(label: str) -> None:
    """What this process is, as a refusal names it: ``"window"`` for the app, ``"command line"`` by default."""
    global _label
    _label = label


def process_label() -> str:
    return _label


def lease_key(crm: str | None, list_id: int | None) -> str | None:
    """The lease a run of ``list_id`` with ``crm`` takes (None when it is not about one list and target)."""
    if crm is None or list_id is None:
        return None
    return f"{crm}/list/{list_id}"


def _kind_words(kind: str) -> tuple[str, str]:
    return {"export": ("An export", "to"), "sync": ("A sync", "with"), "enrichment": ("An enrichment", "with"),
            "ai": ("An AI column run", "with"), "import": ("An import", "from")}.get(kind, (f"A {kind} run", "with"))


def _target_name(crm: str | None) -> str:
    if not crm:
        return "the CRM"
    try:
        from enginy_desktop.core import catalog

        return catalog.get(crm).name
    except Exception:  # an integration this version does not know: its key is still readable
        return crm


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    key: str
    run_id: int
    kind: str
    crm: str | None
    list_name: str
    owner_pid: int
    owner_host: str
    owner_label: str
    started_at: datetime
    heartbeat_at: datetime

    def who(self, host: str | None = None) -> str:
        here = (host or socket.gethostname()) == self.owner_host
        if self.owner_label == "window":
            return "this computer's window" if here else f"the window on {self.owner_host}"
        if here:
            mine = self.owner_pid == os.getpid()
            return "this program" if mine else f"a command line on this computer, pid {self.owner_pid}"
        return f"a command line on {self.owner_host}"

    def describe(self, host: str | None = None) -> str:
        what, prep = _kind_words(self.kind)
        when = self.started_at.astimezone().strftime("%H:%M")
        return (f"{what} of “{self.list_name}” {prep} {_target_name(self.crm)} is already running (run {self.run_id}, "
                f"started {when} by {self.who(host)}).")


class RunBusyError(RunError):
    """Another run holds the list: ``holder`` says which, ``str()`` is the whole message."""

    def __init__(self, holder: LeaseHolder, advice: str = "") -> None:
        text = holder.describe()
        super().__init__(f"{text} {advice}".strip())
        self.holder = holder


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def is_stale(holder_state: str, pid: int, host: str, heartbeat_at: datetime, *, here: str,
             now: datetime | None = None, alive: bool | None = None) -> bool:
    """Whether a lease may be taken over: its run ended, its process is gone, or it stopped beating."""
    from .service import ACTIVE_STATES, _pid_alive

    if holder_state not in ACTIVE_STATES:
        return True
    if host == here and not (alive if alive is not None else _pid_alive(pid)):
        return True
    now = now or datetime.now(UTC)
    return now - _aware(heartbeat_at) > timedelta(seconds=STALE_AFTER)
