"""Backtest pipeline: a rules file, stored history and a registered model -> a report.

The I/O edge of :mod:`fraudops.decisions.backtest`: reads the transactions (a stored,
date-partitioned dataset or one parquet file), computes their offline features from the
history before the window, scores them with the registered model through the bulk
scorer (:func:`fraudops.pipelines.scoring.score_frame`) unless the data already carries a
``fraud_probability``, adds list flags from an optional snapshot and hands the frame to
the pure backtest.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from fraudops.config import Settings
from fraudops.data import store
from fraudops.decisions.backtest import (
    BacktestReport,
    add_context_columns,
    backtest_frame,
    list_flag_columns,
    policy_flags,
)
from fraudops.decisions.rules import compile_rules, load_rules
from fraudops.features.spec import feature_names
from fraudops.models.decision import DecisionThresholds
from fraudops.schema import TRANSACTION_COLUMNS

logger = logging.getLogger(__name__)


def read_history(
    settings: Settings, data: str, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """Transactions of ``[start, end)`` and the look-back their features need; ``data`` is
    a stored dataset (``data generate``/``ingest`` output) or a single parquet file."""
    from fraudops.features.online import warm_up_days

    options = settings.storage_options()
    if data.endswith(".parquet") and not store.exists(
        store.join_uri(data, store.MANIFEST_NAME), options
    ):
        if not store.exists(data, options):
            raise FileNotFoundError(f"no parquet file at {data}")
        frame = pl.read_parquet(data, storage_options=options or None, glob=False)
    else:
        uri = store.resolve_transactions_uri(data, options)
        first = None if start is None else (start - timedelta(days=warm_up_days())).date()
        last = None if end is None else end.date()
        frame = store.read_dataset(uri, first, last, options)
    if frame.height == 0:
        raise FileNotFoundError(f"no transactions found under {data}")
    return frame


def _window(frame: pl.DataFrame, start: datetime | None, end: datetime | None) -> pl.DataFrame:
    t = pl.col("timestamp")
    if start is not None:
        frame = frame.filter(t >= start)
    if end is not None:
        frame = frame.filter(t < end)
    return frame


def context_frame(
    transactions: pl.DataFrame,
    start: datetime | None,
    end: datetime | None,
    model: Any | None,
    model_version: int | None,
    settings: Settings,
) -> pl.DataFrame:
    """The window's rows with every context column: transaction fields, the 56 features
    (computed when absent), ``probability`` (the data's ``fraud_probability`` or the
    model's), ``hour``, ``weekday`` and ``score``."""
    names = feature_names()
    if all(n in transactions.columns for n in names):
        rows = _window(transactions, start, end)
    else:
        from fraudops.features.offline import build_offline_features

        features = _window(build_offline_features(transactions), start, end)
        extra = [
            c
            for c in (*TRANSACTION_COLUMNS, "fraud_probability")
            if c in transactions.columns and c not in features.columns
        ]
        rows = features.join(
            transactions.select("transaction_id", *extra), on="transaction_id", how="left"
        )
    if rows.height == 0:
        raise ValueError("no transactions in the backtest window")
    if "fraud_probability" not in rows.columns:
        if model is None:
            raise ValueError("the data has no fraud_probability and no model was given")
        from fraudops.pipelines.scoring import score_frame

        scored = score_frame(model, rows, model_version, settings.model_name, "backtest", "none")
        rows = rows.with_columns(scored["fraud_probability"])
    rows = rows.with_columns(pl.col("fraud_probability").cast(pl.Float64).alias("probability"))
    return add_context_columns(rows)


def read_list_entries(path: str | Path) -> list[dict[str, Any]]:
    """List entries from a snapshot: a JSON array of ``{list, kind, value, expires_at}``
    or an object holding it under ``entries``."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no list snapshot at {path}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"list snapshot {path} is not JSON: {error}") from None
    entries = document.get("entries") if isinstance(document, dict) else document
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and {"list", "kind", "value"} <= e.keys() for e in entries
    ):
        raise ValueError(
            f"list snapshot {path}: expected a list of {{list, kind, value, expires_at}} entries"
        )
    return entries


def run_backtest(
    settings: Settings,
    rules_path: str | Path,
    data: str,
    start: datetime | None = None,
    end: datetime | None = None,
    model_version: int | None = None,
    alias: str = "champion",
    lists: str | Path | None = None,
    thresholds: DecisionThresholds | None = None,
) -> BacktestReport:
    """Backtest ``rules_path`` on ``data`` over ``[start, end)``, with labels known at
    ``end`` (or at the last transaction when the window is open)."""
    compiled = compile_rules(load_rules(rules_path))  # a bad file fails before any work
    entries = read_list_entries(lists) if lists is not None else []
    transactions = read_history(settings, data, start, end)
    model, version = None, model_version
    if "fraud_probability" not in transactions.columns or thresholds is None:
        from fraudops.models.registry import Registry, RegistryError
        from fraudops.models.tracking import configure_mlflow

        configure_mlflow(settings)
        registry = Registry.from_settings(settings)
        if version is None:
            version = registry.version_by_alias(alias)
            if version is None:
                raise RegistryError(f"no {alias!r} model registered; run `fraudops train` first")
        model = registry.load(version)
        thresholds = thresholds or model.decision_thresholds
    frame = context_frame(transactions, start, end, model, version, settings)
    frame = list_flag_columns(frame, entries, policy_flags(compiled))
    cutoff = end
    if cutoff is None:
        last = frame["timestamp"].max()
        assert isinstance(last, datetime)
        cutoff = last + timedelta(microseconds=1)
    logger.info("backtesting %d rules on %d transactions", len(compiled.rules), frame.height)
    return backtest_frame(frame, compiled, thresholds, cutoff, (start, end))
