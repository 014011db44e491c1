"""Start-up and shutdown of the API process: uvicorn with draining, connection timeouts and
a private metrics port.

SIGTERM (what ECS, Kubernetes and ``docker stop`` send) starts a drain: readiness answers
503 so the load balancer stops routing here, every request is still served but answered
with ``Connection: close`` (clients reconnect elsewhere instead of reusing a connection
that is about to go), and after ``drain_seconds`` the listener closes, requests in flight
finish and buffered logs are flushed. SIGINT (Ctrl-C) skips the drain; a second signal
during the drain stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fraudops.config import Settings
from fraudops.serving.allocator import keep_spark_out, limit_arenas
from fraudops.serving.types import ASGIApp, Message, Receive, Scope, Send
from fraudops.serving.workers import parent_gone

if TYPE_CHECKING:
    from fraudops.serving.app import AppState

logger = logging.getLogger(__name__)

# Seconds the server waits for requests in flight once it stops accepting connections.
GRACEFUL_SHUTDOWN_SECONDS = 10


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that closes a connection whose request headers are not
    complete ``header_timeout`` seconds after it opened or after its request began.

    uvicorn's own keep-alive timer only runs between requests: a client that opens a
    connection and sends nothing, or half a header line, would hold it for good.
    """

    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            logger.info("closing a connection that sent no complete request headers in time")
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class with its timeout: uvicorn builds one instance per connection."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})


class ServerGuard:
    """Pure ASGI wrapper around the whole API: ``Connection: close`` on every response
    while draining, and 404 for /metrics on the API port when metrics have their own."""

    def __init__(self, app: ASGIApp, state: AppState, metrics_elsewhere: bool) -> None:
        self.app = app
        self.state = state
        self.metrics_elsewhere = metrics_elsewhere

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if self.metrics_elsewhere and (path == "/metrics" or path.startswith("/metrics/")):
            from fastapi.responses import JSONResponse

            response = JSONResponse({"detail": "Not Found"}, status_code=404)
            await response(scope, receive, send)
            return

        async def close_when_draining(message: Message) -> None:
            if message["type"] == "http.response.start" and self.state.draining:
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, close_when_draining)


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain period between SIGTERM and closing the listener."""

    def __init__(self, config: uvicorn.Config, state: AppState, settings: Settings) -> None:
        super().__init__(config)
        self.state = state
        self.drain_seconds = settings.drain_seconds
        self.linger_seconds = settings.header_timeout_seconds
        self.drain_until: float | None = None
        self.drain_logged = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # a signal handler: set flags only (no logging, no I/O)
        self.state.draining = True
        first_term = sig == signal.SIGTERM and self.drain_until is None and not self.should_exit
        if first_term and self.drain_seconds > 0:
            self.drain_until = time.monotonic() + self.drain_seconds
            return
        if self.drain_until is not None:  # a second signal during the drain: stop now
            self.force_exit = True
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if counter % 10 == 0 and self.drain_until is None and parent_gone():
            # a worker whose supervisor died (SIGKILL): drain and stop, never linger alone
            self.handle_exit(signal.SIGTERM, None)
        if self.drain_until is not None and not self.drain_logged:
            self.drain_logged = True
            logger.warning(
                "SIGTERM: readiness is 503, draining for %.1f s before closing",
                self.drain_seconds,
            )
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Stop accepting first. A connection accepted just before may still be carrying its
        # request: closing it now would reset it, so give requests begun (or about to
        # begin) on busy connections the header timeout to finish; idle keep-alive
        # connections are closed by uvicorn below.
        for server in getattr(self, "servers", []):
            server.close()
        deadline = time.monotonic() + self.linger_seconds
        while not self.force_exit and time.monotonic() < deadline and self._busy_connections():
            await asyncio.sleep(0.05)
        await super().shutdown(sockets)

    def _busy_connections(self) -> int:
        busy = 0
        for connection in self.server_state.connections:
            cycle = getattr(connection, "cycle", None)
            if cycle is None or not cycle.response_complete:
                busy += 1
        return busy


def build_server(
    settings: Settings, app: Any, host: str, port: int, access_log: bool = False
) -> DrainingServer:
    """The uvicorn server for ``app`` (a FastAPI app from ``create_app``)."""
    state: AppState = app.state.fraudops
    guarded = ServerGuard(app, state, metrics_elsewhere=settings.resolved_metrics_port is not None)
    config = uvicorn.Config(
        guarded,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=access_log,
        timeout_keep_alive=max(1, round(settings.keep_alive_seconds)),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        http=header_timeout_protocol(settings.header_timeout_seconds),
        loop="uvloop",
        lifespan="on",
    )
    return DrainingServer(config, state, settings)


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    warm_from: str | None = None,
    warm_days: int = 35,
    access_log: bool = False,
    workers: int = 1,
) -> int:
    """Run the API until SIGTERM (drained) or SIGINT; metrics on their own port if set
    (worker ``i`` of several on ``metrics_port + i``). Returns the exit status."""
    # Read by polars' allocator (jemalloc) when polars loads, so set before any import of
    # it: freed pages go back to the OS within a second instead of staying resident — the
    # start-up warm-up alone frees ~100 MB that would otherwise be held for good.
    os.environ.setdefault(
        "_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
    )
    limit_arenas()
    keep_spark_out()
    if workers == 1:
        run_one(settings, host, port, warm_from, warm_days, access_log)
        return 0
    from fraudops.serving.workers import check_workers, run_workers

    check_workers(workers, settings.online_store_uri)

    def worker(sock: socket.socket, index: int) -> None:
        run_one(settings, host, port, warm_from, warm_days, access_log, sock, index)

    return run_workers(workers, host, port, worker)


def run_one(
    settings: Settings,
    host: str,
    port: int,
    warm_from: str | None,
    warm_days: int,
    access_log: bool,
    sock: socket.socket | None = None,
    index: int = 0,
) -> None:
    """One API process: on ``host:port``, or on ``sock`` (a worker of several)."""
    from fraudops.serving.app import create_app

    app = create_app(settings, warm_from=warm_from, warm_days=warm_days)
    metrics_server = None
    metrics_port = settings.resolved_metrics_port
    if metrics_port is not None:
        from prometheus_client import start_http_server

        metrics_server, _ = start_http_server(
            metrics_port + index, addr=host, registry=app.state.fraudops.metrics.registry
        )
        logger.info("metrics on http://%s:%d/metrics", host, metrics_port + index)
    try:
        server = build_server(settings, app, host, port, access_log)
        server.run(sockets=[sock] if sock is not None else None)
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
