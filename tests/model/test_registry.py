"""Registry aliases, the promotion gate and rollback on a real MLflow (SQLite) registry."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest

from fraudops.config import Settings
from fraudops.models.bundle import BundleIntegrityError, FraudModel, LinearModel
from fraudops.models.registry import (
    CHALLENGER,
    CHAMPION,
    Registry,
    RegistryError,
    compare_on_window,
)
from fraudops.models.tracking import configure_mlflow
from registry_support import register

NAMES = ["signal", "noise"]


def _linear(weight_signal: float) -> FraudModel:
    est = LinearModel(
        fill=np.zeros(2),
        mean=np.zeros(2),
        scale=np.ones(2),
        coef=np.array([weight_signal, 1.0]),
        intercept=-3.0,
    )
    return FraudModel("lr", est, NAMES, metadata={"thresholds": {"review": 0.3, "decline": 0.8}})


@pytest.fixture
def window() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(1)
    n = 4_000
    y = (rng.random(n) < 0.05).astype(int)
    x = np.column_stack([y * 2.0 + rng.normal(0, 1, n), rng.normal(0, 1, n)])
    day = np.repeat(np.arange(4), n // 4)
    card = rng.integers(0, 800, n).astype(str)
    return x, y, day, card


def test_gate_promotes_only_a_clearly_better_challenger(window: tuple[np.ndarray, ...]) -> None:
    x, y, day, card = window
    good, weak = _linear(3.0), _linear(0.2)
    promoted, reason, new, old = compare_on_window(
        good, weak, x, y, day, card, k=20, ap_margin=0.01
    )
    assert promoted, reason
    assert new["average_precision"] > old["average_precision"] + 0.01
    promoted, reason, *_ = compare_on_window(weak, good, x, y, day, card, k=20, ap_margin=0.01)
    assert not promoted
    assert "does not beat" in reason
    # equal models do not pass a positive margin
    promoted, *_ = compare_on_window(good, _linear(3.0), x, y, day, card, k=20, ap_margin=0.005)
    assert not promoted
    promoted, reason, *_ = compare_on_window(good, None, x, y, day, card, k=20, ap_margin=0.01)
    assert promoted
    assert reason == "no champion yet"


def test_aliases_promotion_history_and_rollback(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    configure_mlflow(settings)
    registry = Registry.from_settings(settings, "fraud-test")
    v1 = register(registry, _linear(1.0), tmp_path)
    assert registry.version_by_alias(CHALLENGER) == v1
    assert registry.version_by_alias(CHAMPION) is None
    with pytest.raises(RegistryError, match="no previous champion"):
        registry.rollback()
    registry.set_champion(v1, "first")
    assert registry.version_by_alias(CHALLENGER) is None
    v2 = register(registry, _linear(2.0), tmp_path)
    registry.set_champion(v2, "better")
    assert registry.version_by_alias(CHAMPION) == v2
    assert registry.rollback() == (v2, v1)
    assert registry.version_by_alias(CHAMPION) == v1
    loaded = registry.load(v1)
    assert loaded.estimator.coef[0] == pytest.approx(1.0)
    assert loaded.metadata["registry_version"] == v1


def test_a_tampered_bundle_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    configure_mlflow(settings)
    registry = Registry.from_settings(settings, "fraud-test")
    version = register(registry, _linear(1.0), tmp_path)
    run_id = registry.client.get_model_version("fraud-test", str(version)).run_id
    artifact_dir = Path(mlflow.get_run(run_id).info.artifact_uri.removeprefix("file://")) / "bundle"
    linear = artifact_dir / "linear.json"
    linear.write_text(linear.read_text().replace('"intercept": -3.0', '"intercept": 5.0'))
    with pytest.raises(BundleIntegrityError, match="refusing to load a modified model"):
        registry.load(version)
