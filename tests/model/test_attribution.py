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


def test_one_row_through_the_single_row_fast_path_equals_the_batch_path() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3_000, 6))
    x[rng.random(x.shape) < 0.05] = np.nan
    y = (np.nan_to_num(x[:, 0]) - x[:, 2] > 0.8).astype(int)
    booster = lgb.LGBMClassifier(n_estimators=25, num_leaves=7, verbose=-1).fit(x, y).booster_
    paths = TreePaths(booster)
    assert paths._single_row is not None  # the C fast path is what the API relies on
    raw, contributions = paths.explain(x[:200])
    for i in range(0, 200, 7):
        one_raw, one_contributions = paths.explain(x[i : i + 1])
        np.testing.assert_allclose(one_raw, raw[i : i + 1], atol=1e-12)
        np.testing.assert_allclose(one_contributions[0], contributions[i], atol=1e-12)
    np.testing.assert_array_equal(
        paths.leaves(x[:200]) - paths.tree_offset,
        booster.predict(x[:200], pred_leaf=True),
    )
