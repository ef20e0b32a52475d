"""The HubSpot emulator under its short name; it lives in :mod:`enginy_desktop.sandbox.crm.hubspot`."""

from .crm.hubspot import *  # noqa: F403
from .crm.hubspot import __all__ as __all__
