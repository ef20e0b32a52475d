"""Imports of companies from outside sources (TheirStack), as runs (DESIGN §15)."""
