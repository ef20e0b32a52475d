"""Kept for existing imports: the same names live in :mod:`enginy_desktop.sandbox.kit.faults`."""

from .kit.faults import FaultConfig, FaultInjector, FaultKind, drop_connection, hang, parse_duration, server_transport

__all__ = ["FaultConfig", "FaultInjector", "FaultKind", "drop_connection", "hang", "parse_duration", "server_transport"]
