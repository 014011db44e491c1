"""Arithmetic whose polars form must give Python's results (rule conditions are compiled
to both and a property test holds them equal)."""

from __future__ import annotations

import numpy as np
import polars as pl


def _python_remainder(pair: pl.Series) -> pl.Series:
    """Python's float ``%`` on two columns: C's exact ``fmod``, then the divisor's sign
    (what CPython does). Polars' own ``%`` computes ``a - b * floor(a / b)``, which goes to
    ±inf or loses digits when the quotient is huge (``1 % 1e-311``)."""
    a = pair.struct.field("a").cast(pl.Float64).to_numpy()
    b = pair.struct.field("b").cast(pl.Float64).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        mod = np.fmod(a, b)
        mod = np.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)
    return pl.Series(pair.name, mod, dtype=pl.Float64)


def remainder(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    pair = pl.struct(a.cast(pl.Float64).alias("a"), b.cast(pl.Float64).alias("b"))
    return pair.map_batches(_python_remainder, return_dtype=pl.Float64)
