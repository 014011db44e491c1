"""The API process's footprint: glibc's allocator told to keep fewer arenas and to give
freed memory back, and Spark kept out of a process that never runs it.

A model load builds and drops large temporary objects (LightGBM's model dump for the
attribution tables, the unpickled estimator's buffers) and every thread that allocates
gets its own 64 MB glibc arena: without these calls ~20 MB of freed or arena-held memory
stays resident per worker. Elsewhere (macOS, musl) the calls do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from functools import cache

logger = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # mallopt parameter number (malloc.h)


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc only: raises elsewhere
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (call before the threads start)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, arenas)


def release_freed_memory() -> None:
    """Return freed heap pages to the operating system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def keep_spark_out() -> None:
    """MLflow's schema module imports pyspark whenever it is installed (the [spark]
    extra), for Spark types the API never reads; an API process marks it absent so MLflow
    skips it. A process that already holds Spark keeps it."""
    sys.modules.setdefault("pyspark", None)  # type: ignore[arg-type]
