"""The CSV import dialog: :class:`ImportDialog` (the controller, :mod:`.dialog`) and its stages — the file and
its mapping (:mod:`.setup`), the progress and Cancel's question (:mod:`.progress`), the summary
(:mod:`.summary`) — with the worker's cancel check (:mod:`.cancel`)."""

from .cancel import CancelGate, ImportDiscarded
from .dialog import ImportDialog, open_file_dialog, save_file_dialog

__all__ = ["CancelGate", "ImportDialog", "ImportDiscarded", "open_file_dialog", "save_file_dialog"]
