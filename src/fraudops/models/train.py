"""Time-aware training: splits with a label-delay gap, four algorithms, calibration.

Fraud data is a time series with delayed labels, so nothing here shuffles across time.

Label time, one definition: a model trained on ``[train_start, train_end)`` is built and
deployed at its *label cutoff* — by default ``train_end + delay_days``, the start of the
test window (the closed loop and the DAGs, which train "as of now", pass their own). It
learns from the labels reported by that moment: a fraud reported later counts as genuine,
exactly as in production, and a fraud reported between ``train_end`` and the cutoff is a
positive (the ``delay_days`` gap is the time those labels need; counting it twice would
turn the freshest frauds into label noise). Every label used for fitting, calibration,
thresholds and model selection goes through :func:`labels_known_at` with the cutoff that
applies to it; a prequential fold's cutoff is its own validation start.

- ``(train_end + delay, test_end]`` is the test window; it is never used for any choice;
- model selection uses the most recent matured days of the training window (and
  prequential folds where the window is long enough).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from fraudops.models.bundle import Calibrator, FraudModel, LinearModel
from fraudops.models.labels import (
    NoKnownFraudError,
    holdout_window,
    label_maturity_days,
    labels_known_at,
    require_known_fraud,
)

logger = logging.getLogger(__name__)

__all__ = [  # label time lives in models.labels; re-exported where training code finds it
    "NoKnownFraudError",
    "holdout_window",
    "label_maturity_days",
    "labels_known_at",
    "require_known_fraud",
]

ALGORITHMS = ("lr", "rf", "xgb", "lgbm")
ALGORITHM_NAMES = {
    "lr": "logistic regression",
    "rf": "random forest",
    "xgb": "XGBoost",
    "lgbm": "LightGBM",
}
RESAMPLING = ("none", "undersample", "smote")


@dataclass(frozen=True)
class TimeSplit:
    train_start: datetime
    train_end: datetime
    delay_days: int
    test_end: datetime
    # when the model is built and deployed; None: the test start (train_end + delay)
    label_cutoff: datetime | None = None

    @property
    def test_start(self) -> datetime:
        return self.train_end + timedelta(days=self.delay_days)

    @property
    def training_label_cutoff(self) -> datetime:
        """The moment whose reported labels the model learns from."""
        return self.label_cutoff or self.test_start

    def as_dict(self) -> dict[str, str | int]:
        return {
            "train_start": self.train_start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "delay_days": self.delay_days,
            "label_cutoff": self.training_label_cutoff.isoformat(),
            "test_start": self.test_start.isoformat(),
            "test_end": self.test_end.isoformat(),
        }


def _midnight(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def plan_split(
    first: datetime,
    last: datetime,
    train_start: datetime | None = None,
    train_end: datetime | None = None,
    delay_days: int = 7,
    test_end: datetime | None = None,
    test_days: int = 7,
    burn_in_days: int = 0,
    label_cutoff: datetime | None = None,
) -> TimeSplit:
    """Fill in the dates a user did not give, from the data's first and last timestamps.

    ``burn_in_days``: by default training starts that long after the first transaction,
    where every feature window is full (a 30-day count on day 3 of a dataset is not the
    same feature as on day 40); it is dropped when the data is too short to afford it.
    """
    test_end = test_end or _midnight(last) + timedelta(days=1)
    train_end = train_end or test_end - timedelta(days=test_days + delay_days)
    if train_start is None:
        train_start = _midnight(first)
        burnt = train_start + timedelta(days=burn_in_days)
        if train_end - burnt >= timedelta(days=14):
            train_start = burnt
    if not train_start < train_end <= test_end - timedelta(days=delay_days):
        raise ValueError(
            f"impossible split: train [{train_start:%Y-%m-%d}, {train_end:%Y-%m-%d}), "
            f"delay {delay_days} d, test up to {test_end:%Y-%m-%d}; the data covers "
            f"{first:%Y-%m-%d}..{last:%Y-%m-%d}"
        )
    if label_cutoff is not None and label_cutoff < train_end:
        raise ValueError(
            f"label cutoff {label_cutoff:%Y-%m-%d %H:%M} precedes the end of training "
            f"{train_end:%Y-%m-%d}: a model cannot be built before its data ends"
        )
    return TimeSplit(train_start, train_end, delay_days, test_end, label_cutoff)


def rows_between(frame: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    return frame.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < end))


def prequential_folds(
    split: TimeSplit, n_folds: int = 3, valid_days: int = 7
) -> list[tuple[datetime, datetime, datetime]]:
    """Rolling-origin folds inside the training window: (fit_end, valid_start, valid_end).

    Each fold fits on ``[train_start, fit_end)`` and validates on the ``valid_days`` that
    follow a gap of ``delay_days``; the last fold's validation ends at ``train_end``.
    """
    span_days = (split.train_end - split.train_start).days
    # short histories get shorter folds rather than none
    valid_days = max(3, min(valid_days, (span_days - split.delay_days) // (n_folds + 1)))
    folds = []
    for i in range(n_folds):
        valid_end = split.train_end - timedelta(days=i * valid_days)
        valid_start = valid_end - timedelta(days=valid_days)
        fit_end = valid_start - timedelta(days=split.delay_days)
        if fit_end - split.train_start >= timedelta(days=valid_days):
            folds.append((fit_end, valid_start, valid_end))
    return sorted(folds)


def default_params(algorithm: str) -> dict[str, Any]:
    return {
        "lr": {"C": 0.5},
        "rf": {"n_estimators": 100, "max_depth": 12, "min_samples_leaf": 5, "max_samples": 0.3},
        "xgb": {
            "n_estimators": 200,
            "max_depth": 6,
            "learning_rate": 0.1,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "min_child_weight": 1.0,
        },
        "lgbm": {
            "n_estimators": 200,
            "num_leaves": 31,
            "max_depth": 8,  # bounds the decision paths walked for reason codes
            "learning_rate": 0.08,
            "min_child_samples": 20,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
        },
    }[algorithm]


def _resample(
    x: np.ndarray, y: np.ndarray, method: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rebalance the *training fold only*; validation and test keep the real class mix."""
    if method == "none" or y.sum() < 2:
        return x, y
    if method == "undersample":
        from imblearn.under_sampling import RandomUnderSampler

        sampler: Any = RandomUnderSampler(sampling_strategy=0.1, random_state=seed)
        return tuple(sampler.fit_resample(x, y))  # type: ignore[return-value]
    if method == "smote":
        from imblearn.over_sampling import SMOTE

        filled = np.where(np.isnan(x), np.nanmedian(x, axis=0), x)
        filled = np.nan_to_num(filled)
        neighbours = int(min(5, y.sum() - 1))
        sampler = SMOTE(sampling_strategy=0.1, random_state=seed, k_neighbors=neighbours)
        return tuple(sampler.fit_resample(filled, y))  # type: ignore[return-value]
    raise ValueError(f"unknown resampling {method!r}; choose from {RESAMPLING}")


def fit_estimator(
    algorithm: str,
    x: np.ndarray,
    y: np.ndarray,
    params: dict[str, Any] | None = None,
    resampling: str = "none",
    seed: int = 0,
    n_jobs: int = 2,
) -> Any:
    """Fit one algorithm with class weighting (and optional resampling) on (x, y)."""
    params = {**default_params(algorithm), **(params or {})}
    x, y = _resample(x, y, resampling, seed)
    positives = max(float(y.sum()), 1.0)
    # sqrt of the class ratio: enough weight to learn the rare class without wrecking
    # the score scale (calibration fixes the rest)
    pos_weight = float(np.sqrt((y.size - positives) / positives))
    if algorithm == "lgbm":
        import lightgbm as lgb

        model = lgb.LGBMClassifier(
            **params,
            subsample_freq=1,
            scale_pos_weight=pos_weight,
            random_state=seed,
            n_jobs=n_jobs,
            verbose=-1,
        )
        model.fit(x, y)
        return model.booster_
    if algorithm == "xgb":
        import xgboost as xgb

        model = xgb.XGBClassifier(
            **params,
            scale_pos_weight=pos_weight,
            tree_method="hist",
            random_state=seed,
            n_jobs=n_jobs,
            eval_metric="aucpr",
        )
        model.fit(x, y)
        return model.get_booster()
    if algorithm == "lr":
        from sklearn.linear_model import LogisticRegression

        fill = np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0)
        fill = np.nan_to_num(fill)
        filled = np.where(np.isnan(x), fill, x)
        mean, scale = filled.mean(axis=0), filled.std(axis=0)
        scale[scale == 0] = 1.0
        lr = LogisticRegression(C=params["C"], class_weight="balanced", max_iter=2000)
        lr.fit((filled - mean) / scale, y)
        return LinearModel(fill, mean, scale, lr.coef_[0], float(lr.intercept_[0]))
    if algorithm == "rf":
        from sklearn.ensemble import RandomForestClassifier

        rf = RandomForestClassifier(
            **params, class_weight="balanced_subsample", random_state=seed, n_jobs=n_jobs
        )
        rf.fit(np.where(np.isnan(x), -1.0, x), y)
        return rf
    raise ValueError(f"unknown algorithm {algorithm!r}; choose from {ALGORITHMS}")


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str = "isotonic") -> Calibrator:
    """Isotonic (monotone, flexible) or Platt (two parameters) on held-out raw scores."""
    if method == "none" or y.sum() == 0 or y.sum() == y.size:
        return Calibrator("none")
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(raw, y)
        return Calibrator("isotonic", x=iso.X_thresholds_.tolist(), y=iso.y_thresholds_.tolist())
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        logit = np.log(np.clip(raw, 1e-9, 1 - 1e-9) / np.clip(1 - raw, 1e-9, 1))
        lr = LogisticRegression(C=1e6).fit(logit.reshape(-1, 1), y)
        return Calibrator("platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
    raise ValueError(f"unknown calibration {method!r}; choose isotonic, platt or none")


def feature_matrix(frame: pl.DataFrame, names: list[str]) -> np.ndarray:
    return frame.select(names).cast(pl.Float64).to_numpy()


def train_calibrated(
    algorithm: str,
    train: pl.DataFrame,
    names: list[str],
    cutoff: datetime,
    params: dict[str, Any] | None = None,
    calibration: str = "isotonic",
    resampling: str = "none",
    calibration_share: float = 0.2,
    seed: int = 0,
    maturity_days: int = 7,
    min_holdout_frauds: int = 50,
) -> tuple[FraudModel, pl.DataFrame]:
    """Fit a model on a training window with the labels reported by ``cutoff`` (the
    moment it is deployed) and calibrate it on the window's most recent matured days
    (:func:`holdout_window`); every other day is used for fitting.

    Returns the model and the held-out rows with their ``raw_score`` (for model
    selection), calibrated ``score`` and ``known_label`` (for the decision thresholds,
    chosen without touching the test window).
    """
    known = labels_known_at(train, cutoff)
    calib_start, calib_end = holdout_window(
        train["timestamp"],
        known,
        cutoff,
        maturity_days,
        calibration_share,
        min_holdout_frauds,
    )
    in_calibration = (
        ((pl.col("timestamp") >= calib_start) & (pl.col("timestamp") < calib_end))
        .fill_null(False)
        .alias("in_calibration")
    )
    mask = train.select(in_calibration).to_series().to_numpy()
    fit_rows, calib_rows = train.filter(~pl.Series(mask)), train.filter(pl.Series(mask))
    x_fit, y_fit = feature_matrix(fit_rows, names), known[~mask]
    first = train["timestamp"].min()
    require_known_fraud(y_fit, "the fitting window", first, calib_start, cutoff)
    estimator = fit_estimator(algorithm, x_fit, y_fit, params, resampling, seed)
    model = FraudModel(algorithm=algorithm, estimator=estimator, feature_names=names)
    if algorithm == "rf":
        filled = np.where(np.isnan(x_fit), np.nanmean(x_fit, axis=0), x_fit)
        model.reference_mean = np.nan_to_num(filled.mean(axis=0))
        scale = filled.std(axis=0)
        model.reference_scale = np.where(scale > 0, scale, 1.0)
    x_cal, y_cal = feature_matrix(calib_rows, names), known[mask]
    if y_cal.sum() == 0:
        logger.warning(
            "no fraud reported by %s among the %d held-out rows %s..%s: the %s model keeps "
            "its raw scores (no calibration)",
            cutoff,
            y_cal.size,
            calib_start,
            calib_end,
            algorithm,
        )
    raw = model.raw_scores(x_cal)
    model.calibrator = fit_calibrator(raw, y_cal, calibration)
    scored = calib_rows.with_columns(
        pl.Series("raw_score", raw),
        pl.Series("score", np.clip(model.calibrator(raw), 0.0, 1.0)),
        pl.Series("known_label", y_cal),
    )
    return model, scored


def cross_validate(
    algorithm: str,
    frame: pl.DataFrame,
    names: list[str],
    split: TimeSplit,
    params: dict[str, Any] | None = None,
    resampling: str = "none",
    metric: Callable[[np.ndarray, np.ndarray], float] | None = None,
    on_fold: Callable[[int, float], None] | None = None,
    n_folds: int = 3,
) -> list[float]:
    """Average precision of each prequential fold.

    A fold mirrors deployment: it fits with the labels reported by its own validation
    start (its cutoff) and is judged with the labels known when the model is built
    (``split.training_label_cutoff``). A fold with no known fraud to fit on or to judge
    with is skipped with a warning (its score is NaN).
    """
    from fraudops.models.evaluate import average_precision

    metric = metric or average_precision
    scores = []
    for i, (fit_end, valid_start, valid_end) in enumerate(prequential_folds(split, n_folds)):
        fit_rows = rows_between(frame, split.train_start, fit_end)
        valid_rows = rows_between(frame, valid_start, valid_end)
        y_fit = labels_known_at(fit_rows, valid_start)
        y_valid = labels_known_at(valid_rows, split.training_label_cutoff)
        if y_fit.sum() == 0 or y_valid.sum() == 0:
            logger.warning(
                "fold %d (fit until %s, validate %s..%s) has no known fraud to %s; skipped",
                i,
                fit_end,
                valid_start,
                valid_end,
                "fit on" if y_fit.sum() == 0 else "judge with",
            )
            value = float("nan")
        else:
            estimator = fit_estimator(
                algorithm, feature_matrix(fit_rows, names), y_fit, params, resampling
            )
            model = FraudModel(algorithm=algorithm, estimator=estimator, feature_names=names)
            value = metric(y_valid, model.raw_scores(feature_matrix(valid_rows, names)))
        scores.append(value)
        if on_fold:
            on_fold(i, value)
    return scores
