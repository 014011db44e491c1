"""Hyperparameter search with Optuna (TPE + median pruning) on the prequential folds only."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import optuna
import polars as pl

from fraudops.models.evaluate import finite_mean
from fraudops.models.train import TimeSplit, cross_validate

logger = logging.getLogger(__name__)


def search_space(algorithm: str, trial: optuna.Trial) -> dict[str, Any]:
    if algorithm == "lgbm":
        return {
            "n_estimators": trial.suggest_int("n_estimators", 100, 600, step=50),
            "num_leaves": trial.suggest_int("num_leaves", 15, 127, log=True),
            "max_depth": trial.suggest_int("max_depth", 4, 10),
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }
    if algorithm == "xgb":
        return {
            "n_estimators": trial.suggest_int("n_estimators", 100, 600, step=50),
            "max_depth": trial.suggest_int("max_depth", 3, 10),
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
            "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 20.0, log=True),
        }
    if algorithm == "rf":
        return {
            "n_estimators": trial.suggest_int("n_estimators", 50, 200, step=25),
            "max_depth": trial.suggest_int("max_depth", 6, 20),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
            "max_samples": trial.suggest_float("max_samples", 0.2, 0.8),
        }
    if algorithm == "lr":
        return {"C": trial.suggest_float("C", 1e-3, 10.0, log=True)}
    raise ValueError(f"unknown algorithm {algorithm!r}")


def tune(
    algorithm: str,
    frame: pl.DataFrame,
    names: list[str],
    split: TimeSplit,
    trials: int,
    timeout_seconds: float | None = None,
    seed: int = 0,
    resampling: str = "none",
    on_trial: Callable[[int, float], None] | None = None,
) -> tuple[dict[str, Any], float, optuna.Study]:
    """Maximise mean fold average precision; folds report as they finish so that a
    hopeless trial is pruned after its first fold."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
    )

    def objective(trial: optuna.Trial) -> float:
        params = search_space(algorithm, trial)
        seen: list[float] = []

        def report(step: int, value: float) -> None:
            seen.append(value)
            trial.report(finite_mean(seen), step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        scores = cross_validate(algorithm, frame, names, split, params, resampling, on_fold=report)
        return finite_mean(scores)

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial:
            on_trial(trial.number, float(trial.value) if trial.value is not None else float("nan"))

    study.optimize(objective, n_trials=trials, timeout=timeout_seconds, callbacks=[callback])
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        return {}, float("nan"), study
    return dict(study.best_params), float(study.best_value), study
