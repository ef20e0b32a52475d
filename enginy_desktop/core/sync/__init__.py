"""Sync: match a list's records with the CRM's and remember the links (DESIGN §5, issue 5). Writes nothing to
the CRM. Qt-free.

A sync of a contact list matches its contacts by the Contact Identifier and their companies (the companies the
contacts belong to) by the Company Identifier; a sync of a company list matches its companies. For each object:

1. **Local side**: the identifier fields of the records, read as columns from the workspace tables.
2. **CRM side**, with the fewest API calls the CRM allows, chosen per AND-group of the identifier and counted:

   * a group with an e-mail condition on a field the CRM keys records by (its ``unique_fields``) is read in
     batches by that property (the CRM's read batch size per call);
   * another group is searched with ``IN`` filters (one filter per condition, as many conditions per group and
     values per filter as the CRM's capabilities say, within its search rate limit) on the forms the CRM may hold
     for each value (the typed value and its normalized form, as typed too when its search does not fold case;
     LinkedIn and domain URL forms);
   * or the CRM is listed page by page with the identifier properties only (a *scan*), when that costs fewer
     calls than the searches — a big list against a small CRM — or when a condition cannot be searched
     exactly (a domain with *Include any domain extension*, a phone number). Search is exact for e-mails and as
     good as the CRM's data for names (``ACME, Inc.`` in the CRM is not found by searching ``Acme``), so
     searches of company names are weighed as costlier than they are and a scan wins unless the CRM is much
     bigger than the list.

   **Cached links**: a record this identifier already matched in an earlier sync (its journal says so, and the
   record has not changed since) is not searched again. The CRM records it was linked to are read again by id
   (100 per call: still there? still matching?) and the CRM records created or changed since that sync are
   listed once; since the other CRM records did not change, they still do not match. So a second sync of an
   unchanged list costs about one call per hundred matched records plus one.

3. **Matching** (:func:`core.matching.matcher.match`) in a worker thread, so the event loop keeps turning.
4. **Links** (:class:`CrmLink`: outcome, CRM id, why it matched, candidates) stored in batches, with the run's
   journal. An ambiguous record is never resolved silently: :func:`choose` / :func:`create_new` record the
   user's decision (outcomes ``chosen`` / ``create_new``), which later syncs keep while it still applies.

Everything runs as a ``runs`` row of kind ``sync`` with progress and cooperative cancellation: a cancelled sync
keeps the links it stored and says how many.

The package, along those steps: ``results`` (what a sync returns, its refusals), ``local`` (the list's records and
the saved identifiers), ``plan`` (how to read the CRM side), ``cache`` (the cached links and the CRM's size earlier
syncs left), ``read`` (reading the CRM side as planned), ``links`` (deciding and storing the links), ``budget``
(the daily budget a sync needs), ``run`` (:func:`sync_list`), ``review`` (a list's links, the user's decisions,
an ambiguous record's candidates) and ``risk`` (the duplicate-risk check).
"""

from .budget import SyncBudget, estimate_sync
from .links import CREATE_NEW_WHY, OUTCOME_KEYS
from .local import LocalColumns
from .read import read_crm_side
from .results import OBJECT_LABELS, ObjectSync, SyncError, SyncRefused, SyncResult
from .review import Candidate, LinkRow, candidate_details, choose, create_new, link_counts, link_rows
from .risk import RiskReport, check_duplicate_risk
from .run import sync_list

# ``LocalColumns`` and ``read_crm_side``: the export engine reads the CRM side the way a sync does.
__all__ = [
    "CREATE_NEW_WHY",
    "OBJECT_LABELS",
    "OUTCOME_KEYS",
    "Candidate",
    "LinkRow",
    "LocalColumns",
    "ObjectSync",
    "RiskReport",
    "SyncBudget",
    "SyncError",
    "SyncRefused",
    "SyncResult",
    "candidate_details",
    "check_duplicate_risk",
    "choose",
    "create_new",
    "estimate_sync",
    "link_counts",
    "link_rows",
    "read_crm_side",
    "sync_list",
]
