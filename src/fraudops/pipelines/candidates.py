"""Training candidates: cross-validate, tune, fit and test each requested algorithm on one
time split, and pick the best on held-out matured days (pure steps: no I/O, no MLflow)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from fraudops.models.evaluate import (
    CostModel,
    average_precision,
    evaluate_scores,
    finite_mean,
    optimal_thresholds,
)
from fraudops.models.selection import SelectionResult, select_model
from fraudops.models.train import (
    ALGORITHMS,
    TimeSplit,
    cross_validate,
    feature_matrix,
    label_maturity_days,
    plan_split,
    rows_between,
    train_calibrated,
)

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class TrainingOptions:
    models: tuple[str, ...] = ALGORITHMS
    trials: int = 0
    timeout_seconds: float | None = None
    tune_model: str | None = None  # default: the best by cross-validation
    train_start: datetime | None = None
    train_end: datetime | None = None
    delay_days: int = 7
    test_end: datetime | None = None
    test_days: int = 7
    k: int = 100
    calibration: str = "isotonic"
    resampling: str = "none"
    cost: CostModel = field(default_factory=CostModel)
    seed: int = 0
    n_folds: int = 3
    register: bool = True
    promote: bool = True  # run the gate after registering
    reason: str = "manual"
    # The moment the model is built and deployed ("as of"). A time (the closed loop and
    # the DAGs train as of now): training, the test window and the promotion gate all use
    # the labels reported by then. None (a backtest on settled history): training learns
    # the labels reported by the test start (train_end + delay, when the model would be
    # deployed); the test window and the gate are judged with final labels.
    label_cutoff: datetime | None = None
    # days a label needs before the held-out calibration/selection days may use it (at
    # least; the data's own reporting delays may ask for more)
    label_maturity_days: int = 7
    # the held-out days reach back until they hold this many known frauds
    min_selection_frauds: int = 50
    # the MLflow pyfunc flavour (for generic tools such as `mlflow models serve`); the
    # registry and the API load the checksummed bundle either way
    log_pyfunc: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.models) - set(ALGORITHMS)
        if unknown or not self.models:
            raise ValueError(f"unknown model(s) {sorted(unknown)}; choose from {ALGORITHMS}")
        if self.tune_model and self.tune_model not in self.models:
            raise ValueError(f"--tune-model {self.tune_model} is not among --models")


@dataclass
class FeatureData:
    frame: pl.DataFrame
    names: list[str]
    dataset_hash: str
    spec_hash: str
    source_uri: str
    burn_in_days: int = 0


@dataclass
class CandidateResult:
    algorithm: str
    model: Any
    params: dict[str, Any]
    cv_scores: list[float]
    test_metrics: dict[str, float]
    thresholds: dict[str, float]
    test_scores: np.ndarray
    holdout_ap: float = float("nan")  # AP of the raw scores on the held-out days
    holdout: pl.DataFrame | None = None  # held-out rows: raw_score, score, known_label

    @property
    def cv_mean(self) -> float:
        return finite_mean(self.cv_scores)


def window_arrays(
    frame: pl.DataFrame, label_cutoff: datetime | None = None
) -> dict[str, np.ndarray]:
    from fraudops.models.train import labels_known_at

    if label_cutoff is None:
        y = frame["is_fraud"].fill_null(0).to_numpy().astype(np.int64)
    else:
        y = labels_known_at(frame, label_cutoff)
    return {
        "y": y,
        "amount": frame["amount"].to_numpy(),
        "day": frame["timestamp"].dt.date().cast(pl.String).to_numpy(),
        "card": frame["card_id"].to_numpy(),
    }


def train_candidates(
    data: FeatureData, options: TrainingOptions, emit: Event | None = None
) -> tuple[TimeSplit, list[CandidateResult], dict[str, int]]:
    """Cross-validate, tune, fit and test every requested algorithm (no I/O)."""
    from fraudops.models.tune import tune

    emit = emit or (lambda _kind, _payload: None)
    ts = data.frame["timestamp"]
    first, last = ts.min(), ts.max()
    assert isinstance(first, datetime)
    assert isinstance(last, datetime)
    split = plan_split(
        first,
        last,
        options.train_start,
        options.train_end,
        options.delay_days,
        options.test_end,
        options.test_days,
        burn_in_days=data.burn_in_days,
        label_cutoff=options.label_cutoff,
    )
    train = rows_between(data.frame, split.train_start, split.train_end)
    test = rows_between(data.frame, split.test_start, split.test_end)
    if train.height == 0 or test.height == 0:
        raise ValueError(f"empty training or test window for split {split.as_dict()}")
    rows = {"train": train.height, "test": test.height}
    emit("split", {**split.as_dict(), **rows})
    cv: dict[str, list[float]] = {}
    for algorithm in options.models:
        cv[algorithm] = cross_validate(
            algorithm,
            data.frame,
            data.names,
            split,
            None,
            options.resampling,
            n_folds=options.n_folds,
        )
        emit("cv", {"algorithm": algorithm, "scores": cv[algorithm]})
    tuned: dict[str, dict[str, Any]] = {}
    if options.trials > 0:
        target = options.tune_model or max(
            options.models,
            key=lambda a: np.nan_to_num(finite_mean(cv[a]), nan=-1),
        )
        params, best, _ = tune(
            target,
            data.frame,
            data.names,
            split,
            options.trials,
            options.timeout_seconds,
            options.seed,
            options.resampling,
            on_trial=lambda n, v: emit("trial", {"algorithm": target, "trial": n, "value": v}),
        )
        if params and np.isfinite(best) and best > np.nan_to_num(finite_mean(cv[target]), nan=-1):
            tuned[target] = params
            cv[target] = [best]
        emit("tuned", {"algorithm": target, "params": params, "cv_average_precision": best})
    # history before the window shows how long this data's labels take to arrive
    maturity = label_maturity_days(
        data.frame.filter(pl.col("timestamp") < split.train_end),
        split.training_label_cutoff,
        options.label_maturity_days,
    )
    rows["label_maturity_days"] = maturity
    emit("maturity", {"label_maturity_days": maturity})
    test_x = feature_matrix(test, data.names)
    arrays = window_arrays(test, options.label_cutoff)
    results = []
    for algorithm in options.models:
        params = tuned.get(algorithm, {})
        model, calibration_rows = train_calibrated(
            algorithm,
            train,
            data.names,
            split.training_label_cutoff,
            params,
            options.calibration,
            options.resampling,
            seed=options.seed,
            maturity_days=maturity,
            min_holdout_frauds=options.min_selection_frauds,
        )
        chosen = optimal_thresholds(
            calibration_rows["known_label"].to_numpy(),
            calibration_rows["score"].to_numpy(),
            calibration_rows["amount"].to_numpy(),
            options.cost,
        )
        thresholds = {"review": chosen.review, "decline": chosen.decline}
        score = model.predict_proba(test_x)
        metrics = evaluate_scores(
            arrays["y"],
            score,
            arrays["amount"],
            arrays["day"],
            arrays["card"],
            options.k,
            options.cost,
            chosen,
        )
        metrics["cv_average_precision"] = finite_mean(cv[algorithm])
        model.metadata.update({"thresholds": thresholds, "params": params})
        holdout = average_precision(
            calibration_rows["known_label"].to_numpy(), calibration_rows["raw_score"].to_numpy()
        )
        metrics["holdout_average_precision"] = holdout
        results.append(
            CandidateResult(
                algorithm,
                model,
                params,
                cv[algorithm],
                metrics,
                thresholds,
                score,
                holdout,
                calibration_rows.select("raw_score", "score", "known_label"),
            )
        )
        emit("fitted", {"algorithm": algorithm, "metrics": metrics})
    return split, results, rows


def pick_best(
    results: list[CandidateResult], seed: int = 0
) -> tuple[CandidateResult, SelectionResult]:
    """Model selection on the held-out recent matured days (every candidate judged on the
    same rows), cross-validation when those hold too few frauds; never the test window."""
    holdouts = [r.holdout for r in results if r.holdout is not None]
    if len(holdouts) == len(results) and len({h.height for h in holdouts}) == 1:
        y = holdouts[0]["known_label"].to_numpy()
        scores = {
            r.algorithm: r.holdout["raw_score"].to_numpy() for r in results if r.holdout is not None
        }
    else:  # candidates held out different rows: no paired comparison
        y, scores = np.zeros(0), {r.algorithm: np.zeros(0) for r in results}
    selection = select_model(
        y, scores, fallback={r.algorithm: r.cv_mean for r in results}, seed=seed
    )
    chosen = next(r for r in results if r.algorithm == selection.chosen)
    return chosen, selection
