"""Local emulators of vendor APIs (DESIGN §9): stateful ASGI apps with rate limits and fault injection.

Every emulator is built on the shared kit (:mod:`enginy_desktop.sandbox.kit`: gateway, faults, limits, control
API) and registered in :data:`enginy_desktop.sandbox.registry.EMULATORS`. They run in-process behind
``httpx.ASGITransport`` for unit tests, or on loopback through :func:`enginy_desktop.sandbox.kit.server.serve` for
integration tests, benchmarks, the demo mode and the ``enginy-desktop sandbox`` command. Nothing here imports Qt.
"""
