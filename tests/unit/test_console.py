"""The review queue through the API and the console: a review opens a case, an analyst
logs in, gives a verdict (a label with source=analyst, the same day) and blocks the card,
and the card's next transaction is declined. Every form needs the session's CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from api_support import ADMIN, KEY, tx
from fastapi.testclient import TestClient

from fraudops.cases.users import add_user
from fraudops.config import Settings
from fraudops.serving.app import create_app
from fraudops.serving.model_loader import ModelHolder

RULES = """
version: "1"
rules:
  - name: big_spend
    condition: amount > 500
    outcome: review
    priority: 10
  - name: odd_hour
    condition: amount > 300
    outcome: adjust
    adjust: 0.0
    case: true
"""


@pytest.fixture
def console(settings: Settings, trained_model: Any) -> Any:
    holder = ModelHolder(settings)
    app = create_app(settings, holder=holder, poll_registry=False)
    with TestClient(app) as client:
        holder.install(trained_model, version=7)
        state = app.state.fraudops
        add_user(state.cases.store, "ana", "analyst password", "analyst", datetime.now(UTC))
        assert client.put("/admin/rules", content=RULES.encode(), headers=ADMIN).status_code == 200
        yield client, state


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def log_in(client: TestClient, password: str = "analyst password") -> Any:
    token = csrf_of(client.get("/console/login").text)
    return client.post(
        "/console/login",
        data={"username": "ana", "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def test_reviews_and_case_rules_open_cases_grouped_by_card(console: Any) -> None:
    client, state = console
    for i, (card, amount) in enumerate([("card-a", 600.0), ("card-a", 700.0), ("card-b", 350.0)]):
        body = tx(transaction_id=f"tx-c{i}", card_id=card, amount=amount)
        assert client.post("/v1/predict", json=body, headers=KEY).status_code == 200
    small = tx(transaction_id="tx-small", card_id="card-c", amount=5.0)
    assert client.post("/v1/predict", json=small, headers=KEY).json()["decision"] != "review"
    state.cases.drain()
    groups = client.get("/v1/cases", headers=ADMIN).json()
    assert {g["card_id"]: len(g["cases"]) for g in groups} == {"card-a": 2, "card-b": 1}
    by_rule = next(g for g in groups if g["card_id"] == "card-b")["cases"][0]
    assert by_rule["rules"] == ["odd_hour"]  # opened by the rule's case flag, not a review
    assert client.get("/v1/cases", headers=KEY).status_code == 403
    one = client.get(f"/v1/cases/{by_rule['id']}", headers=ADMIN).json()
    assert one["events"][0]["action"] == "opened"
    assert client.get("/v1/cases/424242", headers=ADMIN).status_code == 404


def test_console_login_verdict_label_and_block(console: Any, settings: Settings) -> None:
    client, state = console
    body = tx(transaction_id="tx-v1", card_id="card-v", amount=650.0)
    assert client.post("/v1/predict", json=body, headers=KEY).json()["decision"] == "review"
    state.cases.drain()

    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/login"
    assert log_in(client, "wrong password").status_code == 401
    assert log_in(client).status_code == 303
    queue = client.get("/console").text
    assert "card-v" in queue
    case_id = int(re.search(r'href="/console/cases/(\d+)"', queue).group(1))  # type: ignore[union-attr]
    page = client.get(f"/console/cases/{case_id}").text
    token = csrf_of(page)
    assert "tx-v1" in page

    # without the session's token, nothing changes
    refused = client.post(f"/console/cases/{case_id}/verdict", data={"verdict": "fraud"})
    assert refused.status_code == 403
    bad = client.post(
        f"/console/cases/{case_id}/verdict", data={"verdict": "maybe", "csrf_token": token}
    )
    assert bad.status_code == 422
    done = client.post(
        f"/console/cases/{case_id}/verdict", data={"verdict": "fraud", "csrf_token": token}
    )
    assert done.status_code == 200, done.text
    assert "Verdict recorded: fraud" in done.text
    again = client.post(
        f"/console/cases/{case_id}/verdict",
        headers={"X-CSRF-Token": token},
        data={"verdict": "genuine"},
    )
    assert again.status_code == 409  # a verdict is final

    # the label feed has it now, with its source
    state.label_log.flush()
    feed = pl.read_parquet(f"{settings.resolved_data_uri}/label_feed/**/*.parquet")
    row = feed.filter(pl.col("transaction_id") == "tx-v1").row(0, named=True)
    assert (row["is_fraud"], row["source"]) == (1, "analyst")

    blocked = client.post(f"/console/cases/{case_id}/block", data={"csrf_token": token})
    assert "is on the block list" in blocked.text
    after = tx(transaction_id="tx-v2", card_id="card-v", amount=5.0)
    answer = client.post("/v1/predict", json=after, headers=KEY).json()
    assert (answer["decision"], answer["decided_by"]["stage"]) == ("decline", "block_list")

    # a chargeback that contradicts the analyst is reported, not silently taken
    genuine = {"transaction_id": "tx-v1", "label": "genuine", "reported_at": "2026-03-20T00:00:00Z"}
    assert client.post("/v1/labels", json=genuine, headers=KEY).status_code == 200
    state.cases.drain()
    conflicts = client.get("/v1/label-conflicts", headers=ADMIN).json()
    assert conflicts[0]["earlier"]["source"] == "analyst"
    assert conflicts[0]["later"] == {
        "source": "api",
        "is_fraud": 0,
        "reported_at": "2026-03-20T00:00:00+00:00",
    }
    trail = client.get(f"/v1/cases/{case_id}", headers=ADMIN).json()["events"]
    assert [e["action"] for e in trail] == ["opened", "verdict", "block_card"]
    for page_path in ("/console/rules", "/console/dashboard"):
        assert client.get(page_path).status_code == 200
    assert "big_spend" in client.get("/console/rules").text
    metrics = client.get("/metrics").text
    assert "fraudops_cases_dropped_total 0.0" in metrics
    assert "fraudops_cases_open 0.0" in metrics  # the only case was closed


def test_production_refuses_the_default_console_secret() -> None:
    with pytest.raises(ValueError, match="FRAUDOPS_CONSOLE_SECRET is refused in production"):
        Settings(
            env="production",
            api_key="K3y-for-scoring-0123456789",
            admin_api_key="Adm1n-key-abcdefghijkl",
            _env_file=None,  # type: ignore[call-arg]
        )


def test_an_analyst_works_only_own_or_unowned_cases_and_an_admin_any(console: Any) -> None:
    client, state = console
    store = state.cases.store
    now = datetime.now(UTC)
    add_user(store, "bob", "bob password!", "analyst", now)
    add_user(store, "lead", "lead password!", "admin", now)
    body = tx(transaction_id="tx-own", card_id="card-own", amount=640.0)
    assert client.post("/v1/predict", json=body, headers=KEY).status_code == 200
    state.cases.drain()
    case_id = store.by_transaction("tx-own").id

    assert log_in(client).status_code == 303  # ana takes the case
    token = csrf_of(client.get(f"/console/cases/{case_id}").text)
    taken = client.post(f"/console/cases/{case_id}/take", data={"csrf_token": token})
    assert taken.status_code == 200
    assert store.get(case_id).owner == "ana"

    def as_user(name: str, password: str) -> str:
        client.cookies.clear()
        login_token = csrf_of(client.get("/console/login").text)
        form = {"username": name, "password": password, "csrf_token": login_token}
        assert client.post("/console/login", data=form).status_code == 200
        return csrf_of(client.get(f"/console/cases/{case_id}").text)

    bob = as_user("bob", "bob password!")
    refused = client.post(
        f"/console/cases/{case_id}/verdict", data={"verdict": "genuine", "csrf_token": bob}
    )
    assert refused.status_code == 403
    assert "belongs to ana" in refused.text
    lead = as_user("lead", "lead password!")
    closed = client.post(
        f"/console/cases/{case_id}/verdict", data={"verdict": "genuine", "csrf_token": lead}
    )
    assert closed.status_code == 200
    case = store.get(case_id)
    assert case.state == "genuine"
    assert [(e.actor, e.action) for e in case.events][-1] == ("lead", "verdict")
    # a token from another session is refused
    stolen = client.post(f"/console/cases/{case_id}/block", data={"csrf_token": bob})
    assert stolen.status_code == 403


def test_wrong_passwords_hit_the_failed_authentication_limit(
    settings: Settings, trained_model: Any
) -> None:
    limited = settings.model_copy(update={"auth_failure_limit": 2})
    app = create_app(limited, holder=ModelHolder(limited), poll_registry=False)
    with TestClient(app) as client:
        store = app.state.fraudops.cases.store
        add_user(store, "ana", "analyst password", "analyst", datetime.now(UTC))
        assert [log_in(client, "wrong password").status_code for _ in range(2)] == [401, 401]
        blocked = log_in(client)  # even the right password waits now
        assert blocked.status_code == 429
        assert "Retry-After" in blocked.headers
