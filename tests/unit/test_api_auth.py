"""The failed-authentication limit: per client, with Retry-After, in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_support import ADMIN, KEY, tx
from fastapi.testclient import TestClient

from fraudops.config import Settings
from fraudops.serving.app import create_app
from fraudops.serving.auth import FailedAuthLimiter
from fraudops.serving.model_loader import ModelHolder

WRONG = {"X-API-Key": "not-the-key"}
LIMIT = 3


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_is_blocked_after_the_limit_until_its_window_ends() -> None:
    clock = Clock()
    limiter = FailedAuthLimiter(limit=3, window_seconds=60, max_clients=100, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.record_failure("10.0.0.1")
        clock.now += 1
    assert limiter.retry_after("10.0.0.1") == pytest.approx(57)
    assert limiter.retry_after("10.0.0.2") is None  # others are not affected
    clock.now += 57
    assert limiter.retry_after("10.0.0.1") is None  # a new window starts afresh
    limiter.record_failure("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") is None


def test_the_table_keeps_only_the_most_recently_failing_clients() -> None:
    limiter = FailedAuthLimiter(limit=2, window_seconds=60, max_clients=100, clock=Clock())
    for _ in range(2):
        limiter.record_failure("attacker")
    for i in range(10_000):  # an address-spraying attacker
        limiter.record_failure(f"10.1.{i // 256}.{i % 256}")
    assert len(limiter) == 100
    assert limiter.retry_after("attacker") is None  # evicted, not remembered forever
    limiter.record_failure("10.1.39.15")  # the newest entry is still counting
    assert limiter.retry_after("10.1.39.15") is not None


@pytest.fixture(params=[True, False], ids=["hot-path", "fastapi-routes"])
def limited_app(
    isolated_home: Any, trained_model: Any, request: pytest.FixtureRequest
) -> Iterator[Any]:
    settings = Settings(
        home=isolated_home,
        reload_interval_seconds=0,
        auth_failure_limit=LIMIT,
        auth_failure_window_seconds=120,
    )
    holder = ModelHolder(settings)
    app = create_app(settings, holder=holder, poll_registry=False, hot_path=request.param)
    with TestClient(app, client=("203.0.113.9", 40000)) as attacker:
        holder.install(trained_model, version=3)
        yield app, attacker


def test_wrong_keys_get_429_with_retry_after(limited_app: Any) -> None:
    app, attacker = limited_app
    for _ in range(LIMIT):
        refused = attacker.post("/v1/predict", json=tx(), headers=WRONG)
        assert refused.status_code == 403
        assert refused.json() == {"detail": "invalid API key"}
    blocked = attacker.post("/v1/predict", json=tx(), headers=WRONG)
    assert blocked.status_code == 429
    assert blocked.json() == {
        "detail": "too many failed authentication attempts from this client; retry later"
    }
    assert 119 <= int(blocked.headers["retry-after"]) <= 120
    # the right key from the blocked client is refused too (a lucky guess is not told apart),
    # on every keyed route
    assert attacker.post("/v1/predict", json=tx(), headers=KEY).status_code == 429
    assert attacker.get("/v1/model", headers=KEY).status_code == 429
    assert attacker.post("/admin/reload", headers=ADMIN).status_code == 429
    # health stays open
    assert attacker.get("/health/live").status_code == 200
    # another client with the right key is served
    other = TestClient(app, client=("198.51.100.4", 40001))  # the app is already started
    served = other.post("/v1/predict", json=tx(transaction_id="other-1"), headers=KEY)
    assert served.status_code == 200
    assert served.json()["model"]["version"] == 3
    # and its own failures are counted separately
    assert other.post("/v1/labels", json={}, headers=WRONG).status_code == 403


def test_admin_key_failures_count_and_missing_keys_do_not(limited_app: Any) -> None:
    _, attacker = limited_app
    for _ in range(LIMIT + 2):
        missing = attacker.post("/v1/predict", json=tx())
        assert missing.status_code == 401
    assert attacker.post("/v1/predict", json=tx(), headers=KEY).status_code == 200
    for _ in range(LIMIT):
        # the scoring key is a wrong admin key
        assert attacker.post("/admin/reload", headers=KEY).status_code == 403
    assert attacker.post("/admin/reload", headers=ADMIN).status_code == 429
