"""Time helpers of the online engine: integer microseconds since the epoch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
US_PER_HOUR = 3_600_000_000
US_PER_DAY = 86_400_000_000
BEFORE_EVERYTHING = -(1 << 62)  # "no transaction seen yet"


def duration_us(delta: timedelta) -> int:
    """A duration in whole microseconds."""
    return delta // _ONE_US


def to_epoch_us(value: Any) -> int:
    """Microseconds since the epoch of a datetime (naive = UTC) or an ISO-8601 string."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"timestamp {value!r} is not ISO-8601") from None
    if not isinstance(value, datetime):
        raise ValueError(f"timestamp must be a datetime or an ISO-8601 string, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _ONE_US
