"""Kept for existing imports: the same names live in :mod:`enginy_desktop.sandbox.kit.server`."""

from .kit.server import LOOPBACK, run_forever, serve

__all__ = ["LOOPBACK", "run_forever", "serve"]
