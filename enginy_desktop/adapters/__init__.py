"""Vendor adapters (Qt-free): the contracts in :mod:`.base`, the network seam in :mod:`.http`, one module per
vendor, and :mod:`.registry` mapping catalog keys to adapter classes."""
