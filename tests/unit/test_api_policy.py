"""The decision policy through the API: lists and rules around the model's thresholds.

Order: allow list -> block list -> active rules by priority -> thresholds. Shadow rules are
counted and logged but never decide; a bad rules file is refused with the rule named and
the last good set keeps deciding."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import ADMIN, KEY, tx
from fastapi.testclient import TestClient

RULES = """
version: "2026-03-01.1"
rules:
  - name: large_amount
    condition: amount > 1000
    outcome: decline
    priority: 20
  - name: medium_amount
    condition: amount > 500
    outcome: review
    priority: 10
  - name: watched_card_bump
    condition: list_watch_card
    outcome: adjust
    adjust: 1.0
  - name: everything_in_shadow
    condition: amount > 0
    outcome: decline
    mode: shadow
"""


def predict(client: TestClient, **fields: object) -> dict[str, Any]:
    response = client.post("/v1/predict", json=tx(**fields), headers=KEY)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def put_rules(client: TestClient, text: str) -> Any:
    return client.put("/admin/rules", content=text.encode(), headers=ADMIN)


def add_entry(client: TestClient, **entry: object) -> None:
    response = client.post("/v1/lists", json=entry, headers=ADMIN)
    assert response.status_code == 201, response.text


def test_rules_decide_by_priority_and_shadow_rules_never_do(client: TestClient) -> None:
    baseline = predict(client, amount=12.0, card_id="card-rules")
    assert baseline["decided_by"]["stage"] == "threshold"
    answer = put_rules(client, RULES)
    assert answer.status_code == 200, answer.text

    large = predict(client, amount=1500.0, card_id="card-rules")
    assert large["decision"] == "decline"
    assert large["decided_by"] == {"stage": "rule", "name": "large_amount"}
    assert large["rules"] == ["large_amount", "medium_amount"]  # shadow rules are not shown
    assert large["reasons"]  # the model's reasons are kept

    medium = predict(client, amount=600.0, card_id="card-rules")
    assert (medium["decision"], medium["decided_by"]) == (
        "review",
        {"stage": "rule", "name": "medium_amount"},
    )
    # the shadow rule held on every transaction and decided none
    small = predict(client, amount=12.0, card_id="card-rules")
    assert small["decided_by"] == {"stage": "threshold", "name": small["decision"]}
    assert small["decision"] == baseline["decision"]
    metrics = client.get("/metrics").text
    assert 'fraudops_rule_hits_total{mode="shadow",rule="everything_in_shadow"} 3.0' in metrics
    assert 'fraudops_rule_hits_total{mode="active",rule="large_amount"} 1.0' in metrics


def test_lists_come_before_rules_and_allow_before_block(client: TestClient) -> None:
    assert put_rules(client, RULES).status_code == 200
    add_entry(client, list="block", kind="card", value="card-bad", reason="confirmed fraud")
    blocked = predict(client, amount=12.0, card_id="card-bad")
    assert (blocked["decision"], blocked["decided_by"]) == (
        "decline",
        {"stage": "block_list", "name": "card"},
    )
    # a country block catches every card from there
    add_entry(client, list="block", kind="country", value="br")
    assert predict(client, country="BR", card_id="card-x")["decided_by"] == {
        "stage": "block_list",
        "name": "country",
    }
    # an allowed merchant wins over the blocked card and over a declining rule
    add_entry(client, list="allow", kind="merchant", value="merch-trusted")
    allowed = predict(client, amount=1500.0, card_id="card-bad", merchant_id="merch-trusted")
    assert (allowed["decision"], allowed["decided_by"]) == (
        "approve",
        {"stage": "allow_list", "name": "merchant"},
    )
    # a watch list is what rules read: the adjust rule pushes the probability over the top
    add_entry(client, list="watch", kind="card", value="card-watched")
    watched = predict(client, amount=12.0, card_id="card-watched")
    assert watched["decided_by"] == {"stage": "threshold", "name": "decline"}
    assert watched["rules"] == ["watched_card_bump"]
    # removing the block restores the model's decision
    gone = client.delete("/v1/lists/block/card/card-bad", headers=ADMIN)
    assert gone.status_code == 204
    assert predict(client, amount=12.0, card_id="card-bad")["decided_by"]["stage"] == "threshold"
    entries = client.get("/v1/lists", params={"list": "block"}, headers=ADMIN).json()
    assert [(e["kind"], e["value"]) for e in entries] == [("country", "BR")]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"list": "block", "kind": "iban", "value": "x"}, "kind 'iban' is not one of"),
        ({"list": "Block!", "kind": "card", "value": "x"}, "list name 'Block!'"),
        (
            {"list": "block", "kind": "card", "value": "x", "expires_at": "2020-01-01T00:00:00Z"},
            "is in the past",
        ),
        (
            {
                "list": "block",
                "kind": "card",
                "value": "x",
                "ttl_days": 1,
                "expires_at": "2099-01-01T00:00:00Z",
            },
            "not both",
        ),
        ({"list": "block", "kind": "card"}, "value"),
    ],
)
def test_bad_list_entries_are_refused_with_the_field_named(
    client: TestClient, entry: dict[str, object], message: str
) -> None:
    response = client.post("/v1/lists", json=entry, headers=ADMIN)
    assert response.status_code == 422
    assert message in response.text


def test_lists_need_the_admin_key(client: TestClient) -> None:
    assert client.get("/v1/lists", headers=KEY).status_code == 403
    assert client.get("/v1/lists").status_code == 401
    missing = client.delete("/v1/lists/block/card/nobody", headers=ADMIN)
    assert missing.status_code == 404
    assert "'nobody' is not on the 'block' card list" in missing.text


def test_a_bad_rules_file_is_refused_and_the_last_good_set_keeps_deciding(
    client: TestClient,
) -> None:
    assert put_rules(client, RULES).status_code == 200
    bad = RULES.replace("amount > 1000", "amont > 1000")
    refused = put_rules(client, bad)
    assert refused.status_code == 422
    assert "large_amount" in refused.text
    assert "amont" in refused.text
    mismatch = put_rules(client, RULES.replace("amount > 500", 'amount > "500"'))
    assert mismatch.status_code == 422
    assert "medium_amount" in mismatch.text

    # the file edited by hand: a reload refuses it and keeps the set in force
    path = client.app.state.fraudops.settings.resolved_rules_path  # type: ignore[attr-defined]
    path.write_text("rules: [ {name: x, condition: 'amount >'")
    reload = client.post("/admin/rules/reload", headers=ADMIN)
    assert reload.status_code == 409
    assert "last good set keeps deciding" in reload.text
    status = client.get("/admin/rules", headers=ADMIN).json()
    assert status["status"]["version"] == "2026-03-01.1"
    assert status["status"]["last_error"]
    assert predict(client, amount=1500.0)["decided_by"] == {"stage": "rule", "name": "large_amount"}
    assert "fraudops_rules_reload_failures_total 1.0" in client.get("/metrics").text
