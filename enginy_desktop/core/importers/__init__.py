"""Importers: bring records into the local workspace (CSV files today; TheirStack and enrichment tools later)."""
