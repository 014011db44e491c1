"""The declarative spec: names, order, hash, descriptions and refused definitions."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from fraudops.features import spec
from fraudops.features.definition import FeatureDef, Filter
from fraudops.features.spec import (
    FEATURES,
    IDENTITY_COLUMNS,
    LABEL_MATURITY,
    check_features,
    describe_features,
    feature_names,
    max_retention,
    spec_hash,
)

DAY = timedelta(days=1)


def test_names_are_unique_and_in_spec_order() -> None:
    names = feature_names()
    assert names == [f.name for f in FEATURES]
    assert len(set(names)) == len(names)
    assert not set(names) & set(IDENTITY_COLUMNS)
    check_features(FEATURES)


def test_the_issue_features_are_declared() -> None:
    names = set(feature_names())
    for window in ("1h", "24h", "7d", "30d"):
        for stat in ("tx_count", "amount_sum", "amount_mean", "amount_max"):
            assert f"card_{stat}_{window}" in names
    for entity in ("terminal", "merchant"):
        for window in ("1d", "7d", "30d"):
            assert {f"{entity}_tx_count_{window}", f"{entity}_fraud_rate_{window}"} <= names
    assert {
        "card_amount_ratio_mean_30d",
        "card_seconds_since_prev",
        "card_distinct_merchants_24h",
        "card_distinct_countries_24h",
        "card_distinct_devices_24h",
        "card_new_device_30d",
        "card_new_country_30d",
        "tx_hour",
        "tx_is_night",
        "tx_is_weekend",
        "channel_ecom",
        "mcc_code",
        "distance_from_home_km",
    } <= names


def test_every_feature_is_a_described_float() -> None:
    described = describe_features()
    assert [d["name"] for d in described] == feature_names()
    for entry in described:
        assert entry["dtype"] == "float64"
        assert len(entry["description"]) > 10


def test_inclusion_rules_are_explicit() -> None:
    by_name = {f.name: f for f in FEATURES}
    assert by_name["card_tx_count_1h"].include_current
    assert not by_name["card_seconds_since_prev"].include_current
    assert not by_name["terminal_fraud_rate_7d"].include_current
    assert not by_name["merchant_tx_count_30d"].include_current


def test_hash_is_stable_and_follows_the_definitions() -> None:
    assert spec_hash() == spec_hash(FEATURES)
    assert len(spec_hash()) == 16
    changed = (*FEATURES[:-1], dataclasses.replace(FEATURES[-1], description="other words"))
    assert spec_hash(changed) == spec_hash()  # descriptions do not change values
    longer = dataclasses.replace(FEATURES[0], window=2 * FEATURES[0].window)  # type: ignore[operator]
    assert spec_hash((longer, *FEATURES[1:])) != spec_hash()
    assert spec_hash(FEATURES[:-1]) != spec_hash()


def test_hash_follows_the_semantics_version(monkeypatch: pytest.MonkeyPatch) -> None:
    before = spec_hash()
    monkeypatch.setattr(spec, "SEMANTICS_VERSION", "next")
    assert spec_hash() != before


def test_longest_look_back() -> None:
    # the 30-day matured fraud rates reach back 30 days before the last week
    assert max_retention() == 30 * DAY + LABEL_MATURITY == 37 * DAY


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "count", "entity": "card_id"}, "positive window"),
        ({"kind": "count", "window": DAY}, "needs an entity"),
        ({"kind": "sum", "entity": "card_id", "window": DAY, "column": "country"}, "numeric"),
        ({"kind": "distinct", "entity": "card_id", "window": DAY, "column": "amount"}, "string"),
        (
            {
                "kind": "count",
                "entity": "card_id",
                "window": DAY,
                "include_current": True,
                "delay": DAY,
            },
            "delayed window",
        ),
        (
            {"kind": "fraud_rate", "entity": "terminal_id", "window": DAY, "include_current": True},
            "exclude the current",
        ),
        (
            {
                "kind": "is_new",
                "entity": "card_id",
                "window": DAY,
                "column": "country",
                "delay": DAY,
            },
            "strictly before",
        ),
        (
            {
                "kind": "count",
                "entity": "card_id",
                "window": DAY,
                "where": Filter("country", "<", "FR"),
            },
            "ordering filters",
        ),
        ({"kind": "hour", "entity": "card_id"}, "context kind"),
        ({"kind": "equals", "column": "channel"}, "needs a value"),
        ({"kind": "count", "entity": "card_id", "window": DAY, "column": "amount"}, "no column"),
    ],
)
def test_undefined_combinations_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureDef("f", description="d", **kwargs)  # type: ignore[arg-type]


def test_duplicate_or_clashing_names_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        check_features((FEATURES[0], FEATURES[0]))
    clash = FeatureDef("amount", "value", "d", column="amount")
    with pytest.raises(ValueError, match="identity"):
        check_features((clash,))


def test_adding_a_feature_is_one_entry() -> None:
    """A new definition flows through both engines with no other code."""
    import numpy as np
    import polars as pl

    from features_support import replay
    from fraudops.data.generate import SimulationConfig, generate
    from fraudops.features.offline import build_offline_features
    from fraudops.features.online import MemoryOnlineStore, OnlineFeatureEngine

    extra = FeatureDef(
        "card_atm_amount_sum_7d",
        "sum",
        "ATM withdrawals of the card over 7 days.",
        entity="card_id",
        column="amount",
        window=7 * DAY,
        include_current=True,
        where=Filter("channel", "==", "atm"),
    )
    features = (*FEATURES, extra)
    transactions = generate(SimulationConfig(customers=30, days=10, seed=6))
    offline = build_offline_features(transactions, features=features)
    online = replay(OnlineFeatureEngine(MemoryOnlineStore(), features), transactions)
    assert offline.columns[-1] == "card_atm_amount_sum_7d"
    assert offline["card_atm_amount_sum_7d"].max() > 0  # type: ignore[operator]
    assert isinstance(offline, pl.DataFrame)
    assert np.allclose(online[:, -1], offline["card_atm_amount_sum_7d"].to_numpy())
