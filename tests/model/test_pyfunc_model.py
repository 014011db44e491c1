"""The MLflow pyfunc flavour of a trained model (models/pyfunc_model.py), loaded the way
generic MLflow tools load it: it scores exactly like the bundle, and it refuses a bundle
changed after logging (the digest it checks was recorded at log time)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import polars as pl
import pytest

from fraudops.config import Settings
from fraudops.data import store
from fraudops.data.generate import SimulationConfig, generate
from fraudops.features.offline import build_offline_features
from fraudops.models.bundle import BundleIntegrityError
from fraudops.models.registry import Registry
from fraudops.pipelines.training import TrainingOptions, configure_mlflow, run_training


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real training run (logistic regression only, to stay quick) that logs the pyfunc
    flavour of its best model and registers that model as version 1."""
    root = tmp_path_factory.mktemp("pyfunc")
    frame = generate(SimulationConfig(customers=800, days=40, start=date(2026, 1, 1), seed=5))
    raw = str(root / "raw")
    store.write_dataset(raw, frame)
    settings = Settings(home=root / "home")
    summary = run_training(
        settings,
        raw,
        TrainingOptions(
            models=("lr",), k=20, promote=False, test_end=datetime(2026, 2, 10, tzinfo=UTC)
        ),
    )
    registry = Registry(
        settings.resolved_tracking_uri, settings.resolved_registry_uri, settings.model_name
    )
    version = registry.client.get_model_version(settings.model_name, "1")
    assert summary["registered_version"] == 1
    assert version.source.startswith("models:/"), "the pyfunc model is what gets registered"
    features = build_offline_features(frame).tail(500)
    return {"settings": settings, "registry": registry, "uri": version.source, "rows": features}


@pytest.fixture
def tracking(logged: dict[str, Any]) -> Settings:
    settings: Settings = logged["settings"]
    configure_mlflow(settings)
    return settings


def test_the_pyfunc_scores_exactly_like_the_bundle(logged: dict[str, Any], tracking: Any) -> None:
    bundle = logged["registry"].load(1)
    rows: pl.DataFrame = logged["rows"]
    pyfunc = mlflow.pyfunc.load_model(logged["uri"])
    # generic tools send every column they have; the model picks its own, in its order
    answer = pyfunc.predict(rows.to_pandas())
    expected = bundle.predict_proba(rows.select(bundle.feature_names).cast(pl.Float64).to_numpy())
    assert list(answer.columns) == ["fraud_probability"]
    np.testing.assert_array_equal(answer["fraud_probability"].to_numpy(), expected)
    # a real model, not a constant (isotonic calibration may map the lowest scores to 0)
    assert 0 <= expected.min() < expected.max() < 1
    assert np.unique(expected).size > 2


def test_a_bundle_changed_after_logging_is_refused(logged: dict[str, Any], tracking: Any) -> None:
    model_id = logged["uri"].removeprefix("models:/")
    location = mlflow.get_logged_model(model_id).artifact_location
    linear = Path(location.removeprefix("file://")) / "artifacts" / "bundle" / "linear.json"
    original = linear.read_text()
    # a shifted intercept: still a valid model file, one that flags far more transactions
    coefficients = json.loads(original)
    linear.write_text(json.dumps({**coefficients, "intercept": coefficients["intercept"] + 5}))
    try:
        with pytest.raises(BundleIntegrityError, match="refusing to load a modified model"):
            mlflow.pyfunc.load_model(logged["uri"])
    finally:
        linear.write_text(original)
    mlflow.pyfunc.load_model(logged["uri"])  # restored: it loads again
