"""The vocabulary of feature declarations: kinds, entities, filters and :class:`FeatureDef`,
which refuses at declaration time any combination the engines do not define (the
semantics both engines share are described in :mod:`fraudops.features.spec`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, get_args

Entity = Literal["card_id", "terminal_id", "merchant_id"]
FilterOp = Literal["==", "!=", "<", "<=", ">", ">="]
WindowedKind = Literal[  # aggregated over an entity's history
    "count",
    "sum",
    "mean",
    "max",
    "distinct",
    "is_new",
    "seconds_since_prev",
    "ratio_to_mean",
    "fraud_count",
    "fraud_rate",
]
ContextKind = Literal[  # computed from the transaction itself
    "value",
    "log1p",
    "hour",
    "is_night",
    "is_weekend",
    "equals",
    "code",
    "distance_home",
]
Kind = Literal[WindowedKind, ContextKind]

WINDOWED_KINDS = frozenset(get_args(WindowedKind))
LABEL_KINDS = frozenset({"fraud_count", "fraud_rate"})
NUMERIC_KINDS = frozenset({"sum", "mean", "max", "ratio_to_mean", "value", "log1p"})
CATEGORICAL_KINDS = frozenset({"distinct", "is_new"})
ENTITIES: tuple[Entity, ...] = ("card_id", "terminal_id", "merchant_id")
NUMERIC_COLUMNS = frozenset(
    {"amount", "customer_lat", "customer_lon", "merchant_lat", "merchant_lon"}
)
STRING_COLUMNS = frozenset(
    {
        "card_id",
        "customer_id",
        "merchant_id",
        "terminal_id",
        "mcc",
        "currency",
        "channel",
        "entry_mode",
        "country",
        "device_id",
    }
)


@dataclass(frozen=True)
class Filter:
    """Only transactions whose ``column op value`` holds enter the window (null: never)."""

    column: str
    op: FilterOp
    value: str | float

    def label(self) -> str:
        return f"{self.column} {self.op} {self.value!r}"


@dataclass(frozen=True)
class FeatureDef:
    """One feature: what it aggregates, over which entity's history and time window."""

    name: str
    kind: Kind
    description: str
    entity: Entity | None = None
    column: str | None = None
    window: timedelta | None = None
    include_current: bool = False
    delay: timedelta = timedelta(0)
    where: Filter | None = None
    value: str | None = None  # the category of an "equals" (one-hot) feature
    dtype: str = "float64"

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError(f"feature {self.name!r}: " + "; ".join(problems))

    @property
    def windowed(self) -> bool:
        return self.kind in WINDOWED_KINDS

    @property
    def retention(self) -> timedelta:
        """How far back this feature looks (window plus delay); zero for context features."""
        if self.window is None:
            return timedelta(0)
        return self.window + self.delay

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-ready form (used for the spec hash and the docs)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "entity": self.entity,
            "column": self.column,
            "window_seconds": None if self.window is None else self.window.total_seconds(),
            "include_current": self.include_current,
            "delay_seconds": self.delay.total_seconds(),
            "where": None
            if self.where is None
            else {"column": self.where.column, "op": self.where.op, "value": self.where.value},
            "value": self.value,
            "dtype": self.dtype,
        }


def _problems(f: FeatureDef) -> list[str]:
    """Combinations the engines do not define; refused at declaration time."""
    problems: list[str] = []
    if f.dtype != "float64":
        problems.append("every feature is float64")
    if f.windowed:
        if f.entity not in ENTITIES:
            problems.append(f"windowed kind {f.kind!r} needs an entity in {ENTITIES}")
        if f.window is None or f.window <= timedelta(0):
            problems.append("needs a positive window")
        if f.delay < timedelta(0):
            problems.append("delay cannot be negative")
        if f.include_current and f.delay > timedelta(0):
            problems.append("a delayed window cannot include the current transaction")
        if f.kind in {"is_new", "seconds_since_prev"} and (f.include_current or f.delay or f.where):
            problems.append(f"{f.kind} looks strictly before the current transaction")
        if f.kind in LABEL_KINDS and (f.include_current or f.where or f.column):
            problems.append("label features exclude the current transaction and take no filter")
        if f.where is not None and f.where.column not in NUMERIC_COLUMNS | STRING_COLUMNS:
            problems.append(f"unknown filter column {f.where.column!r}")
        if f.where is not None and f.where.op not in ("==", "!="):
            numeric = f.where.column in NUMERIC_COLUMNS and isinstance(f.where.value, float | int)
            if not numeric:
                problems.append("ordering filters need a numeric column and value")
    elif f.entity is not None or f.window is not None or f.where is not None:
        problems.append(f"context kind {f.kind!r} takes no entity, window or filter")
    if f.kind in NUMERIC_KINDS and f.column not in NUMERIC_COLUMNS:
        problems.append(f"{f.kind} needs a numeric column, one of {sorted(NUMERIC_COLUMNS)}")
    if f.kind in CATEGORICAL_KINDS | {"equals", "code"} and f.column not in STRING_COLUMNS:
        problems.append(f"{f.kind} needs a string column, one of {sorted(STRING_COLUMNS)}")
    if f.kind == "equals" and f.value is None:
        problems.append("equals needs a value")
    if f.kind == "count" and f.column is not None:
        problems.append("count takes no column (use a filter)")
    return problems
