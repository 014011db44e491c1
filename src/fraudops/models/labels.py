"""Label time, one definition: which labels a step may use, and where they have matured.

Every step that reads a label — fitting, calibration, thresholds, model selection, folds,
the promotion gate — asks :func:`labels_known_at` with the cutoff that applies to it; the
held-out days lie where :func:`label_maturity_days` says labels have had time to arrive.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from fraudops.schema import first_fraud_reports

logger = logging.getLogger(__name__)


class NoKnownFraudError(ValueError):
    """A window whose rows carry no fraud reported by its label cutoff: nothing to learn."""


def labels_known_at(frame: pl.DataFrame, cutoff: datetime | None) -> np.ndarray:
    """1 for frauds whose label was reported by ``cutoff``; everything else counts as 0.

    ``cutoff=None`` takes the final labels (a backtest judged on settled history).
    """
    if cutoff is None:
        known = pl.col("is_fraud") == 1
    else:
        known = (pl.col("is_fraud") == 1) & (pl.col("label_available_at") <= cutoff)
    return frame.select(known.fill_null(False)).to_series().to_numpy().astype(np.int64)


def require_known_fraud(y: np.ndarray, what: str, start: Any, end: Any, cutoff: Any) -> None:
    """A clear error instead of a library's traceback when there is nothing to learn."""
    if int(y.sum()) == 0:
        raise NoKnownFraudError(
            f"{what} [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) has {y.size:,} rows but "
            f"no fraud reported by {cutoff:%Y-%m-%d %H:%M}; widen the window or move the "
            "label cutoff later"
        )


def holdout_window(
    times: pl.Series,
    known: np.ndarray,
    cutoff: datetime,
    maturity_days: int = 7,
    share: float = 0.2,
    min_frauds: int = 50,
    max_share: float = 0.5,
) -> tuple[datetime, datetime]:
    """The most recent matured days of a training window, held out for calibration,
    thresholds and model selection: ``[start, end)``.

    It ends where labels have had ``maturity_days`` to arrive before the cutoff (or at the
    end of the data), covers ``share`` of the window, and reaches further back — up to
    ``max_share`` — until it holds ``min_frauds`` known frauds, so that the scores judged
    on it are not a handful of frauds' luck.
    """
    first, last = times.min(), times.max()
    assert isinstance(first, datetime)
    assert isinstance(last, datetime)
    data_end = last + timedelta(microseconds=1)
    window = data_end - first
    end = min(data_end, cutoff - timedelta(days=maturity_days))
    if end - first < window * share:  # (almost) nothing has matured: the freshest days
        logger.warning(
            "no %d-day matured block in the training window before %s: holding out its "
            "most recent days, whose labels are still arriving",
            maturity_days,
            cutoff,
        )
        end = data_end
    start = end - window * share
    before_end = np.sort(times.to_numpy()[(known == 1) & (times < end).to_numpy()])
    if before_end.size >= min_frauds:
        latest_enough = before_end[-min_frauds].astype("datetime64[us]").item()
        start = min(start, latest_enough.replace(tzinfo=first.tzinfo))
    return max(start, end - window * max_share, first), end


def label_maturity_days(
    frame: pl.DataFrame,
    cutoff: datetime,
    floor_days: int = 7,
    quantile: float = 0.7,
    horizon_days: int = 60,
) -> int:
    """Days after which most labels have arrived, read off the data's own reporting delays.

    Chargebacks take weeks, so a fixed week is not "matured" everywhere: the held-out days
    must lie where ``quantile`` of the frauds have been reported. Measured on frauds at
    least ``horizon_days`` before the cutoff (their delays are not cut short by it), or on
    every fraud reported by the cutoff when too few are that old; never below
    ``floor_days``.
    """
    reported = (pl.col("is_fraud") == 1) & (pl.col("label_available_at") <= cutoff)
    old = frame.filter(reported & (pl.col("timestamp") <= cutoff - timedelta(days=horizon_days)))
    sample = old if old.height >= 30 else frame.filter(reported)
    if sample.height < 10:
        return floor_days
    delays = (sample["label_available_at"] - sample["timestamp"]).dt.total_seconds() / 86_400
    return max(floor_days, int(np.ceil(float(np.quantile(delays.to_numpy(), quantile)))))


def with_label_feed(frame: pl.DataFrame, feed: pl.DataFrame | None) -> pl.DataFrame:
    """The frame's labels joined with a label feed (chargebacks, analyst verdicts: any
    ``source``): a row is fraud from the earliest fraud report of either, at that report's
    time, so an analyst's verdict counts from the day it was given. A feed's genuine
    reports change nothing (an unlabelled row already counts as genuine), and a feed with
    no fraud report leaves the frame as it is."""
    if feed is None or feed.height == 0 or frame.height == 0:
        return frame
    reports = first_fraud_reports(feed).rename({"reported_at": "__reported"})
    if reports.height == 0:
        return frame
    available = frame.schema["label_available_at"]
    joined = frame.join(reports, on="transaction_id", how="left", maintain_order="left")
    reported = pl.col("__reported").cast(available)
    own = pl.when(pl.col("is_fraud") == 1).then(pl.col("label_available_at"))
    return joined.with_columns(
        pl.when(reported.is_not_null())
        .then(1)
        .otherwise(pl.col("is_fraud"))
        .cast(frame.schema["is_fraud"])
        .alias("is_fraud"),
        pl.min_horizontal(own, reported).alias("label_available_at"),
    ).drop("__reported")
