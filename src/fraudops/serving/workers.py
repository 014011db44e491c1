"""``fraudops serve --workers N``: N API processes on one port (pre-fork).

Each worker is a whole API process (its own model copy, event loop and logs) listening on
the same port through ``SO_REUSEPORT``: the kernel spreads new connections over the
workers' listeners. The online state must then live outside the processes (Redis); with
the in-memory store each worker would see only its share of a card's transactions, so
:func:`check_workers` refuses that.

The parent only supervises: SIGTERM or SIGINT is passed on to every worker (each drains as
a single server does, see :mod:`.server`), a worker that dies on its own is restarted, and
the parent exits once every worker has stopped (status 0 when all stopped cleanly).
Workers run in their own process group, so a signal sent to the parent's group reaches
them once, through the parent; a worker whose parent is gone stops by itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType

logger = logging.getLogger(__name__)

# A worker that dies this soon after it started is failing at start-up: stop, not retry.
START_UP_SECONDS = 5.0


class WorkersRefusedError(ValueError):
    """The configuration cannot run several workers (the message says why)."""


def check_workers(workers: int, online_store_uri: str) -> None:
    if workers < 1:
        raise WorkersRefusedError(f"--workers must be at least 1, got {workers}")
    if workers > 1 and not online_store_uri.startswith(("redis://", "rediss://", "unix://")):
        raise WorkersRefusedError(
            f"--workers {workers} needs a shared online store: with {online_store_uri!r} each "
            "worker would keep its own share of every card's history and velocity features "
            "would count only what that worker saw. Set FRAUDOPS_ONLINE_STORE_URI="
            "redis://host:6379/0, or serve with one worker."
        )


def listener(host: str, port: int) -> socket.socket:
    """A socket bound to the port the other workers share. It is not listening yet: the
    server listens once its start-up (model, stores, warm-up) is done, so the kernel never
    hands connections to a worker that cannot answer them yet."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def run_workers(
    workers: int, host: str, port: int, run_worker: Callable[[socket.socket, int], None]
) -> int:
    """Fork ``workers`` processes calling ``run_worker(listening socket, index)``; supervise
    them until they have all stopped after a signal. Returns the exit status."""
    # bound here first, so a taken port fails at once, with the parent's message; this
    # socket never listens, so it takes no connections away from the workers
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    probe.bind((host, port))
    parent = os.getpid()
    children: dict[int, tuple[int, float]] = {}  # pid -> (worker index, start time)
    stopping: list[int] = []  # the signals received (forwarded to every worker)

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            probe.close()
            os.setpgid(0, 0)
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            status = 1
            try:
                sock = listener(host, port)
                os.environ["_FRAUDOPS_WORKER_PARENT"] = str(parent)
                run_worker(sock, index)
                status = 0
            except BaseException:
                logger.exception("worker %d failed", index)
            finally:
                os._exit(status)
        children[pid] = (index, time.monotonic())

    def forward(sig: int, frame: FrameType | None) -> None:
        stopping.append(sig)
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for index in range(workers):
        spawn(index)
    logger.info("%d workers on %s:%d (pids %s)", workers, host, port, sorted(children))
    status = 0
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        index, started = children.pop(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if stopping:
            status = status or (0 if code == 0 else 1)
            continue
        if time.monotonic() - started < START_UP_SECONDS:
            logger.error("worker %d (pid %d) failed at start-up (%d): stopping", index, pid, code)
            forward(signal.SIGTERM, None)
            status = 1
            continue
        logger.error("worker %d (pid %d) exited (%d): starting a new one", index, pid, code)
        spawn(index)
    probe.close()
    return status


def parent_gone() -> bool:
    """In a worker: whether the supervising parent has died (then the worker stops too)."""
    parent = os.environ.get("_FRAUDOPS_WORKER_PARENT")
    return parent is not None and os.getppid() != int(parent)
