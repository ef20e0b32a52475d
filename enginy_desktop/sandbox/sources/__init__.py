"""Emulators of import sources (TheirStack)."""
