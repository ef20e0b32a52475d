"""Alembic migrations of the local store, shipped as package data and run at start-up."""
