"""Kept for existing imports: the same names live in :mod:`enginy_desktop.sandbox.kit.limits`."""

from .kit.limits import RateLimit, RollingWindow

__all__ = ["RateLimit", "RollingWindow"]
