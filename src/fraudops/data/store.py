"""Date-partitioned parquet datasets on a local path or ``s3://``, with a manifest.

Layout of a dataset rooted at ``URI``::

    URI/date=YYYY-MM-DD/part-0.parquet   one file per day, replaced (never appended) on rewrite
    URI/_manifest.json                   rows and SHA-256 per partition, and a dataset hash

Writes are atomic: a partition is written to a temporary name and moved into place (on S3
an object only appears once its upload completes), so readers never see half a file and
re-running a day replaces it instead of duplicating it.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import fsspec
import polars as pl

MANIFEST_NAME = "_manifest.json"
PARTITION_FILE = "part-0.parquet"


@dataclass(frozen=True)
class PartitionInfo:
    day: str
    rows: int
    sha256: str
    path: str


def _fs(uri: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, str]:
    fs, root = fsspec.core.url_to_fs(uri, **(storage_options or {}))
    return fs, root.rstrip("/")


def _is_local(fs: Any) -> bool:
    """Local files are written under a temporary name and renamed; object stores publish
    an object atomically once its upload completes."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return any(p in ("file", "local") for p in protocols)


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def files_in(fs: Any, folder: str, suffix: str) -> list[str]:
    """The files directly in ``folder`` (an existing one: callers have listed or checked
    it) whose name ends with ``suffix``, sorted. A listing, not ``fs.glob``: a folder named
    with ``[``, ``]``, ``*`` or ``?`` is a valid path, and a glob would read it as a
    pattern."""
    names = (str(entry).rstrip("/") for entry in fs.ls(folder, detail=False))
    return sorted(name for name in names if name.endswith(suffix))


def partition_path(root: str, day: date | str) -> str:
    return _join(root, f"date={day!s}", PARTITION_FILE)


def _to_parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    # statistics help readers skip; zstd is compact and fast to decode
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return buffer.getvalue()


def write_partition(
    uri: str,
    day: date | str,
    frame: pl.DataFrame,
    storage_options: dict[str, Any] | None = None,
    update_manifest: bool = True,
) -> PartitionInfo:
    """Write (or replace) one day of ``frame`` atomically and record it in the manifest."""
    fs, root = _fs(uri, storage_options)
    payload = _to_parquet_bytes(frame)
    target = partition_path(root, day)
    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    if _is_local(fs):
        temporary = f"{target}.tmp-{uuid.uuid4().hex}"
        with fs.open(temporary, "wb") as handle:
            handle.write(payload)
        fs.mv(temporary, target)
    else:  # object stores publish an object atomically once the upload completes
        with fs.open(target, "wb") as handle:
            handle.write(payload)
    info = PartitionInfo(
        day=str(day),
        rows=frame.height,
        sha256=hashlib.sha256(payload).hexdigest(),
        path=target.rsplit("/", 2)[-2] + "/" + PARTITION_FILE,
    )
    if update_manifest:
        record_partitions(uri, [info], storage_options)
    return info


def write_dataset(
    uri: str,
    frame: pl.DataFrame,
    time_column: str = "timestamp",
    storage_options: dict[str, Any] | None = None,
) -> list[PartitionInfo]:
    """Split ``frame`` by UTC day of ``time_column`` and write each day as a partition."""
    if frame.height == 0:
        return []
    with_day = frame.with_columns(pl.col(time_column).dt.date().alias("__day"))
    infos = []
    for (day,), part in with_day.partition_by("__day", as_dict=True, maintain_order=True).items():
        infos.append(
            write_partition(uri, day, part.drop("__day"), storage_options, update_manifest=False)
        )
    record_partitions(uri, infos, storage_options)
    return infos


def read_manifest(uri: str, storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    fs, root = _fs(uri, storage_options)
    path = _join(root, MANIFEST_NAME)
    if not fs.exists(path):
        return {"partitions": {}, "dataset_hash": None, "rows": 0}
    with fs.open(path, "rb") as handle:
        manifest: dict[str, Any] = json.loads(handle.read())
    return manifest


def dataset_hash(partitions: dict[str, dict[str, Any]]) -> str:
    """One hash for the whole dataset: changes when any partition's content changes."""
    digest = hashlib.sha256()
    for day in sorted(partitions):
        digest.update(f"{day}:{partitions[day]['sha256']}\n".encode())
    return digest.hexdigest()


def record_partitions(
    uri: str, infos: Iterable[PartitionInfo], storage_options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Merge partition records into the manifest (replacing the same days)."""
    fs, root = _fs(uri, storage_options)
    manifest = read_manifest(uri, storage_options)
    partitions = manifest.get("partitions", {})
    for info in infos:
        partitions[info.day] = {"rows": info.rows, "sha256": info.sha256, "path": info.path}
    manifest = {
        "partitions": dict(sorted(partitions.items())),
        "rows": sum(p["rows"] for p in partitions.values()),
        "dataset_hash": dataset_hash(partitions),
    }
    fs.makedirs(root, exist_ok=True)
    path = _join(root, MANIFEST_NAME)
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    with fs.open(temporary, "wb") as handle:
        handle.write(json.dumps(manifest, indent=1).encode())
    fs.mv(temporary, path)
    return manifest


def list_partitions(uri: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """Days present under ``uri`` (from the files themselves, not only the manifest)."""
    fs, root = _fs(uri, storage_options)
    if not fs.exists(root):
        return []
    days = []
    for entry in fs.ls(root, detail=False):
        name = str(entry).rstrip("/").rsplit("/", 1)[-1]
        if name.startswith("date=") and fs.exists(_join(root, name, PARTITION_FILE)):
            days.append(name.removeprefix("date="))
    return sorted(days)


def _in_range(day: str, start: date | None, end: date | None) -> bool:
    d = date.fromisoformat(day)
    return (start is None or d >= start) and (end is None or d <= end)


def iter_partitions(
    uri: str,
    start: date | None = None,
    end: date | None = None,
    storage_options: dict[str, Any] | None = None,
    columns: list[str] | None = None,
) -> Iterator[tuple[str, pl.DataFrame]]:
    """Yield ``(day, frame)`` for each partition with ``start <= day <= end``."""
    fs, root = _fs(uri, storage_options)
    for day in list_partitions(uri, storage_options):
        if _in_range(day, start, end):
            with fs.open(partition_path(root, day), "rb") as handle:
                yield day, pl.read_parquet(handle, columns=columns)


def read_dataset(
    uri: str,
    start: date | None = None,
    end: date | None = None,
    storage_options: dict[str, Any] | None = None,
    columns: list[str] | None = None,
) -> pl.DataFrame:
    """All partitions in ``[start, end]`` (inclusive days) as one frame."""
    fs, root = _fs(uri, storage_options)
    days = [d for d in list_partitions(uri, storage_options) if _in_range(d, start, end)]
    if not days:
        return pl.DataFrame()
    if _is_local(fs):
        # local files: let polars read them in parallel (paths, not patterns: a folder
        # may be named with glob characters)
        paths = [partition_path(root, d) for d in days]
        return pl.read_parquet(paths, columns=columns, glob=False)
    return pl.concat(
        [frame for _, frame in iter_partitions(uri, start, end, storage_options, columns)],
        how="vertical_relaxed",
    )


def write_json(uri: str, payload: Any, storage_options: dict[str, Any] | None = None) -> None:
    """Write a JSON document atomically (local) or as one object (S3)."""
    fs, path = _fs(uri, storage_options)
    parent = path.rsplit("/", 1)[0]
    if parent:
        fs.makedirs(parent, exist_ok=True)
    body = json.dumps(payload, indent=2, default=_json_default).encode()
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    with fs.open(temporary, "wb") as handle:
        handle.write(body)
    fs.mv(temporary, path)


def read_json(uri: str, storage_options: dict[str, Any] | None = None) -> Any:
    fs, path = _fs(uri, storage_options)
    with fs.open(path, "rb") as handle:
        return json.loads(handle.read())


def exists(uri: str, storage_options: dict[str, Any] | None = None) -> bool:
    fs, path = _fs(uri, storage_options)
    return bool(fs.exists(path))


def join_uri(uri: str, *parts: str) -> str:
    return _join(uri, *parts)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def append_chunk(
    uri: str, day: date | str, frame: pl.DataFrame, storage_options: dict[str, Any] | None = None
) -> str:
    """Add one chunk file to a day of an append-only log (prediction and label logs)."""
    fs, root = _fs(uri, storage_options)
    folder = _join(root, f"date={day!s}")
    fs.makedirs(folder, exist_ok=True)
    target = _join(folder, f"chunk-{uuid.uuid4().hex}.parquet")
    payload = _to_parquet_bytes(frame)
    if _is_local(fs):
        temporary = f"{target}.tmp"
        with fs.open(temporary, "wb") as handle:
            handle.write(payload)
        fs.mv(temporary, target)
    else:
        with fs.open(target, "wb") as handle:
            handle.write(payload)
    return target


def compact_chunks(
    uri: str, before: date, storage_options: dict[str, Any] | None = None
) -> dict[str, int]:
    """Merge each day's chunks into one file, for days before ``before``.

    An API flushes a chunk every few seconds, so a day of traffic is tens of thousands of
    small files, and every read of the log would open them all. Compaction reads a day's
    chunks, writes their union as one new chunk, then deletes exactly the files it read:
    a chunk that arrives meanwhile (a late transaction) stays and is merged next time,
    and a reader in between sees rows twice at worst, never loses one (the monitor keeps
    one row per transaction id). Run it from one process at a time (the monitoring DAG
    has ``max_active_runs=1``). Returns ``{day: files merged}``.
    """
    fs, root = _fs(uri, storage_options)
    if not fs.exists(root):
        return {}
    merged: dict[str, int] = {}
    for entry in sorted(fs.ls(root, detail=False)):
        name = str(entry).rstrip("/").rsplit("/", 1)[-1]
        if not name.startswith("date=") or not _in_range(
            name.removeprefix("date="), None, before - timedelta(days=1)
        ):
            continue
        paths = files_in(fs, _join(root, name), ".parquet")
        if len(paths) < 2:
            continue
        frames = []
        for path in paths:
            with fs.open(path, "rb") as handle:
                frames.append(pl.read_parquet(handle))
        day = name.removeprefix("date=")
        append_chunk(uri, day, pl.concat(frames, how="diagonal_relaxed"), storage_options)
        fs.rm(paths)
        merged[day] = len(paths)
    return merged


def read_chunks(
    uri: str,
    start: date | None = None,
    end: date | None = None,
    storage_options: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """Every chunk of an append-only log for days in ``[start, end]``."""
    fs, root = _fs(uri, storage_options)
    if not fs.exists(root):
        return pl.DataFrame()
    frames = []
    for entry in sorted(fs.ls(root, detail=False)):
        name = str(entry).rstrip("/").rsplit("/", 1)[-1]
        if not name.startswith("date=") or not _in_range(name.removeprefix("date="), start, end):
            continue
        for path in files_in(fs, _join(root, name), ".parquet"):
            with fs.open(path, "rb") as handle:
                frames.append(pl.read_parquet(handle))
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def resolve_transactions_uri(uri: str, storage_options: dict[str, Any] | None = None) -> str:
    """Accept the output of ``data generate`` (partitions) or of validate/ingest (clean/)."""
    clean = join_uri(uri, "clean")
    if exists(join_uri(clean, MANIFEST_NAME), storage_options):
        return clean
    return uri
