"""Enginy Desktop: the integrations hub of Enginy on a sales-ops person's own machine."""

__version__ = "0.1.0"
APP_NAME = "Enginy Desktop"
APP_ID = "EnginyDesktop"
ORG_NAME = "Enginy"
