"""Data-enrichment providers (DESIGN §13): the contract in :mod:`.base`, one module per provider."""
