"""Enrichment runs with a provider waterfall (DESIGN §13), Qt-free.

- :mod:`.points` — where each data point lands in a record (Enginy fields), what a record misses;
- :mod:`.plan` — the providers, the saved waterfall (order and exclusions per data point), a run's options and the
  estimate before spending;
- :mod:`.run` — the run itself: waterfall, cache, journal, provenance, cap, resume;
- :mod:`.report` — the report of a run, and the provenance of values for the list.
"""

from .plan import (
    DEFAULT_MAX_CREDITS,
    EnrichError,
    EnrichOptions,
    Estimate,
    default_order,
    estimate,
    excluded_providers,
    providers,
    save_default_order,
    saved_waterfall,
)
from .report import provenance, report
from .run import open_adapter, resume_enrichment, run_enrichment, start_enrichment

__all__ = [
    "DEFAULT_MAX_CREDITS",
    "EnrichError",
    "EnrichOptions",
    "Estimate",
    "default_order",
    "estimate",
    "excluded_providers",
    "open_adapter",
    "provenance",
    "providers",
    "report",
    "resume_enrichment",
    "run_enrichment",
    "save_default_order",
    "saved_waterfall",
    "start_enrichment",
]
