"""Optuna tuning (models/tune.py) on real prequential folds: every trial runs, hopeless
trials are pruned after a fold, and the parameters returned are the best trial's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import optuna
import polars as pl
import pytest

from fraudops.features.spec import feature_names
from fraudops.models.train import TimeSplit, cross_validate, prequential_folds
from fraudops.models.tune import tune

SPLIT = TimeSplit(
    train_start=datetime(2026, 1, 1, tzinfo=UTC),
    train_end=datetime(2026, 1, 26, tzinfo=UTC),
    delay_days=3,
    test_end=datetime(2026, 1, 29, tzinfo=UTC),
)
TRIALS = 8


@pytest.fixture(scope="module")
def tuned(some_cards_features: pl.DataFrame) -> dict[str, Any]:
    seen: list[tuple[int, float]] = []
    params, best, study = tune(
        "lr",
        some_cards_features,
        feature_names(),
        SPLIT,
        trials=TRIALS,
        seed=3,
        on_trial=lambda number, value: seen.append((number, value)),
    )
    return {"params": params, "best": best, "study": study, "seen": seen}


def trials_in(study: optuna.Study, state: optuna.trial.TrialState) -> list[Any]:
    return [trial for trial in study.trials if trial.state == state]


def test_every_trial_runs_and_is_reported(tuned: dict[str, Any]) -> None:
    study = tuned["study"]
    assert len(study.trials) == TRIALS
    assert [number for number, _ in tuned["seen"]] == list(range(TRIALS))
    complete = trials_in(study, optuna.trial.TrialState.COMPLETE)
    assert len(complete) >= 3  # the pruner's start-up trials always finish
    assert len({trial.params["C"] for trial in study.trials}) == TRIALS  # a search, not a loop


def test_hopeless_trials_are_pruned_before_their_last_fold(tuned: dict[str, Any]) -> None:
    study = tuned["study"]
    folds = len(prequential_folds(SPLIT))
    assert folds == 3
    pruned = trials_in(study, optuna.trial.TrialState.PRUNED)
    assert pruned, "the median pruner should stop some of the trials"
    # pruned after a fold whose running mean was under the median of earlier trials
    assert any(len(trial.intermediate_values) < folds for trial in pruned)
    for trial in trials_in(study, optuna.trial.TrialState.COMPLETE):
        assert sorted(trial.intermediate_values) == list(range(folds))


def test_the_best_trial_params_are_returned_and_score_what_they_claim(
    tuned: dict[str, Any], some_cards_features: pl.DataFrame
) -> None:
    study, params, best = tuned["study"], tuned["params"], tuned["best"]
    complete = trials_in(study, optuna.trial.TrialState.COMPLETE)
    assert best == max(trial.value for trial in complete)
    assert params == study.best_trial.params
    assert set(params) == {"C"}
    # the same folds with those parameters give that score again (nothing is reported
    # that the returned parameters do not achieve)
    again = cross_validate("lr", some_cards_features, feature_names(), SPLIT, params)
    assert float(np.nanmean(again)) == pytest.approx(best, rel=1e-9)
    # and no worse than the untuned default
    default = cross_validate("lr", some_cards_features, feature_names(), SPLIT)
    assert best >= float(np.nanmean(default))
