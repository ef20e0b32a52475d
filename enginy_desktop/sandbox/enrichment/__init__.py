"""Emulators of the data-enrichment providers, on the emulator kit (see ``common`` for the made-up world)."""
