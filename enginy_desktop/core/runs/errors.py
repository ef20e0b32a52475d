"""The readable refusals about runs (shared by the service and the leases)."""

from __future__ import annotations

__all__ = ["RunError", "RunNotFoundError", "RunStateError"]


class RunError(Exception):
    """A readable refusal about runs."""


class RunNotFoundError(RunError):
    pass


class RunStateError(RunError):
    """A state change that the run's current state does not allow."""
