"""Behavioural tests of a real trained model: directional and invariance checks, and a
training run of all four algorithms that registers a champion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fraudops.config import Settings
from fraudops.data import store
from fraudops.data.generate import SimulationConfig, generate
from fraudops.features.online import OnlineFeatureEngine, open_online_store
from fraudops.models.registry import CHAMPION, Registry
from fraudops.pipelines.training import TrainingOptions, run_training


def _score(model: Any, history: pl.DataFrame, tx: dict[str, Any]) -> float:
    engine = OnlineFeatureEngine(open_online_store("memory://"))
    engine.backfill(history)
    return float(model.predict_proba(engine.process(tx).reshape(1, -1))[0])


@pytest.fixture(scope="module")
def card_history(model_history: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any]]:
    genuine = model_history.filter(pl.col("is_fraud") == 0)
    busy_card = genuine.group_by("card_id").len().sort("len", descending=True)["card_id"][0]
    last = genuine.filter(pl.col("card_id") == busy_card).sort("timestamp").row(-1, named=True)
    history = model_history.filter(pl.col("timestamp") < last["timestamp"])
    return history, last


def test_inflating_the_amount_on_a_card_raises_the_score(
    trained_model: Any, card_history: tuple[pl.DataFrame, dict[str, Any]]
) -> None:
    history, tx = card_history
    usual = _score(trained_model, history, tx)
    inflated = _score(trained_model, history, {**tx, "amount": tx["amount"] * 40})
    assert inflated > usual


def test_the_transaction_id_spelling_does_not_change_the_score(
    trained_model: Any, card_history: tuple[pl.DataFrame, dict[str, Any]]
) -> None:
    history, tx = card_history
    assert _score(trained_model, history, tx) == _score(
        trained_model, history, {**tx, "transaction_id": tx["transaction_id"].upper()}
    )


@pytest.mark.slow
def test_all_four_algorithms_train_and_a_champion_is_registered(tmp_path: Path) -> None:
    raw = str(tmp_path / "raw")
    frame = generate(SimulationConfig(customers=1_200, days=50, start=date(2026, 1, 1), seed=3))
    store.write_dataset(raw, frame)
    settings = Settings(home=tmp_path / "home")
    summary = run_training(
        settings, raw, TrainingOptions(k=20, test_end=datetime(2026, 2, 20, tzinfo=UTC))
    )
    assert set(summary["models"]) == {"lr", "rf", "xgb", "lgbm"}
    for metrics in summary["models"].values():
        assert 0.5 < metrics["roc_auc"] <= 1.0
    registry = Registry.from_settings(settings, "fraud-detector")
    assert registry.version_by_alias(CHAMPION) == summary["registered_version"] == 1
    assert summary["promotion"]["reason"] == "no champion yet"
    assert registry.load(1).algorithm == summary["best"]
