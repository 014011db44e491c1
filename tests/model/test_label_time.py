"""Label time: a model learns the labels reported by the moment it is built, never later
and never earlier; folds, the held-out days, the gate and selection follow the same rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

import fraudops.models.train as train_module
from fraudops.data.generate import SimulationConfig, generate
from fraudops.features.offline import build_offline_features
from fraudops.features.spec import feature_names
from fraudops.models.selection import select_model
from fraudops.models.train import (
    NoKnownFraudError,
    TimeSplit,
    cross_validate,
    labels_known_at,
    plan_split,
    train_calibrated,
)
from fraudops.pipelines.training import FeatureData, TrainingOptions, train_candidates

START = date(2025, 1, 1)


@pytest.fixture(scope="module")
def constant_delay_features() -> pl.DataFrame:
    """Seven weeks of a world whose frauds are all reported exactly 7 days later."""
    raw = generate(
        SimulationConfig(
            customers=1_500,
            days=49,
            start=START,
            seed=5,
            fraud_rate=0.01,
            label_delay_model="constant",
            label_delay_mean_days=7,
            unreported_fraction=0.0,
        )
    )
    return build_offline_features(raw).sort("timestamp", "transaction_id")


def _day(offset: int) -> datetime:
    return datetime(START.year, START.month, START.day, tzinfo=UTC) + timedelta(days=offset)


def test_the_default_cutoff_is_the_test_start_and_an_earlier_one_is_refused() -> None:
    split = plan_split(_day(0), _day(40), _day(10), _day(17), 7, _day(31))
    assert split.training_label_cutoff == split.test_start == _day(24)
    assert split.as_dict()["label_cutoff"] == _day(24).isoformat()
    live = plan_split(_day(0), _day(40), _day(10), _day(17), 7, _day(31), label_cutoff=_day(31))
    assert live.training_label_cutoff == _day(31)
    with pytest.raises(ValueError, match="precedes the end of training"):
        plan_split(_day(0), _day(40), _day(10), _day(17), 7, _day(31), label_cutoff=_day(16))


def test_a_fraud_reported_between_train_end_and_the_cutoff_is_a_positive(
    constant_delay_features: pl.DataFrame,
) -> None:
    split = plan_split(_day(0), _day(49), _day(30), _day(37), 7, _day(44))
    train = train_module.rows_between(constant_delay_features, split.train_start, split.train_end)
    at_cutoff = labels_known_at(train, split.training_label_cutoff)
    at_train_end = labels_known_at(train, split.train_end)
    # a constant 7-day delay: every fraud of the window is reported by train_end + 7 days,
    # and none of the last week's by train_end
    assert at_cutoff.sum() == train["is_fraud"].sum() > at_train_end.sum()
    last_week = (train["timestamp"] >= split.train_end - timedelta(days=7)).to_numpy()
    assert at_train_end[last_week].sum() == 0
    assert at_cutoff[last_week].sum() > 0
    # and training uses exactly those: the held-out (most recent) days carry them
    _, holdout = train_calibrated(
        "lr", train, feature_names(), split.training_label_cutoff, maturity_days=7
    )
    reported = holdout.join(
        train.select("transaction_id", "is_fraud"), on="transaction_id", how="left"
    )
    assert holdout["known_label"].sum() == reported["is_fraud"].sum() > 0
    # one microsecond before the last fraud's report it is still a genuine transaction
    last_report = train.filter(pl.col("is_fraud") == 1)["label_available_at"].max()
    assert isinstance(last_report, datetime)
    earlier = labels_known_at(train, last_report - timedelta(microseconds=1))
    assert earlier.sum() == at_cutoff.sum() - 1


def test_a_fold_learns_the_labels_reported_by_its_own_validation_start(
    constant_delay_features: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    split = TimeSplit(_day(0), _day(37), 7, _day(44))
    folds = train_module.prequential_folds(split, 2)
    assert folds
    seen: list[tuple[int, int]] = []
    real_fit = train_module.fit_estimator

    def recording_fit(algorithm, x, y, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((int(y.size), int(y.sum())))
        return real_fit(algorithm, x, y, *args, **kwargs)

    monkeypatch.setattr(train_module, "fit_estimator", recording_fit)
    scores = cross_validate("lr", constant_delay_features, feature_names(), split, n_folds=2)
    assert len(scores) == len(folds) == len(seen)
    for (fit_end, valid_start, _), (rows, positives) in zip(folds, seen, strict=True):
        fit_rows = train_module.rows_between(constant_delay_features, split.train_start, fit_end)
        assert rows == fit_rows.height
        assert positives == labels_known_at(fit_rows, valid_start).sum()
        assert positives > labels_known_at(fit_rows, fit_end).sum()  # not the fold's end
    assert all(np.isfinite(scores))


@pytest.mark.parametrize("window_days", [1, 7])
def test_short_windows_with_a_seven_day_delay_train_all_four_models(
    constant_delay_features: pl.DataFrame, window_days: int
) -> None:
    data = FeatureData(constant_delay_features, feature_names(), "h", "s", "memory", 30)
    options = TrainingOptions(
        train_start=_day(35 - window_days),
        train_end=_day(35),
        delay_days=7,
        test_end=_day(49),
        register=False,
    )
    _, results, _ = train_candidates(data, options)
    assert [r.algorithm for r in results] == ["lr", "rf", "xgb", "lgbm"]
    for result in results:
        assert 0 < result.test_metrics["average_precision"] <= 1
        assert result.holdout is not None
        assert result.holdout["known_label"].sum() > 0


def test_a_window_without_known_fraud_is_a_clear_error_not_a_library_traceback(
    constant_delay_features: pl.DataFrame,
) -> None:
    genuine = constant_delay_features.with_columns(is_fraud=pl.lit(0, pl.Int8))
    with pytest.raises(NoKnownFraudError, match="no fraud reported by 2025-02-10"):
        train_calibrated("lr", genuine.head(5_000), feature_names(), _day(40))


def test_a_fold_without_known_fraud_is_skipped_not_fatal(
    constant_delay_features: pl.DataFrame,
) -> None:
    # labels known only from day 30: the early folds have nothing to fit on
    late = constant_delay_features.with_columns(
        label_available_at=pl.when(pl.col("timestamp") >= _day(15)).then(
            pl.col("label_available_at")
        )
    )
    split = TimeSplit(_day(0), _day(37), 7, _day(44))
    scores = cross_validate("lr", late, feature_names(), split, n_folds=3)
    assert np.isnan(scores[0])
    assert np.isfinite(scores[-1])


def _scores(y: np.ndarray, signal: float, rng: np.random.Generator) -> np.ndarray:
    return signal * y + rng.normal(size=y.size)


def test_selection_prefers_the_model_that_is_better_on_the_held_out_days() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(20_000) < 0.01).astype(float)
    chosen = select_model(
        y,
        {"lr": _scores(y, 1.0, rng), "lgbm": _scores(y, 3.0, rng)},
        fallback={"lr": 0.9, "lgbm": 0.1},  # cross-validation says otherwise: ignored
    )
    assert chosen.chosen == chosen.best == "lgbm"
    assert chosen.scores["lgbm"] > chosen.scores["lr"] + 3 * chosen.difference_sd["lr"]
    assert 0 < chosen.spread < 0.1


def test_selection_prefers_the_simpler_model_within_the_noise() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(20_000) < 0.01).astype(float)
    base = _scores(y, 2.0, rng)
    nearly = base + rng.normal(scale=0.05, size=y.size)
    chosen = select_model(y, {"lgbm": base, "lr": nearly})
    assert chosen.best in ("lgbm", "lr")
    assert chosen.chosen == "lr"
    assert "simpler" in chosen.reason or chosen.best == "lr"


def test_too_few_held_out_frauds_fall_back_to_cross_validation() -> None:
    y = np.zeros(1_000)
    y[:5] = 1
    chosen = select_model(
        y, {"lr": np.arange(1_000.0), "xgb": -np.arange(1_000.0)}, {"lr": 0.2, "xgb": 0.4}
    )
    assert chosen.chosen == "xgb"
    assert "cross-validation" in chosen.reason


def test_the_gate_judges_with_the_same_cutoff_as_training(
    tmp_path: Any, isolated_home: Any
) -> None:
    from fraudops.config import Settings
    from fraudops.data import store
    from fraudops.pipelines.training import run_training

    raw = generate(
        SimulationConfig(
            customers=800,
            days=49,
            start=START,
            seed=9,
            fraud_rate=0.02,
            label_delay_model="gamma",
            label_delay_mean_days=3,
        )
    )
    uri = str(tmp_path / "raw")
    store.write_dataset(uri, raw)
    cutoff = _day(49)  # trained "as of" the end of the test window: its last frauds are unknown
    options = TrainingOptions(
        models=("lgbm",),
        train_start=_day(28),
        train_end=_day(35),
        delay_days=7,
        test_end=_day(49),
        label_cutoff=cutoff,
        log_pyfunc=False,
    )
    summary = run_training(Settings(home=isolated_home), uri, options)
    gate_ap = summary["promotion"]["challenger_metrics"]["average_precision"]
    test = raw.filter((pl.col("timestamp") >= _day(42)) & (pl.col("timestamp") < _day(49)))
    known, final = labels_known_at(test, cutoff), labels_known_at(test, None)
    assert 0 < known.sum() < final.sum()  # the cutoff matters on this window
    assert summary["split"]["label_cutoff"] == cutoff.isoformat()
    # the gate and the test metrics were computed with the same (cutoff) labels
    assert gate_ap == pytest.approx(summary["models"]["lgbm"]["average_precision"])


def test_label_maturity_follows_the_data_s_reporting_delays() -> None:
    def world(model: str) -> pl.DataFrame:
        return generate(
            SimulationConfig(
                customers=600,
                days=100,
                start=START,
                seed=4,
                fraud_rate=0.02,
                label_delay_model=model,
                label_delay_mean_days=7,
                unreported_fraction=0.0,
            )
        )

    cutoff = _day(100)
    assert train_module.label_maturity_days(world("constant"), cutoff) == 7
    # a call within days for 40 %, a chargeback after weeks for the rest
    realistic = train_module.label_maturity_days(world("realistic"), cutoff)
    assert 20 <= realistic <= 35
    # never below the configured floor, and the floor alone without enough frauds
    assert train_module.label_maturity_days(world("constant"), cutoff, floor_days=10) == 10
    assert train_module.label_maturity_days(world("realistic").head(100), cutoff) == 7
