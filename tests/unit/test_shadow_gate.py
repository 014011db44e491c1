"""The promotion gate's shadow period (``FRAUDOPS_MIN_SHADOW_DAYS``): with real shadow logs in
a temporary home and a real registry, a challenger that wins on its test window is promoted
only after enough shadow days, matured transactions and frauds, without losing shadow AP;
each refusal says which condition failed."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from shadow_support import T0, shadow_traffic, write_logs

from fraudops.config import Settings
from fraudops.features.spec import feature_names
from fraudops.models.bundle import FraudModel, LinearModel
from fraudops.models.registry import CHALLENGER, Registry
from fraudops.pipelines.shadow import ShadowGate
from fraudops.pipelines.training import gate
from linear_models import linear_fraud_model
from registry_support import make_champion, open_registry, register

AS_OF = T0 + timedelta(days=40)  # the 10 days of shadow traffic have matured
SIGNAL = "card_tx_count_24h"


def signal_only() -> FraudModel:
    """Scores on the one feature that separates frauds in the window below; the champion
    (``linear_fraud_model``) also weighs a feature that is noise there, so it ranks worse."""
    names = feature_names()
    coef = np.array([1.0 if name == SIGNAL else 0.0 for name in names])
    zeros = np.zeros(len(names))
    estimator = LinearModel(zeros, zeros, np.ones(len(names)), coef, -4.0)
    return FraudModel(
        "lr", estimator, names, metadata={"thresholds": {"review": 0.3, "decline": 0.8}}
    )


def gate_window() -> pl.DataFrame:
    rng = np.random.default_rng(11)
    n = 600
    fraud = (np.arange(n) % 20 == 0).astype(int)
    columns: dict[str, Any] = {name: np.zeros(n) for name in feature_names()}
    columns[SIGNAL] = np.where(fraud == 1, 8.0, rng.uniform(0.0, 3.0, n))
    columns["terminal_fraud_rate_1d"] = rng.uniform(0.0, 2.0, n)  # noise for the champion
    return pl.DataFrame(
        {
            **columns,
            "is_fraud": fraud,
            "amount": np.full(n, 50.0),
            "card_id": [f"card-{i % 150}" for i in range(n)],
            "timestamp": [T0 + timedelta(hours=i // 20) for i in range(n)],
        }
    )


@dataclasses.dataclass(frozen=True)
class Gated:
    root: Path
    registry: Registry
    champion: int
    challenger: int


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Gated:
    root = tmp_path_factory.mktemp("gate")
    registry = open_registry(Settings(home=root / "home", _env_file=None))  # type: ignore[call-arg]
    champion = register(registry, linear_fraud_model(), root / "bundles")
    make_champion(registry, champion)
    challenger = register(registry, signal_only(), root / "bundles")
    return Gated(root, registry, champion, challenger)


def run_gate(gated: Gated, data: str, **settings: Any) -> tuple[bool, str, Any]:
    """The gate for the challenger with shadow logs under ``data`` (aliases reset first)."""
    make_champion(gated.registry, gated.champion)
    gated.registry.client.set_registered_model_alias(
        gated.registry.model_name, CHALLENGER, str(gated.challenger)
    )
    config = Settings(  # type: ignore[call-arg]
        home=gated.root / "home",
        data_uri=str(gated.root / data),
        label_maturity_days=7,
        _env_file=None,
        **settings,
    )
    decision = gate(
        gated.registry,
        gated.challenger,
        gate_window(),
        feature_names(),
        k=5,
        ap_margin=config.promotion_ap_margin,
        shadow=ShadowGate.from_settings(config, AS_OF),
    )
    return decision.promoted, decision.reason, decision


def with_logs(gated: Gated, data: str, **traffic: Any) -> str:
    settings = Settings(home=gated.root / "home", data_uri=str(gated.root / data))  # type: ignore[call-arg]
    shadow, labels = shadow_traffic(challenger_version=gated.challenger, **traffic)
    write_logs(settings, shadow, labels)
    return data


def test_without_a_shadow_period_the_window_alone_decides(gated: Gated) -> None:
    promoted, reason, decision = run_gate(gated, "none", min_shadow_days=0)
    assert promoted, reason
    assert reason.startswith("average precision +")
    assert "shadow_days" not in decision.challenger_metrics
    assert gated.registry.version_by_alias("champion") == gated.challenger


def test_a_challenger_never_shadow_scored_is_refused(gated: Gated) -> None:
    promoted, reason, _ = run_gate(gated, "empty", min_shadow_days=7)
    assert not promoted
    assert reason == f"challenger v{gated.challenger} has 0.0 shadow days of the 7 required"
    assert gated.registry.version_by_alias("champion") == gated.champion


def test_too_few_shadow_days(gated: Gated) -> None:
    data = with_logs(gated, "two-days", days=2.0)
    promoted, reason, decision = run_gate(gated, data, min_shadow_days=7)
    assert not promoted
    assert reason == f"challenger v{gated.challenger} has 2.0 shadow days of the 7 required"
    assert decision.challenger_metrics["shadow_days"] == pytest.approx(2.0)


def test_too_few_matured_transactions(gated: Gated) -> None:
    data = with_logs(gated, "few-rows", rows=800)
    promoted, reason, _ = run_gate(gated, data, min_shadow_days=7, min_shadow_transactions=1000)
    assert not promoted
    assert reason == (
        f"challenger v{gated.challenger} has 800 matured shadow-scored transactions "
        "(older than 7 days) of the 1,000 required"
    )


def test_too_few_known_frauds(gated: Gated) -> None:
    data = with_logs(gated, "few-frauds", rows=2000, fraud_every=200)
    promoted, reason, _ = run_gate(gated, data, min_shadow_days=7, min_shadow_frauds=20)
    assert not promoted
    assert reason == (
        f"challenger v{gated.challenger} has 10 known frauds among its matured shadow-scored "
        "transactions of the 20 required"
    )


def test_a_challenger_losing_in_shadow_is_refused(gated: Gated) -> None:
    data = with_logs(gated, "losing", challenger_better=False)
    # another version's excellent shadow rows must not speak for this one
    settings = Settings(home=gated.root / "home", data_uri=str(gated.root / data))  # type: ignore[call-arg]
    other, other_labels = shadow_traffic(challenger_version=99, prefix="other")
    write_logs(settings, other, other_labels)
    promoted, reason, decision = run_gate(gated, data, min_shadow_days=7)
    assert not promoted
    new = decision.challenger_metrics["shadow_average_precision"]
    old = decision.champion_metrics["shadow_average_precision"]
    assert new < old - 0.005
    assert reason == (
        f"challenger v{gated.challenger}'s shadow AP {new:.4f} is below the champion's "
        f"{old:.4f} on the same 2,000 transactions by more than 0.005"
    )


def test_a_long_enough_winning_shadow_period_promotes(gated: Gated) -> None:
    data = with_logs(gated, "winning")
    promoted, reason, decision = run_gate(gated, data, min_shadow_days=7)
    assert promoted, reason
    assert reason.startswith("average precision +")
    assert "10.0 shadow days, shadow AP" in reason
    assert decision.challenger_metrics["shadow_frauds"] == 40
    assert gated.registry.version_by_alias("champion") == gated.challenger
