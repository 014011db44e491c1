"""Bulk scoring (`fraudops score`'s model step) answers like the API, row for row."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from fraudops.features.offline import build_offline_features
from fraudops.models.decision import decide, score_points
from fraudops.models.reasons import ReasonWriter
from fraudops.pipelines.scoring import score_frame
from skip_policy import require

COMPILED_MISSING = "lleaves is not installed (the [compiled] extra; make install brings it)"


@pytest.fixture(scope="module")
def features(model_history: pl.DataFrame) -> pl.DataFrame:
    return build_offline_features(model_history.tail(20_000))


def test_scores_decisions_and_reasons_match_the_api_path(
    trained_model: Any, features: pl.DataFrame
) -> None:
    scored = score_frame(trained_model, features, 3, "fraud-detector", "champion", "all")
    assert scored.height == features.height
    assert scored["transaction_id"].to_list() == features["transaction_id"].to_list()
    x = features.select(trained_model.feature_names).cast(pl.Float64).to_numpy()
    rows = np.linspace(0, features.height - 1, 40).astype(int)
    probability, contributions = trained_model.score_and_explain(x[rows])
    thresholds = trained_model.decision_thresholds
    writer = ReasonWriter()
    for k, row in enumerate(rows):
        got = scored.row(int(row), named=True)
        assert got["fraud_probability"] == pytest.approx(probability[k], abs=1e-6)
        assert got["score"] == score_points(probability[k])
        assert got["decision"] == decide(probability[k], thresholds)
        api_reasons = writer.reasons(x[row], contributions[k])
        assert [r["feature"] for r in got["reasons"]] == [r["feature"] for r in api_reasons]
        assert [r["text"] for r in got["reasons"]] == [r["text"] for r in api_reasons]
    assert scored["model_version"].unique().to_list() == [3]


def test_flagged_mode_explains_exactly_the_review_and_decline_rows(
    trained_model: Any, features: pl.DataFrame
) -> None:
    flagged = score_frame(trained_model, features, 1, "m", "champion", "flagged")
    everything = score_frame(trained_model, features, 1, "m", "champion", "all")
    nothing = score_frame(trained_model, features, 1, "m", "champion", "none")
    # the reason mode changes only the reasons column
    columns = [c for c in flagged.columns if c != "reasons"]
    assert flagged.select(columns).equals(everything.select(columns))
    assert flagged.select(columns).equals(nothing.select(columns))
    explained = flagged["reasons"].is_not_null()
    assert explained.sum() > 0, "the fixture should flag some rows"
    assert (explained == (flagged["decision"] != "approve")).all()
    assert flagged.filter(explained)["reasons"].equals(everything.filter(explained)["reasons"])
    assert nothing["reasons"].null_count() == nothing.height
    with pytest.raises(ValueError, match="reasons must be one of"):
        score_frame(trained_model, features, 1, "m", "champion", "some")


def test_the_compiled_model_scores_exactly_like_lightgbm(
    trained_model: Any, features: pl.DataFrame, tmp_path: Any
) -> None:
    from fraudops.models import compiled

    require(compiled.available(), COMPILED_MISSING)
    x = features.select(trained_model.feature_names).cast(pl.Float64).to_numpy()
    predict = compiled.compile_booster(trained_model.estimator, tmp_path, threads=2)
    np.testing.assert_allclose(predict(x), trained_model.estimator.predict(x), rtol=0, atol=1e-12)
    cached = compiled.cache_file(trained_model.estimator, tmp_path)
    assert cached.exists()  # named by the model's content: the next run skips the compile
    before = cached.stat().st_mtime_ns
    again = compiled.compile_booster(trained_model.estimator, tmp_path)
    assert cached.stat().st_mtime_ns == before
    np.testing.assert_allclose(again(x[:100]), predict(x[:100]), rtol=0, atol=0)


def test_engine_choice_follows_the_flag_and_the_cache(
    trained_model: Any, features: pl.DataFrame, tmp_path: Any
) -> None:
    from dataclasses import replace

    from fraudops.config import Settings
    from fraudops.models import compiled
    from fraudops.pipelines.scoring import _choose_engine

    require(compiled.available(), COMPILED_MISSING)
    settings = Settings(home=tmp_path)
    model = replace(trained_model, compiled_predict=None)
    # small input and nothing cached: LightGBM's own predict
    assert _choose_engine(model, settings, 1_000, None) == "lgbm"
    assert model.compiled_predict is None
    assert _choose_engine(model, settings, 1_000, False) == "lgbm"
    assert _choose_engine(model, settings, 1_000, True) == "lgbm-compiled"
    # once compiled, the cached build is used even for small inputs
    other = replace(trained_model, compiled_predict=None)
    assert _choose_engine(other, settings, 1_000, None) == "lgbm-compiled"
    plain = score_frame(trained_model, features, 1, "m", "champion", "flagged")
    fast = score_frame(other, features, 1, "m", "champion", "flagged")
    assert fast.equals(plain)
