"""Offline engine: hand-computed windows, label delay, ties, output contract, pipeline, CLI."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from fraudops.cli.features import features_app
from fraudops.data.generate import SimulationConfig, generate
from fraudops.features import windows
from fraudops.features.offline import build_offline_features
from fraudops.features.spec import IDENTITY_COLUMNS, feature_names
from fraudops.schema import LABEL_FEED_SCHEMA, conform, label_feed_from_transactions

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # a Monday
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
CAP = 30 * 86_400.0


def tx(tx_id: str, at: timedelta, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "transaction_id": tx_id,
        "timestamp": T0 + at,
        "card_id": "c1",
        "merchant_id": "m1",
        "terminal_id": "t1",
        "amount": 10.0,
        "channel": "pos",
        "country": "FR",
    }
    row.update(fields)
    return row


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return conform(pl.DataFrame(list(rows), infer_schema_length=None))


def labels(*events: tuple[str, timedelta, int]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"transaction_id": i, "is_fraud": f, "reported_at": T0 + at} for i, at, f in events],
        schema=LABEL_FEED_SCHEMA,
    )


def column(table: pl.DataFrame, name: str) -> list[float]:
    return table[name].to_list()


def test_card_windows_include_current_and_drop_exactly_window_old() -> None:
    table = build_offline_features(
        frame(
            tx("a", timedelta(0), amount=10.0),
            tx("b", 30 * MIN, amount=20.0),
            tx("c", HOUR, amount=30.0),  # "a" is exactly 1 h old: out of the 1 h window
        )
    )
    assert column(table, "card_tx_count_1h") == [1, 2, 2]
    assert column(table, "card_amount_sum_1h") == [10, 30, 50]
    assert column(table, "card_amount_mean_1h") == [10, 15, 25]
    assert column(table, "card_amount_max_1h") == [10, 20, 30]
    assert column(table, "card_tx_count_24h") == [1, 2, 3]
    assert column(table, "card_amount_sum_24h") == [10, 30, 60]
    assert column(table, "card_seconds_since_prev") == [CAP, 1800, 1800]
    assert column(table, "card_amount_ratio_mean_30d") == pytest.approx([1.0, 20 / 15, 1.5])


def test_ties_are_ordered_by_transaction_id() -> None:
    table = build_offline_features(
        frame(tx("x2", timedelta(0), amount=5.0), tx("x1", timedelta(0), amount=7.0))
    )
    assert table["transaction_id"].to_list() == ["x1", "x2"]
    assert column(table, "card_tx_count_1h") == [1, 2]  # x2 sees x1, not the reverse
    assert column(table, "card_amount_max_1h") == [7, 7]
    assert column(table, "card_seconds_since_prev") == [CAP, 0]
    assert column(table, "terminal_tx_count_1d") == [0, 1]


def test_risk_counts_only_labels_reported_by_the_transaction_time() -> None:
    transactions = frame(
        tx("f", timedelta(0), card_id="c1"),
        tx("g", DAY, card_id="c2"),
        tx("h", 2 * DAY, card_id="c3"),  # label of "f" reported exactly now: known
        tx("i", 7 * DAY, card_id="c4"),  # "f" exactly 7 d old: out of the 7 d window
    )
    table = build_offline_features(transactions, labels(("f", 2 * DAY, 1)))
    assert column(table, "terminal_tx_count_7d") == [0, 1, 2, 2]
    assert column(table, "terminal_fraud_rate_7d") == [0, 0, 0.5, 0]  # at "g": not yet known
    assert column(table, "terminal_fraud_rate_30d") == [0, 0, 0.5, pytest.approx(1 / 3)]
    assert column(table, "terminal_tx_count_1d") == [0, 0, 0, 0]  # exactly 1 d apart
    assert column(table, "merchant_fraud_rate_30d") == column(table, "terminal_fraud_rate_30d")


def test_label_events_earliest_fraud_wins_and_genuine_changes_nothing() -> None:
    transactions = frame(tx("f", timedelta(0)), tx("g", DAY), tx("h", 3 * DAY))
    events = labels(("f", 5 * DAY, 1), ("f", 2 * DAY, 1), ("g", HOUR, 0), ("zz", HOUR, 1))
    table = build_offline_features(transactions, events)
    assert column(table, "terminal_fraud_rate_7d") == [0, 0, 0.5]


def test_label_reported_before_its_transaction_counts_from_the_transaction() -> None:
    transactions = frame(tx("f", timedelta(0)), tx("g", MIN))
    table = build_offline_features(transactions, labels(("f", -HOUR, 1)))
    assert column(table, "terminal_fraud_rate_1d") == [0, 1]  # never for "f" itself


def test_derived_label_feed_equals_explicit_feed() -> None:
    transactions = generate(SimulationConfig(customers=40, days=12, fraud_rate=0.05, seed=5))
    derived = build_offline_features(transactions)
    explicit = build_offline_features(transactions, label_feed_from_transactions(transactions))
    assert derived.equals(explicit)
    assert derived["terminal_fraud_rate_30d"].max() > 0  # the labels did reach features


def test_distinct_and_new_values() -> None:
    table = build_offline_features(
        frame(
            tx("1", timedelta(0), merchant_id="m1", country="FR", device_id=None),
            tx("2", HOUR, merchant_id="m2", country="FR", device_id="d1"),
            tx("3", 2 * HOUR, merchant_id="m1", country="DE", device_id="d1"),
            tx("4", 30 * DAY + 2 * HOUR, merchant_id="m2", country="DE", device_id="d1"),
        )
    )
    assert column(table, "card_distinct_merchants_24h") == [1, 2, 2, 1]
    assert column(table, "card_distinct_countries_24h") == [1, 1, 2, 1]
    assert column(table, "card_distinct_devices_24h") == [0, 1, 1, 1]  # no device: not counted
    assert column(table, "card_new_merchant_30d") == [1, 1, 0, 1]  # "2" left the 30 d window
    assert column(table, "card_new_country_30d") == [1, 0, 1, 1]  # "3" is exactly 30 d old
    assert column(table, "card_new_device_30d") == [0, 1, 0, 1]
    assert column(table, "card_seconds_since_prev")[3] == CAP
    assert column(table, "card_tx_count_30d") == [1, 2, 3, 1]


def test_filtered_windows() -> None:
    table = build_offline_features(
        frame(
            tx("1", timedelta(0), amount=1.5, channel="ecom"),
            tx("2", MIN, amount=1.99, channel="ecom"),
            tx("3", 2 * MIN, amount=2.0, channel="ecom"),
            tx("4", 3 * MIN, amount=1.0, channel="pos"),
        )
    )
    assert column(table, "card_small_amount_count_1h") == [1, 2, 2, 3]  # 2.00 is not < 2
    assert column(table, "card_ecom_tx_count_24h") == [1, 2, 3, 3]


def test_context_features_on_utc_day_and_week_edges() -> None:
    saturday_night = datetime(2026, 1, 3, 23, 59, 59, 999_999, tzinfo=UTC) - T0
    table = build_offline_features(
        frame(
            tx(
                "1",
                saturday_night,
                mcc="5411",
                customer_lat=0.0,
                customer_lon=0.0,
                merchant_lat=0.0,
                merchant_lon=1.0,
            ),
            tx("2", saturday_night + timedelta(microseconds=1), mcc="54x1", channel=None),
            tx("3", saturday_night + DAY + timedelta(microseconds=1), mcc=None, channel="atm"),
        )
    )
    assert column(table, "tx_hour") == [23, 0, 0]
    assert column(table, "tx_is_night") == [0, 1, 1]
    assert column(table, "tx_is_weekend") == [1, 1, 0]  # Saturday, Sunday, Monday
    assert column(table, "mcc_code") == [5411, -1, 0]  # missing mcc defaults to "0000"
    assert column(table, "channel_pos") == [1, 1, 0]  # missing channel defaults to "pos"
    assert column(table, "channel_atm") == [0, 0, 1]
    distance = column(table, "distance_from_home_km")
    assert distance[0] == pytest.approx(2 * math.pi * 6371.0 / 360)
    assert distance[1:] == [-1, -1]
    assert column(table, "tx_amount_log1p")[0] == pytest.approx(math.log1p(10.0))


def test_output_contract() -> None:
    transactions = generate(SimulationConfig(customers=50, days=5, seed=2))
    shuffled = transactions.sample(fraction=1.0, shuffle=True, seed=1)
    table = build_offline_features(shuffled)
    assert table.columns == [*IDENTITY_COLUMNS, *feature_names()]
    assert table.height == transactions.height
    assert all(table.schema[name] == pl.Float64 for name in feature_names())
    values = table.select(feature_names()).to_numpy()
    assert np.isfinite(values).all()  # sentinels, never NaN
    keys = table.select("timestamp", "transaction_id")
    assert keys.equals(keys.sort("timestamp", "transaction_id"))
    assert table.equals(build_offline_features(transactions))  # input order does not matter


def test_empty_input_gives_empty_table() -> None:
    table = build_offline_features(frame(tx("a", timedelta(0))).head(0))
    assert table.height == 0
    assert table.columns == [*IDENTITY_COLUMNS, *feature_names()]


def test_composite_keys_split_into_chunks_give_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transactions = generate(SimulationConfig(customers=60, days=8, fraud_rate=0.05, seed=4))
    expected = build_offline_features(transactions)
    # a tiny key budget forces many chunks of entities per binary search
    monkeypatch.setattr(windows, "_KEY_LIMIT", 40 * 86_400_000_000)
    assert build_offline_features(transactions).equals(expected)


def test_range_max_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    values = rng.random(200)
    start = rng.integers(0, 200, 500)
    end = np.minimum(start + rng.integers(0, 70, 500), 200)
    result = windows._range_max(values, start, end)
    expected = [values[s:e].max() if e > s else -np.inf for s, e in zip(start, end, strict=True)]
    assert result.tolist() == expected


# --- pipeline and CLI ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    from fraudops.pipelines.data import generate_to_store

    root = tmp_path_factory.mktemp("raw")
    generate_to_store(SimulationConfig(customers=80, days=4, seed=9), str(root))
    return str(root)


def test_build_features_writes_daily_partitions_and_feature_list(
    raw_store: str, tmp_path: Path
) -> None:
    from fraudops.data import store
    from fraudops.features.spec import spec_hash
    from fraudops.pipelines.features import build_features

    days: list[str] = []
    summary = build_features(raw_store, str(tmp_path), on_day=lambda d, rows: days.append(d))
    assert summary["partitions"] == 4 == len(days)
    assert store.list_partitions(str(tmp_path)) == days
    written = store.read_dataset(str(tmp_path))
    assert written.height == summary["rows"] == store.read_dataset(raw_store).height
    assert written.columns == [*IDENTITY_COLUMNS, *feature_names()]
    listing = json.loads((tmp_path / "feature_list.json").read_text())
    assert listing["spec_hash"] == spec_hash()
    assert [f["name"] for f in listing["features"]] == feature_names()
    assert {f["dtype"] for f in listing["features"]} == {"float64"}
    again = build_features(raw_store, str(tmp_path))  # re-running replaces, never appends
    assert again["dataset_hash"] == summary["dataset_hash"]


def test_build_features_reads_validated_data_and_a_label_file(
    raw_store: str, tmp_path: Path
) -> None:
    from fraudops.data import store
    from fraudops.pipelines.data import validate_dataset
    from fraudops.pipelines.features import build_features

    validate_dataset(raw_store, str(tmp_path / "validated"))
    feed = label_feed_from_transactions(store.read_dataset(raw_store))
    feed.write_parquet(tmp_path / "labels.parquet")
    summary = build_features(
        str(tmp_path / "validated"),
        str(tmp_path / "features"),
        labels_uri=str(tmp_path / "labels.parquet"),
    )
    assert summary["source"].endswith("clean")
    derived = build_features(raw_store, str(tmp_path / "derived"))
    assert store.read_dataset(str(tmp_path / "features")).equals(
        store.read_dataset(str(tmp_path / "derived"))
    )
    assert derived["rows"] == summary["rows"]


def test_build_features_refuses_a_table_of_another_spec(raw_store: str, tmp_path: Path) -> None:
    from fraudops.pipelines.features import build_features

    (tmp_path / "feature_list.json").write_text(json.dumps({"spec_hash": "0123456789abcdef"}))
    with pytest.raises(ValueError, match="spec 0123456789abcdef"):
        build_features(raw_store, str(tmp_path))


def test_cli_build_prints_a_summary(raw_store: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        features_app, ["build", "--input", raw_store, "--out", str(tmp_path / "f")]
    )
    assert result.exit_code == 0, result.output
    assert "Features" in result.output
    assert (tmp_path / "f" / "feature_list.json").exists()


def test_cli_build_reports_a_missing_input_on_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        features_app, ["build", "--input", str(tmp_path / "nothing"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "error:" in result.output
    assert "Traceback" not in result.output


def test_label_feed_as_csv(raw_store: str, tmp_path: Path) -> None:
    from fraudops.data import store
    from fraudops.pipelines.features import read_labels

    feed = label_feed_from_transactions(store.read_dataset(raw_store))
    feed.write_csv(tmp_path / "labels.csv")
    assert read_labels(str(tmp_path / "labels.csv")).equals(feed)
    pl.DataFrame({"transaction_id": ["x"]}).write_csv(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="lacks columns"):
        read_labels(str(tmp_path / "bad.csv"))


def test_backfill_online_store_from_the_data_store(raw_store: str) -> None:
    from fraudops.data import store
    from fraudops.features.online import MemoryOnlineStore, OnlineFeatureEngine
    from fraudops.pipelines.features import backfill_online_store

    engine = OnlineFeatureEngine(MemoryOnlineStore())
    assert backfill_online_store(engine, raw_store) == store.read_dataset(raw_store).height
    history = store.read_dataset(raw_store).sort("timestamp")
    last = history.row(history.height - 1, named=True)
    later = {**last, "transaction_id": "next", "timestamp": last["timestamp"] + MIN}
    vector = dict(zip(feature_names(), engine.process(later).tolist(), strict=True))
    assert vector["card_tx_count_30d"] >= 2  # the card's stored history is there


def test_cli_lists_the_features() -> None:
    result = CliRunner().invoke(features_app, ["list"])
    assert result.exit_code == 0
    assert "card_tx_count_1h" in result.output
    assert "distance_from_home_km" in result.output
