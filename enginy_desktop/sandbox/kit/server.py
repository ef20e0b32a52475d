"""Serve an emulator on loopback with uvicorn: in a background thread (tests, benchmarks, demo mode) or in the
foreground until interrupted (the ``enginy-desktop sandbox`` command)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP, and
    # without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _server(app: Any, log_level: str) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=5,
        server_header=False,
    )
    return uvicorn.Server(config)


def _release_hangs(app: Any, server: uvicorn.Server) -> None:
    """Wake requests the timeout fault keeps waiting, so shutdown does not wait for them."""
    gateway = getattr(app, "gateway", None)
    release = getattr(gateway, "release", None)
    if release is not None:
        release()


@contextlib.contextmanager
def serve(app: Any, port: int = 0, host: str = LOOPBACK, *, log_level: str = "warning",
          start_timeout: float = 10.0) -> Iterator[str]:
    """Run ``app`` on ``host:port`` (0 picks a free port) in a background thread; yields the base URL.

    The server stops (and the thread ends) when the block exits::

        with serve(create_app(config)) as base_url:
            httpx.get(f"{base_url}/crm/objects/2026-03/contacts", headers=...)
    """
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    server = _server(app, log_level)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{bound_port}",
                              daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"The sandbox server on {host}:{bound_port} stopped while starting.")
            if time.monotonic() > deadline:
                raise RuntimeError(f"The sandbox server on {host}:{bound_port} did not start in {start_timeout} s.")
            time.sleep(0.01)
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        _release_hangs(app, server)
        thread.join(timeout=start_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()


def run_forever(app: Any, port: int, host: str = LOOPBACK, *, on_ready: Callable[[str], None] | None = None,
                log_level: str = "warning") -> None:
    """Serve in the foreground until Ctrl+C (or SIGTERM). ``on_ready(base_url)`` runs once the port is bound.

    Returns normally after an interrupt; the caller decides the exit status.
    """
    sock = _bind(host, port)
    server = _server(app, log_level)
    base_url = f"http://{host}:{sock.getsockname()[1]}"
    try:
        if on_ready is not None:
            on_ready(base_url)
        # uvicorn handles SIGINT/SIGTERM itself, shuts down gracefully, then re-raises the signal.
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
