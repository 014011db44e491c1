"""A batch is scored as its transactions one after another: ``/v1/predict/batch`` of 1,000
simulated transactions (several per card, terminal and merchant, so earlier ones are
history for later ones) answers exactly what 1,000 single ``/v1/predict`` calls in the
same order answer, on two fresh servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
from api_support import KEY
from fastapi.testclient import TestClient

from fraudops.config import Settings
from fraudops.serving.app import create_app
from fraudops.serving.model_loader import ModelHolder

BATCH = 1000
FIELDS = (
    "transaction_id", "timestamp", "card_id", "customer_id", "merchant_id", "terminal_id",
    "amount", "channel", "country", "mcc", "customer_lat", "customer_lon", "merchant_lat",
    "merchant_lon",
)  # fmt: skip


def fresh_client(home: Path, model: Any) -> Iterator[TestClient]:
    settings = Settings(home=home, reload_interval_seconds=0, max_batch_size=BATCH)
    holder = ModelHolder(settings)
    with TestClient(create_app(settings, holder=holder, poll_registry=False)) as client:
        holder.install(model, version=2)
        yield client


def busiest(transactions: pl.DataFrame) -> list[dict[str, Any]]:
    """The first ``BATCH`` transactions of the busiest cards, in time order, as the API
    takes them."""
    cards = transactions["card_id"].value_counts(sort=True)["card_id"].head(60)
    rows = (
        transactions.filter(pl.col("card_id").is_in(cards.implode()))
        .sort("timestamp", "transaction_id")
        .head(BATCH)
        .select([c for c in FIELDS if c in transactions.columns])
        .to_dicts()
    )
    for row in rows:
        row["timestamp"] = row["timestamp"].isoformat()
    return rows


def test_a_batch_answers_what_single_calls_in_order_answer(
    small_transactions: pl.DataFrame, trained_model: Any, tmp_path: Path
) -> None:
    rows = busiest(small_transactions)
    assert len(rows) == BATCH
    assert len({r["card_id"] for r in rows}) < BATCH / 5  # cards repeat within the batch

    batch_api = fresh_client(tmp_path / "batch", trained_model)
    client = next(batch_api)
    response = client.post("/v1/predict/batch", json={"transactions": rows}, headers=KEY)
    assert response.status_code == 200, response.text
    batched = response.json()["predictions"]
    batch_api.close()

    single_api = fresh_client(tmp_path / "single", trained_model)
    client = next(single_api)
    singles = []
    for row in rows:
        answer = client.post("/v1/predict", json=row, headers=KEY)
        assert answer.status_code == 200, answer.text
        singles.append(answer.json())
    single_api.close()

    for got, expected in zip(batched, singles, strict=True):
        got.pop("latency_ms")
        expected.pop("latency_ms")
        assert got == expected
