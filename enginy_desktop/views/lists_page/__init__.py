"""The Lists page: :class:`ListsPage` (the controller, :mod:`.page`) and its parts — the bar over the records
(:mod:`.toolbar`), the records table (:mod:`.records`), the next step after an import (:mod:`.next_step`), the
questions before deleting (:mod:`.questions`) and the new-list / rename dialog (:mod:`.name_dialog`)."""

from .name_dialog import ListNameDialog
from .page import ListsPage
from .records import records_text

__all__ = ["ListNameDialog", "ListsPage", "records_text"]
