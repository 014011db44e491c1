"""API-key checks with a per-client limit on failed attempts.

A client (its address as the server sees it; behind a load balancer that is the
``X-Forwarded-For`` address once uvicorn trusts the balancer, see DEPLOYMENT_GUIDE.md)
that sends more than ``auth_failure_limit`` wrong keys in ``auth_failure_window_seconds``
gets 429 with ``Retry-After`` until its window ends — whatever key it sends meanwhile,
so a guess that happens to be right is not told apart. Other clients are not affected.
A missing key (401) is not counted: it is a misconfigured client, not a guess.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import HTTPException


class FailedAuthLimiter:
    """Failed attempts per client in fixed windows, in a table of bounded size.

    The table keeps the ``max_clients`` clients that failed most recently: an attacker
    cycling through addresses evicts old entries instead of growing memory. It is read and
    written from the event loop only (both key checks are ``async``), so it takes no lock.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        max_clients: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_clients = max_clients
        self.clock = clock
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()  # start, count

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None when it is not blocked."""
        entry = self._failures.get(client)
        if entry is None:
            return None
        started, count = entry
        remaining = started + self.window - self.clock()
        if remaining <= 0:
            del self._failures[client]
            return None
        return remaining if count >= self.limit else None

    def record_failure(self, client: str) -> None:
        now = self.clock()
        started, count = self._failures.pop(client, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        self._failures[client] = (started, count + 1)  # re-inserted: most recent last
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)


def check_api_key(provided: str | None, expected: str) -> None:
    if not provided:
        raise HTTPException(401, "missing X-API-Key header", headers={"WWW-Authenticate": "APIKey"})
    if not hmac.compare_digest(provided.encode(), expected.encode()):
        raise HTTPException(403, "invalid API key")


def refuse_if_limited(limiter: FailedAuthLimiter, client: str) -> None:
    """429 with Retry-After while ``client`` is over the failed-attempt limit."""
    wait = limiter.retry_after(client)
    if wait is not None:
        raise HTTPException(
            429,
            "too many failed authentication attempts from this client; retry later",
            headers={"Retry-After": str(math.ceil(wait))},
        )


def authenticate(
    limiter: FailedAuthLimiter, client: str, provided: str | None, expected: str
) -> None:
    """``check_api_key`` behind the failed-attempt limit (raises 401, 403 or 429)."""
    refuse_if_limited(limiter, client)
    try:
        check_api_key(provided, expected)
    except HTTPException as exc:
        if exc.status_code == 403:
            limiter.record_failure(client)
        raise
