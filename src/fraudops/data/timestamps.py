"""Timestamps as exports write them, read into UTC.

Without a format, each value may be any of (all in one column, row by row):

- ISO 8601 with a space or ``T`` between date and time, optional seconds and fraction
  (``.`` or ``,``, up to nanoseconds, kept to the microsecond), then ``Z``, an offset
  (``+00:00``, ``+0000``, ``-05``) or nothing (pandas' CSV output
  ``2024-11-01 00:00:01.390630+00:00`` is one of these);
- a date alone (``2024-11-01``, midnight);
- epoch seconds, milliseconds or microseconds (``1730419201``, ``1730419201390``), told
  apart by magnitude; a number below 10^8 (before March 1973) is refused, since a
  compact date such as ``20241101`` would otherwise read as a 1970 time.

A value without a zone is in ``timezone`` (default UTC). A value that is present but not
readable parses to null; callers compare with the input to name it. With an explicit
``timestamp_format`` (strftime, as polars reads it) only that format is tried.
"""

from __future__ import annotations

import polars as pl

UTC = "UTC"
_AWARE = "%Y-%m-%d %H:%M:%S%.f%#z"
_NAIVE = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_ZONE_DIRECTIVES = ("%z", "%:z", "%::z", "%#z")
_NUMBER = r"^[+-]?\d+(\.\d*)?$"
# epoch magnitudes: seconds below 1e11 (year 5138), milliseconds below 1e14, else micro
_MIN_EPOCH = 1e8


def _in_zone(naive: pl.Series, timezone: str) -> pl.Series:
    # a wall time skipped by a DST change is not a time: null, so it is named, not shifted
    localised = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return localised.dt.convert_time_zone(UTC)


def _epoch(text: pl.Series) -> pl.Series:
    number = pl.select(
        pl.when(text.str.contains(_NUMBER)).then(text.cast(pl.Float64, strict=False))
    ).to_series()
    size = number.abs()
    micros = pl.select(
        pl.when(size < _MIN_EPOCH)
        .then(None)
        .when(size < 1e11)
        .then(number * 1e6)
        .when(size < 1e14)
        .then(number * 1e3)
        .otherwise(number)
    ).to_series()
    return micros.round(0).cast(pl.Int64, strict=False).cast(pl.Datetime("us", UTC))


def _iso(text: pl.Series, timezone: str) -> pl.Series:
    """ISO 8601 in its variants: ``T`` or space, ``,`` or ``.``, ``Z``, offset or none."""
    text = text.str.replace("T", " ", literal=True, n=1).str.replace(",", ".", literal=True, n=1)
    utc_marked = text.str.ends_with("Z") | text.str.ends_with("z")
    if utc_marked.any():
        text = pl.select(
            pl.when(utc_marked).then(text.str.head(-1) + "+00:00").otherwise(text)
        ).to_series()
    aware = text.str.to_datetime(_AWARE, strict=False, time_unit="us").dt.convert_time_zone(UTC)
    naive = pl.select(
        pl.coalesce([text.str.to_datetime(f, strict=False, time_unit="us") for f in _NAIVE])
    ).to_series()
    return aware.fill_null(_in_zone(naive, timezone))


def parse_timestamps(
    values: pl.Series, timestamp_format: str | None = None, timezone: str = UTC
) -> pl.Series:
    """Text -> ``Datetime("us", "UTC")``, row by row; unreadable values become null."""
    text = values.cast(pl.String)
    if timestamp_format is not None:
        parsed = text.str.strip_chars().str.to_datetime(
            timestamp_format, strict=False, time_unit="us"
        )
        if any(d in timestamp_format for d in _ZONE_DIRECTIVES):
            return parsed.dt.convert_time_zone(UTC).alias(values.name)
        return _in_zone(parsed, timezone).alias(values.name)
    # the common case first, on every row (pandas' CSV output); the rest only where needed
    parsed = text.str.to_datetime(_AWARE, strict=False, time_unit="us").dt.convert_time_zone(UTC)
    todo = text.is_not_null() & parsed.is_null()
    if todo.any():
        rows = todo.arg_true()
        rest = text.gather(rows).str.strip_chars()
        retry = _iso(rest, timezone).fill_null(_epoch(rest))
        parsed = parsed.scatter(rows, retry)
    return parsed.alias(values.name)
