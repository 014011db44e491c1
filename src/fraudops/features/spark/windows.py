"""Windowed features of one entity with Spark window functions.

The semantics are those of :mod:`fraudops.features.spec`, computed the way
:mod:`fraudops.features.windows` computes them so that values agree to the bit:

- Rows of an entity are ordered by ``(timestamp, transaction_id)``; ``__idx`` is the
  1-based position in that order.
- Counts and sums are differences of running values (running count = ``__idx``, running
  (filtered) sums restarting at each entity, added in the same order as polars adds
  them). The running value "just before the window" is the one of the last row with
  ``ts <= t - D - W``: ``max_by(running, __idx)`` over a ``rangeBetween`` frame on epoch
  microseconds that ends ``D + W`` before the row. A growing frame: linear, not per window.
- Maxima and distinct values cannot be differenced; they use a sliding frame (the spec
  only asks them over a card's history, a few rows a day). With a delay ``D > 0`` the
  window ``(t - D - W, t - D]`` is one
  ``rangeBetween(-(D + W - 1), -D)`` frame. Without one, rows at the very same microsecond
  are ordered by id, which a range frame cannot see, so the window is split in two: the
  earlier microseconds (``rangeBetween(-(W - 1), -1)``) and the same microsecond up to the
  row (a frame partitioned by entity and time, ordered by id).
- A fraud counts only when its label was known by the row's time: a sweep over label
  events (:mod:`fraudops.features.spark.labels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from fraudops.features.definition import LABEL_KINDS, FeatureDef, Filter
from fraudops.features.spark.labels import fraud_count_column, with_known_fraud_counts
from fraudops.features.spark.prepare import TS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.window import WindowSpec

IDX = "__idx"
# Each windowed kind the Spark engine computes, and how (the spec check refuses others).
WINDOWED_SPARK_KINDS: dict[str, str] = {
    "count": "difference of running (filtered) counts",
    "sum": "difference of running (filtered) sums, added in polars' order",
    "mean": "window sum over window count",
    "ratio_to_mean": "value over the window mean",
    "max": "max over the window's sliding frames",
    "distinct": "size of the union of the frames' collect_set",
    "is_new": "lag of the time within (entity, value)",
    "seconds_since_prev": "lag of the time within the entity",
    "fraud_count": "sweep over label events (labels.py)",
    "fraud_rate": "label sweep over the window count",
}


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def filter_column(where: Filter | None) -> Column:
    """The filter as a Spark condition (null: the row stays out, as offline)."""
    from pyspark.sql import functions as sf

    if where is None:
        return sf.lit(True)
    column, value = sf.col(where.column), sf.lit(where.value)
    conditions = {
        "==": column == value,
        "!=": column != value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }
    return sf.coalesce(conditions[where.op], sf.lit(False))


def _value(column: str) -> Column:
    """A numeric column as the engines aggregate it: float64, null as 0."""
    from pyspark.sql import functions as sf

    return sf.coalesce(sf.col(column).cast("double"), sf.lit(0.0))


class _EntityPlan:
    """Helper columns one entity's features need, named once and shared between them."""

    def __init__(self, entity: str) -> None:
        from pyspark.sql import Window

        self.entity = entity
        self.order = Window.partitionBy(entity).orderBy(TS, "transaction_id")
        self.running: dict[str, Column] = {}  # name -> running value (growing rows frame)
        self.derived: dict[str, Column] = {}  # name -> lookups, lags, sliding aggregates
        self.names: dict[tuple[object, ...], str] = {}

    def _name(self, key: tuple[object, ...], prefix: str) -> str:
        if key not in self.names:
            self.names[key] = f"__{prefix}_{self.entity}_{len(self.names)}"
        return self.names[key]

    def running_total(self, column: str | None, where: Filter | None) -> str:
        """Running (filtered) count when ``column`` is None, else running (filtered) sum."""
        from pyspark.sql import Window
        from pyspark.sql import functions as sf

        if column is None and where is None:
            return IDX
        name = self._name(("running", column, where), "run")
        if name not in self.running:
            value = sf.lit(1) if column is None else _value(column)
            zero = sf.lit(0) if column is None else sf.lit(0.0)
            growing = self.order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
            masked = sf.when(filter_column(where), value).otherwise(zero)
            self.running[name] = sf.sum(masked).over(growing)
        return name

    def _before(self, running: str, offset_us: int) -> Column:
        """``running`` at the entity's last row with ``ts <= t - offset`` (0 when none)."""
        from pyspark.sql import Window
        from pyspark.sql import functions as sf

        name = self._name(("before", running, offset_us), "at")
        if name not in self.derived:
            frame = (
                Window.partitionBy(self.entity)
                .orderBy(TS)
                .rangeBetween(Window.unboundedPreceding, -offset_us)
            )
            self.derived[name] = sf.max_by(sf.col(running), sf.col(IDX)).over(frame)
        return sf.coalesce(sf.col(name), sf.lit(0))  # 0 takes the running value's type

    def window_total(self, f: FeatureDef, column: str | None) -> Column:
        """Count (``column`` None) or sum of ``column`` over ``f``'s filtered window."""
        from pyspark.sql import functions as sf

        assert f.window is not None
        window, delay = _us(f.window), _us(f.delay)
        running = self.running_total(column, f.where)
        if delay:
            upper = self._before(running, delay)
        elif f.include_current:
            upper = sf.col(running)
        else:
            name = self._name(("previous", running), "prev")
            self.derived.setdefault(name, sf.lag(sf.col(running)).over(self.order))
            upper = sf.coalesce(sf.col(name), sf.lit(0))
        return upper - self._before(running, delay + window)

    def sliding(self, f: FeatureDef) -> list[WindowSpec]:
        """Frames whose union is ``f``'s window (see the module notes)."""
        from pyspark.sql import Window

        assert f.window is not None
        window, delay = _us(f.window), _us(f.delay)
        by_time = Window.partitionBy(self.entity).orderBy(TS)
        if delay:
            return [by_time.rangeBetween(-(delay + window - 1), -delay)]
        same_time = Window.partitionBy(self.entity, TS).orderBy("transaction_id")
        last = Window.currentRow if f.include_current else -1
        frames = [same_time.rowsBetween(Window.unboundedPreceding, last)]
        if window > 1:
            frames.insert(0, by_time.rangeBetween(-(window - 1), -1))
        return frames


def _ratio(numerator: Column, denominator: Column, otherwise: float) -> Column:
    from pyspark.sql import functions as sf

    return sf.when(denominator > 0, numerator / denominator.cast("double")).otherwise(
        sf.lit(otherwise)
    )


def _feature(plan: _EntityPlan, f: FeatureDef) -> Column:
    from pyspark.sql import functions as sf

    assert f.window is not None
    if f.kind in ("count", "fraud_rate"):
        count = plan.window_total(f, None)
        if f.kind == "count":
            return count.cast("int")
        return _ratio(_known_frauds(plan, f).cast("double"), count, 0.0)
    if f.kind == "fraud_count":
        return _known_frauds(plan, f).cast("int")
    if f.kind in ("sum", "mean", "ratio_to_mean"):
        assert f.column is not None
        total = plan.window_total(f, f.column)
        if f.kind == "sum":
            return total
        mean = _ratio(total, plan.window_total(f, None), 0.0)
        if f.kind == "mean":
            return mean
        return _ratio(_value(f.column), mean, 1.0)
    if f.kind == "max":
        assert f.column is not None
        value = sf.when(filter_column(f.where), _value(f.column))
        parts = [sf.max(value).over(frame) for frame in plan.sliding(f)]
        top = sf.greatest(*parts) if len(parts) > 1 else parts[0]
        return sf.coalesce(top, sf.lit(0.0))
    if f.kind == "distinct":
        assert f.column is not None
        value = sf.when(filter_column(f.where), sf.col(f.column))
        sets = [sf.collect_set(value).over(frame) for frame in plan.sliding(f)]
        union = sets[0] if len(sets) == 1 else sf.array_union(sets[0], sets[1])
        return sf.size(union).cast("int")
    if f.kind == "is_new":
        assert f.column is not None
        same_value = sf.lag(sf.col(TS)).over(_value_order(plan.entity, f.column))
        seen = same_value.isNotNull() & (same_value > sf.col(TS) - _us(f.window))
        return (sf.col(f.column).isNotNull() & ~seen).cast("tinyint")
    if f.kind == "seconds_since_prev":
        cap = f.window.total_seconds()
        gap = (sf.col(TS) - sf.lag(sf.col(TS)).over(plan.order)) / sf.lit(1_000_000.0)
        return sf.coalesce(sf.least(gap, sf.lit(cap)), sf.lit(cap))
    raise ValueError(f"no Spark interpretation of windowed kind {f.kind!r}")


def _value_order(entity: str, column: str) -> WindowSpec:
    from pyspark.sql import Window

    return Window.partitionBy(entity, column).orderBy(TS, "transaction_id")


def _known_frauds(plan: _EntityPlan, f: FeatureDef) -> Column:
    """Frauds in ``f``'s window whose label was known at the row's time (see labels.py)."""
    from pyspark.sql import functions as sf

    assert f.window is not None
    return sf.col(fraud_count_column(plan.entity, _us(f.window), _us(f.delay)))


def with_entity_features(
    frame: DataFrame, entity: str, features: Sequence[FeatureDef]
) -> DataFrame:
    """``frame`` with the windowed ``features`` of ``entity`` added (compact dtypes)."""
    from pyspark.sql import functions as sf

    if not features:
        return frame
    plan = _EntityPlan(entity)
    values = {f.name: _feature(plan, f) for f in features}
    label_windows = sorted(
        {(_us(f.window), _us(f.delay)) for f in features if f.kind in LABEL_KINDS and f.window}
    )
    staged = with_known_fraud_counts(frame, entity, label_windows)
    staged = staged.withColumn(IDX, sf.row_number().over(plan.order))
    if plan.running:
        staged = staged.withColumns(plan.running)
    if plan.derived:
        staged = staged.withColumns(plan.derived)
    helpers = [IDX, *plan.running, *plan.derived]
    helpers += [fraud_count_column(entity, *window) for window in label_windows]
    return staged.withColumns(values).drop(*helpers)
