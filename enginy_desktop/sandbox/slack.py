"""The Slack emulator under its short name; it lives in :mod:`enginy_desktop.sandbox.notify.slack`."""

from .notify.slack import *  # noqa: F403
from .notify.slack import __all__ as __all__
