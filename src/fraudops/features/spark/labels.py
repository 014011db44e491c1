"""Label-aware fraud counts with one linear sweep per entity, not a frame per row.

A fraud ``j`` counts for row ``i`` of the same entity when ``j`` is in ``i``'s window and
its label was known by ``t_i``. Rows are in time order, so the rows that count ``j`` are
one run: they start at the first row at or after ``s_j = max(known_j, ts_j + D)`` (for
``D = 0`` and a label known at the transaction itself: the first row after ``j``) and stop
before the first row at or after ``e_j = ts_j + D + W``, when ``j`` has left the window.
So each fraud becomes two events, +1 at ``s_j`` and -1 at ``e_j`` (none when ``s_j >=
e_j``: the label came after the window passed), and a row's count is the running sum of
the events before it, in ``(time, position)`` order: one growing window over the union of
rows and events. A sliding frame collecting every window's reports would cost the window's
length per row (30 days of a busy merchant). The polars engine does the same with a
difference array over row ranges (:meth:`fraudops.features.windows.EntityWindows._fraud_count`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fraudops.features.spark.prepare import KNOWN, TS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Order of rows and events at the same microsecond: group 0 (events that apply to every
# row at that time) first, then rows and same-time label events by id, a row before the
# event of its own label (kind 0 before 1).
_TIME, _GROUP, _KIND = "__event_time", "__event_group", "__event_kind"


def fraud_count_column(entity: str, window_us: int, delay_us: int) -> str:
    """Name of the helper column holding the known-fraud count of one window."""
    return f"__frauds_{entity}_{window_us}_{delay_us}"


def with_known_fraud_counts(
    frame: DataFrame, entity: str, windows: Sequence[tuple[int, int]]
) -> DataFrame:
    """``frame`` plus, per ``(window_us, delay_us)``, the count of the entity's frauds in
    that window whose label was known at the row's time (column
    :func:`fraud_count_column`)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    if not windows:
        return frame
    deltas = [f"__delta_{k}" for k in range(len(windows))]
    events = []
    for k, (window, delay) in enumerate(windows):
        start = sf.greatest(sf.col(KNOWN), sf.col(TS) + sf.lit(delay))
        end = sf.col(TS) + sf.lit(delay + window)
        in_window = start < end
        at_own_row = sf.lit(delay == 0) & (sf.col(KNOWN) == sf.col(TS))
        events += [
            sf.struct(
                sf.when(in_window, start).alias("time"),
                sf.when(at_own_row, 1).otherwise(0).alias("group"),
                sf.lit(1).alias("delta"),
                sf.lit(k).alias("k"),
            ),
            sf.struct(
                sf.when(in_window, end).alias("time"),
                sf.lit(0).alias("group"),
                sf.lit(-1).alias("delta"),
                sf.lit(k).alias("k"),
            ),
        ]
    exploded = (
        frame.filter(sf.col(KNOWN).isNotNull())
        .select(entity, "transaction_id", sf.explode(sf.array(*events)).alias("event"))
        .filter(sf.col("event.time").isNotNull())
    )
    label_events = exploded.select(
        entity,
        "transaction_id",
        sf.col("event.time").alias(_TIME),
        sf.col("event.group").alias(_GROUP),
        sf.lit(1).alias(_KIND),
        *[
            sf.when(sf.col("event.k") == k, sf.col("event.delta")).otherwise(0).alias(delta)
            for k, delta in enumerate(deltas)
        ],
    )
    rows = frame.withColumns(
        {_TIME: sf.col(TS), _GROUP: sf.lit(1), _KIND: sf.lit(0)}
        | {delta: sf.lit(0) for delta in deltas}
    )
    swept = Window.partitionBy(entity).orderBy(_TIME, _GROUP, "transaction_id", _KIND)
    growing = swept.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    counts = {
        fraud_count_column(entity, window, delay): sf.sum(sf.col(delta)).over(growing)
        for (window, delay), delta in zip(windows, deltas, strict=True)
    }
    return (
        rows.unionByName(label_events, allowMissingColumns=True)
        .withColumns(counts)
        .filter(sf.col(_KIND) == 0)
        .drop(_TIME, _GROUP, _KIND, *deltas)
    )
