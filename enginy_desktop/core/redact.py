"""Redaction for the core's modules: :mod:`enginy_desktop.redact` (a leaf module every layer may use)."""

from enginy_desktop.redact import MASK, RedactingFilter, redact, register_secret

__all__ = ["MASK", "RedactingFilter", "redact", "register_secret"]
