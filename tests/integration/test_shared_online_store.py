"""Two API processes on one Redis behave as one scoring service.

Both run ``fraudops serve`` with the compose ``api`` environment (production profile,
S3 data, the MLflow server, ``FRAUDOPS_ONLINE_STORE_URI=redis://…``), as two replicas
behind a load balancer would. The served model leads its reasons with two features
(``card_tx_count_24h`` and ``terminal_fraud_rate_1d``), so each answer shows the feature
values that process computed.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import Replicas

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def transaction(tx_id: str, card: str, terminal: str, minutes: int) -> dict[str, Any]:
    return {
        "transaction_id": tx_id,
        "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
        "card_id": card,
        "merchant_id": f"merchant-{terminal}",
        "terminal_id": terminal,
        "amount": 25.0,
        "channel": "pos",
        "country": "FR",
    }


def scored(client: httpx.Client, tx: dict[str, Any]) -> dict[str, float]:
    """Score ``tx``; returns the feature values the answering process computed."""
    response = client.post("/v1/predict", json=tx)
    assert response.status_code == 200, response.text
    body = response.json()
    return {reason["feature"]: reason["value"] for reason in body["reasons"]}


def test_two_api_processes_share_features_and_labels_through_redis(
    linear_replicas: Replicas,
) -> None:
    assert linear_replicas.env["FRAUDOPS_ONLINE_STORE_URI"].startswith("redis://127.0.0.1:")
    first, second = linear_replicas.apis
    run = uuid.uuid4().hex[:8]
    card, terminal = f"card-{run}", f"term-{run}"
    with first.client() as a, second.client() as b:
        # a card's velocity counts what every replica has seen
        assert scored(a, transaction(f"{run}-1", card, terminal, 0))["card_tx_count_24h"] == 1
        assert scored(b, transaction(f"{run}-2", card, terminal, 1))["card_tx_count_24h"] == 2
        assert scored(a, transaction(f"{run}-3", card, terminal, 2))["card_tx_count_24h"] == 3

        # a chargeback reported to one replica, for a transaction the other one scored
        label = {
            "transaction_id": f"{run}-1",
            "label": "chargeback",
            "reported_at": (T0 + timedelta(minutes=3)).isoformat(),
        }
        answer = b.post("/v1/labels", json=label)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "transaction_id": f"{run}-1",
            "accepted": True,
            "known_transaction": True,
        }

        # the other replica's terminal risk now counts it: 1 fraud of 3 earlier transactions
        other_card = f"card-{run}-other"
        risk = scored(a, transaction(f"{run}-4", other_card, terminal, 4))
        assert risk["terminal_fraud_rate_1d"] == pytest.approx(1 / 3)
        assert risk["card_tx_count_24h"] == 1
        # and the first replica's transaction shows in the second one's features
        risk = scored(b, transaction(f"{run}-5", other_card, terminal, 5))
        assert risk["card_tx_count_24h"] == 2
        assert risk["terminal_fraud_rate_1d"] == pytest.approx(1 / 4)


def test_a_card_blocked_on_one_replica_is_declined_by_the_other(
    linear_replicas: Replicas,
) -> None:
    """Lists live in the replicas' Redis: an entry added through one API process decides
    on the other within its refresh interval, and its removal too."""
    first, second = linear_replicas.apis
    run = uuid.uuid4().hex[:8]
    card = f"card-{run}-blocked"
    with first.client(admin=True) as admin_a, second.client() as b:
        before = b.post("/v1/predict", json=transaction(f"{run}-b1", card, f"t-{run}", 0))
        assert before.json()["decided_by"]["stage"] == "threshold"
        added = admin_a.post(
            "/v1/lists",
            json={"list": "block", "kind": "card", "value": card, "reason": "confirmed fraud"},
        )
        assert added.status_code == 201, added.text

        def decided_by(minute: int) -> dict[str, str]:
            tx = transaction(f"{run}-b{minute}", card, f"t-{run}", minute)
            answer = b.post("/v1/predict", json=tx)
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            if body["decided_by"]["stage"] == "block_list":
                assert body["decision"] == "decline"
            return body["decided_by"]  # type: ignore[no-any-return]

        # the default refresh interval is 1 s; allow a few for a loaded machine
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        minute = 1
        while decided_by(minute)["stage"] != "block_list":
            assert datetime.now(UTC) < deadline, "the other replica never saw the block"
            minute += 1
            time.sleep(0.1)
        assert decided_by(minute + 1) == {"stage": "block_list", "name": "card"}

        removed = admin_a.delete(f"/v1/lists/block/card/{card}")
        assert removed.status_code == 204, removed.text
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        minute += 2
        while decided_by(minute)["stage"] == "block_list":
            assert datetime.now(UTC) < deadline, "the other replica kept the removed block"
            minute += 1
            time.sleep(0.1)
