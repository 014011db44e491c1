"""Data contract of the simulator: schema, fraud scenarios, label delay, determinism."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl
import pytest

from fraudops.data.generate import SimulationConfig, World, generate, generate_day
from fraudops.schema import ALL_COLUMNS, CHANNELS, ENTRY_MODES, FRAUD_SCENARIOS, POLARS_SCHEMA


def test_columns_and_dtypes_are_canonical(small_transactions: pl.DataFrame) -> None:
    assert tuple(small_transactions.columns) == ALL_COLUMNS
    assert dict(small_transactions.schema) == POLARS_SCHEMA


def test_values_respect_the_schema(small_transactions: pl.DataFrame) -> None:
    tx = small_transactions
    assert tx["transaction_id"].n_unique() == tx.height
    assert tx["amount"].min() > 0  # type: ignore[operator]
    assert set(tx["channel"].unique()) <= set(CHANNELS)
    assert set(tx["entry_mode"].unique()) <= set(ENTRY_MODES)
    assert tx["mcc"].str.contains(r"^\d{4}$").all()
    ecom = tx.filter(pl.col("channel") == "ecom")
    assert ecom["device_id"].null_count() == 0
    assert ecom["merchant_lat"].null_count() == ecom.height
    assert tx.filter(pl.col("channel") == "pos")["device_id"].null_count() > 0


def test_days_are_sorted_and_inside_their_day(small_config: SimulationConfig) -> None:
    world = World(small_config)
    frame = generate_day(world, 2)
    assert frame["timestamp"].is_sorted()
    assert set(frame["timestamp"].dt.date().unique()) == {date(2026, 3, 3)}


def test_every_scenario_appears_with_a_plausible_rate(small_transactions: pl.DataFrame) -> None:
    fraud = small_transactions.filter(pl.col("is_fraud") == 1)
    scenarios = set(fraud["fraud_scenario"].unique())
    assert scenarios == set(FRAUD_SCENARIOS) - {"drift_new_pattern"}
    rate = fraud.height / small_transactions.height
    assert 0.01 < rate < 0.04, rate  # configured 2%
    genuine = small_transactions.filter(pl.col("is_fraud") == 0)
    assert genuine["fraud_scenario"].null_count() == genuine.height


def test_fraud_rate_follows_the_setting() -> None:
    low = generate(SimulationConfig(customers=3_000, days=5, seed=1, fraud_rate=0.002))
    high = generate(SimulationConfig(customers=3_000, days=5, seed=1, fraud_rate=0.02))
    assert low["is_fraud"].mean() < high["is_fraud"].mean() / 3  # type: ignore[operator]


def _report_delays(frame: pl.DataFrame) -> tuple[np.ndarray, int, int]:
    """Reporting delays in days of the reported frauds, the frauds, the reported frauds."""
    fraud = frame.filter(pl.col("is_fraud") == 1)
    reported = fraud.filter(pl.col("label_available_at").is_not_null())
    genuine = frame.filter(pl.col("is_fraud") == 0)
    assert genuine["label_available_at"].null_count() == genuine.height
    delays = (reported["label_available_at"] - reported["timestamp"]).dt.total_seconds() / 86_400
    return delays.to_numpy(), fraud.height, reported.height


def test_gamma_label_delay_is_positive_and_some_frauds_are_never_reported(
    small_config: SimulationConfig,
) -> None:
    frame = generate(replace(small_config, label_delay_model="gamma"))
    delays, frauds, reported = _report_delays(frame)
    assert delays.min() >= 0.25 - 1e-9
    assert 2 < delays.mean() < 7  # configured mean 4 days
    assert 0 < frauds - reported < frauds * 0.2


def test_constant_label_delay_reports_every_fraud_exactly_that_late(
    small_config: SimulationConfig,
) -> None:
    config = replace(
        small_config, label_delay_model="constant", label_delay_mean_days=7, unreported_fraction=0
    )
    delays, frauds, reported = _report_delays(generate(config))
    assert reported == frauds > 0
    np.testing.assert_allclose(delays, 7.0, atol=1e-6)


def test_realistic_label_delay_has_a_fast_part_and_a_chargeback_part_of_weeks(
    small_config: SimulationConfig,
) -> None:
    config = replace(small_config, label_delay_model="realistic", fraud_rate=0.05)
    delays, frauds, reported = _report_delays(generate(config))
    assert 0 < frauds - reported < frauds * 0.2  # ~5 % never reported
    fast = (delays < 7).mean()
    assert 0.3 < fast < 0.55  # configured fast share 0.4 (and a few quick chargebacks)
    assert delays.min() >= 0.1 - 1e-9
    slow = delays[delays >= 7]
    assert 20 < np.median(slow) < 35  # chargebacks: weeks, mean 28 days
    assert delays.max() < 120


def test_unknown_label_delay_model_is_refused() -> None:
    with pytest.raises(ValueError, match="label_delay_model"):
        SimulationConfig(label_delay_model="instant")


def test_same_seed_same_data_and_other_seed_other_data(small_config: SimulationConfig) -> None:
    first = generate(small_config)
    assert first.equals(generate(small_config))
    assert not first.equals(generate(replace(small_config, seed=small_config.seed + 1)))


def test_a_day_generated_alone_equals_the_same_day_of_a_full_run(
    small_config: SimulationConfig, small_transactions: pl.DataFrame
) -> None:
    alone = generate_day(World(small_config), 4)
    in_run = small_transactions.filter(pl.col("timestamp").dt.date() == date(2026, 3, 5))
    assert alone.equals(in_run)


def test_compromised_terminal_frauds_last_across_days() -> None:
    cfg = SimulationConfig(customers=4_000, days=10, seed=3, fraud_rate=0.02)
    tx = generate(cfg).filter(pl.col("fraud_scenario") == "compromised_terminal")
    days_per_terminal = tx.group_by("terminal_id").agg(pl.col("timestamp").dt.date().n_unique())
    assert days_per_terminal["timestamp"].max() >= 3  # type: ignore[operator]


def test_drift_new_pattern_starts_on_the_drift_day() -> None:
    cfg = SimulationConfig(customers=2_000, days=6, seed=5, drift_day=3)
    tx = generate(cfg)
    new = tx.filter(pl.col("fraud_scenario") == "drift_new_pattern")
    assert new.height > 0
    assert new["timestamp"].min().date() == date(2026, 1, 4)  # type: ignore[union-attr]
    assert (new["channel"] == "contactless").all()


def test_amount_shift_drift_raises_amounts() -> None:
    base = SimulationConfig(customers=2_000, days=4, seed=5)
    shifted = replace(base, drift_day=2, drift_kinds=("amount_shift",))
    before = generate(base).filter(pl.col("timestamp").dt.date() >= date(2026, 1, 3))
    after = generate(shifted).filter(pl.col("timestamp").dt.date() >= date(2026, 1, 3))
    assert after["amount"].median() > 1.3 * before["amount"].median()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("field", "value"),
    [("customers", 1), ("days", 0), ("fraud_rate", 0.7), ("drift_kinds", ("meteor",))],
)
def test_bad_configuration_is_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field.rstrip("s").split("_")[0]):
        SimulationConfig(**{field: value})  # type: ignore[arg-type]
