"""The time-aware protocol: no shuffling, a label-delay gap, labels as known at the cutoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from fraudops.models.train import (
    fit_calibrator,
    labels_known_at,
    plan_split,
    prequential_folds,
    rows_between,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _frame(days: int = 40) -> pl.DataFrame:
    ts = [T0 + timedelta(hours=6 * i) for i in range(days * 4)]
    fraud = [1 if i % 10 == 0 else 0 for i in range(len(ts))]
    reported = [t + timedelta(days=9) if f else None for t, f in zip(ts, fraud, strict=True)]
    return pl.DataFrame(
        {"timestamp": ts, "is_fraud": fraud, "label_available_at": reported},
        schema_overrides={"label_available_at": pl.Datetime("us", "UTC")},
    )


def test_split_defaults_leave_a_gap_before_the_test_window() -> None:
    split = plan_split(T0, T0 + timedelta(days=39, hours=18), delay_days=7, test_days=7)
    assert split.test_end == T0 + timedelta(days=40)
    assert split.test_start == split.train_end + timedelta(days=7)
    assert split.test_end - split.test_start == timedelta(days=7)


def test_training_rows_and_labels_never_reach_into_the_test_window() -> None:
    frame = _frame()
    split = plan_split(T0, T0 + timedelta(days=40), delay_days=7, test_days=7)
    train = rows_between(frame, split.train_start, split.train_end)
    test = rows_between(frame, split.test_start, split.test_end)
    assert train["timestamp"].max() < split.train_end <= split.test_start <= test["timestamp"].min()
    y = labels_known_at(train, split.train_end)
    # frauds of the last 9 days before the cutoff are not reported yet: they train as genuine
    late = (train["timestamp"] >= split.train_end - timedelta(days=9)).to_numpy()
    assert y[late].sum() == 0
    assert train.filter(pl.Series(late))["is_fraud"].sum() > 0
    # and every label used was reported before the cutoff
    used = train.filter(pl.Series(y == 1))
    assert (used["label_available_at"] <= split.train_end).all()


def test_prequential_folds_roll_forward_with_the_gap() -> None:
    split = plan_split(T0, T0 + timedelta(days=60), delay_days=7, test_days=7)
    folds = prequential_folds(split, n_folds=3, valid_days=7)
    assert len(folds) == 3
    for fit_end, valid_start, valid_end in folds:
        assert valid_start - fit_end == timedelta(days=7)
        assert valid_end <= split.train_end
    assert [f[2] for f in folds] == sorted(f[2] for f in folds)


def test_impossible_split_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="impossible split"):
        plan_split(T0, T0 + timedelta(days=5), delay_days=7, test_days=7)


def test_isotonic_calibration_matches_observed_rates() -> None:
    rng = np.random.default_rng(0)
    raw = rng.random(20_000)
    y = (rng.random(20_000) < raw**3).astype(int)  # true probability is raw^3
    calibrate = fit_calibrator(raw, y, "isotonic")
    assert calibrate(np.array([0.5]))[0] == pytest.approx(0.125, abs=0.03)
    platt = fit_calibrator(raw, y, "platt")
    assert 0 < platt(np.array([0.5]))[0] < 0.5
