"""Sync a list with the enabled CRM: :class:`SyncDialog` (the controller, :mod:`.dialog`) with its start stage
(:mod:`.start`) and its result (:class:`SyncResultView`, :mod:`.result`, which the Runs page also shows as a sync
run's details): the records and their links (:mod:`.links`), an ambiguous record's candidates
(:mod:`.candidates`)."""

from .dialog import ACTIVE_SYNCS, SyncDialog, sync_button_label, sync_run_detail
from .links import LinksModel
from .result import SyncResultView

__all__ = ["ACTIVE_SYNCS", "LinksModel", "SyncDialog", "SyncResultView", "sync_button_label", "sync_run_detail"]
