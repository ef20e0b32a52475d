"""Local emulators of vendor APIs (DESIGN §9): stateful ASGI apps with rate limits and fault injection.

They run in-process behind ``httpx.ASGITransport`` for unit tests, or on loopback through
:func:`enginy_desktop.sandbox.server.serve` for integration tests, benchmarks, the demo mode and the
``enginy-desktop sandbox`` command. Nothing here imports Qt.
"""

from __future__ import annotations

# Emulators the `sandbox` command can start, by CRM catalog key.
EMULATORS: tuple[str, ...] = ("hubspot",)
