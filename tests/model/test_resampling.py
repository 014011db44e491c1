"""Resampling (SMOTE, random undersampling) rebalances the rows a model is fitted on, and
only those: validation folds and calibration rows keep the real class mix."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from fraudops.features.spec import feature_names
from fraudops.models.train import (
    TimeSplit,
    _resample,
    cross_validate,
    feature_matrix,
    fit_estimator,
    labels_known_at,
    prequential_folds,
    rows_between,
    train_calibrated,
)

SPLIT = TimeSplit(
    train_start=datetime(2026, 1, 1, tzinfo=UTC),
    train_end=datetime(2026, 1, 26, tzinfo=UTC),
    delay_days=3,
    test_end=datetime(2026, 1, 29, tzinfo=UTC),
)
MINORITY_RATIO = 0.1  # frauds per genuine row after either method


@pytest.fixture(scope="module")
def fold(some_cards_features: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The first prequential fold's fitting rows and the labels it fits with (those
    reported by its validation start)."""
    fit_end, valid_start, _ = prequential_folds(SPLIT)[0]
    rows = rows_between(some_cards_features, SPLIT.train_start, fit_end)
    return feature_matrix(rows, feature_names()), labels_known_at(rows, valid_start)


def test_undersampling_keeps_every_fraud_and_a_tenth_ratio(
    fold: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = fold
    frauds = int(y.sum())
    assert frauds >= 10  # a real, imbalanced fold
    assert y.size > 20 * frauds
    x_res, y_res = _resample(x, y, "undersample", seed=0)
    assert int(y_res.sum()) == frauds
    assert (y_res == 0).sum() == int(frauds / MINORITY_RATIO)
    # rows are drawn from the fold as they are (NaN-aware row identity)
    originals = {row.tobytes() for row in np.nan_to_num(x, nan=-9e9)}
    assert all(row.tobytes() in originals for row in np.nan_to_num(x_res, nan=-9e9))


def test_smote_adds_synthetic_frauds_between_real_ones(
    fold: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = fold
    genuine, frauds = int((y == 0).sum()), int(y.sum())
    x_res, y_res = _resample(x, y, "smote", seed=0)
    assert (y_res == 0).sum() == genuine  # nothing genuine is dropped or added
    assert int(y_res.sum()) == int(genuine * MINORITY_RATIO) > frauds
    assert not np.isnan(x_res).any()  # SMOTE needs complete rows: gaps are filled
    # the original rows come first, unchanged but for filled gaps; synthetic frauds
    # interpolate between real frauds, so they stay inside the frauds' bounding box
    known = ~np.isnan(x)
    np.testing.assert_array_equal(x_res[: y.size][known], x[known])
    real = x_res[: y.size][y == 1]
    synthetic = x_res[y.size :]
    assert (synthetic >= real.min(axis=0) - 1e-9).all()
    assert (synthetic <= real.max(axis=0) + 1e-9).all()


def test_no_resampling_and_too_few_frauds_leave_the_rows_alone(
    fold: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = fold
    same_x, same_y = _resample(x, y, "none", seed=0)
    assert same_x is x
    assert same_y is y
    one_fraud = np.zeros_like(y)
    one_fraud[0] = 1
    for method in ("undersample", "smote"):
        kept_x, kept_y = _resample(x, one_fraud, method, seed=0)
        assert kept_x is x
        assert kept_y is one_fraud
    with pytest.raises(ValueError, match="unknown resampling"):
        _resample(x, y, "oversample", seed=0)


@pytest.mark.parametrize("method", ["undersample", "smote"])
def test_the_fitted_model_sees_the_resampled_rows(
    fold: tuple[np.ndarray, np.ndarray], method: str
) -> None:
    x, y = fold
    plain = fit_estimator("lr", x, y)
    resampled = fit_estimator("lr", x, y, resampling=method)
    assert not np.allclose(plain.coef, resampled.coef)


@pytest.mark.parametrize("method", ["undersample", "smote"])
def test_validation_folds_keep_the_real_class_mix(
    some_cards_features: pl.DataFrame, method: str
) -> None:
    seen: list[tuple[int, int]] = []

    def record(y: np.ndarray, scores: np.ndarray) -> float:
        assert y.size == scores.size
        seen.append((y.size, int(y.sum())))
        return 0.0

    cross_validate("lr", some_cards_features, feature_names(), SPLIT, None, method, metric=record)
    expected = []
    for _, valid_start, valid_end in prequential_folds(SPLIT):
        rows = rows_between(some_cards_features, valid_start, valid_end)
        known = labels_known_at(rows, SPLIT.training_label_cutoff)
        expected.append((rows.height, int(known.sum())))
    assert seen == expected


def test_calibration_rows_keep_the_real_class_mix(some_cards_features: pl.DataFrame) -> None:
    names, cutoff = feature_names(), datetime(2026, 1, 26, tzinfo=UTC)
    _, plain = train_calibrated("lr", some_cards_features, names, cutoff, maturity_days=3)
    for method in ("undersample", "smote"):
        _, calibration = train_calibrated(
            "lr", some_cards_features, names, cutoff, resampling=method, maturity_days=3
        )
        assert calibration.height == plain.height
        assert calibration["transaction_id"].equals(plain["transaction_id"])
        assert calibration["known_label"].equals(plain["known_label"])
