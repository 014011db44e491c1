"""Path attribution for LightGBM: exact raw scores, contributions that add up."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from fraudops.models.attribution import TreePaths


def test_paths_reproduce_lightgbm_and_contributions_add_up() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5_000, 8))
    x[rng.random(x.shape) < 0.02] = np.nan  # missing values follow each split's default
    y = (x[:, 0] + np.nan_to_num(x[:, 1]) * 2 > 1.5).astype(int)
    booster = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, verbose=-1).fit(x, y).booster_
    paths = TreePaths(booster)
    raw, contributions = paths.explain(x[:500])
    expected = booster.predict(x[:500], raw_score=True)
    np.testing.assert_allclose(raw, expected, atol=1e-9)
    np.testing.assert_allclose(contributions.sum(axis=1) + paths.bias, raw, atol=1e-9)
    # the informative features carry the attribution, the noise features almost none
    spread = np.abs(contributions).mean(axis=0)
    assert spread[:2].min() > 5 * spread[2:].max()
