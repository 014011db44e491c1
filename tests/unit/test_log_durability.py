"""The decision log is an audit trail: a real ``fraudops serve`` killed with SIGKILL under
load loses at most the journal interval of answered predictions (the next start writes the
journal to the dataset), SIGTERM loses nothing, and a full writer queue drops and counts
rather than blocking the request."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np
from api_support import tx
from test_cli_serve import ServedApi, served_api

from fraudops.config import Settings
from fraudops.data import store
from fraudops.data.logs import AppendLog

if TYPE_CHECKING:
    from conftest import EmbeddedRegistry

CLIENTS = 4


def logged_ids(home: Path) -> set[str]:
    uri = Settings(home=home).dataset_uri("predictions")
    frame = store.read_chunks(uri)
    return set(frame["transaction_id"].to_list()) if len(frame) else set()


def load_until(api: ServedApi, stop: threading.Event, prefix: str) -> dict[str, float]:
    """Score unique transactions from a few clients until ``stop``; id -> time answered."""
    answered: dict[str, float] = {}

    def client(number: int) -> None:
        with httpx.Client(base_url=api.url, headers={"X-API-Key": api.api_key}) as c:
            n = 0
            while not stop.is_set():
                tx_id = f"{prefix}-{number}-{n}"
                n += 1
                try:
                    response = c.post("/v1/predict", json=tx(transaction_id=tx_id), timeout=5)
                except httpx.HTTPError:
                    return  # the server was killed mid-request
                if response.status_code == 200:
                    answered[tx_id] = time.monotonic()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    return answered


def test_sigkill_loses_at_most_the_journal_interval_and_sigterm_nothing(
    linear_registry: Callable[..., EmbeddedRegistry], tmp_path: Path
) -> None:
    home = linear_registry(versions=1, champion=1).home
    settings = {"prediction_log_flush_seconds": "2", "log_journal_seconds": "0.2"}
    stop = threading.Event()
    with served_api(home, tmp_path / "killed", **settings) as api:
        answered = load_until(api, stop, "kill")
        time.sleep(3.0)
        killed_at = time.monotonic()
        os.kill(api.process.pid, signal.SIGKILL)
        api.process.wait(10)
        stop.set()
    assert len(answered) > 100, "the load never got going"
    in_dataset = logged_ids(home) & set(answered)
    assert len(in_dataset) < len(answered)  # the flush buffer was in flight: the journal matters

    # the next start writes the dead process's journal to the dataset, then serves
    stop = threading.Event()
    with served_api(home, tmp_path / "restarted", **settings) as api:
        recovered = logged_ids(home)
        lost = {tx_id: t for tx_id, t in answered.items() if tx_id not in recovered}
        # what was lost was answered in the last journal interval before the kill (0.2 s,
        # with room for a busy machine), never the 2 s flush buffer
        ages = sorted(round(killed_at - t, 3) for t in lost.values())
        assert all(age < 0.75 for age in ages), (len(answered), len(lost), ages[-20:])
        print(f"SIGKILL: {len(answered)} answered, {len(lost)} lost")

        answered = load_until(api, stop, "term")
        time.sleep(1.5)
        api.process.send_signal(signal.SIGTERM)
        api.process.wait(60)
        stop.set()
    assert set(answered) <= logged_ids(home)  # SIGTERM: every answered prediction logged


def test_a_full_writer_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    drops: list[int] = []
    log = AppendLog(str(tmp_path / "log"), max_queued=3, on_drop=drops.append)
    row = {"transaction_id": "a", "timestamp": datetime(2026, 1, 1, tzinfo=UTC), "amount": 1.0}
    log.append([row, row])
    log.append([row, row])  # would make 4 waiting: dropped whole
    log.append([row])
    assert (log.dropped, drops, log.pending()) == (2, [2], 3)
    assert log.flush() == 3


def test_a_journal_segment_is_read_back_with_its_types(tmp_path: Path) -> None:
    uri = str(tmp_path / "log")
    journal = tmp_path / "journal"
    first = AppendLog(uri, journal_dir=journal, vector_columns=["f1", "f2"])
    at = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    rows = [
        {
            "transaction_id": f"t{i}",
            "timestamp": at,
            "amount": 1.5 * i,
            "__vector": np.array([i, 0.5]),
        }
        for i in range(3)
    ]
    first.append(rows)
    first.journal()  # what the journal thread does every 0.2 s; the process then dies
    assert list(journal.glob("*.wal"))
    with (next(journal.glob("*.wal"))).open("ab") as segment:
        segment.write(b'{"transaction_id": "cut sh')  # a line the crash cut short

    second = AppendLog(uri, journal_dir=journal, vector_columns=["f1", "f2"])
    assert second.recover() == 3
    assert not list(journal.glob("*.wal"))
    frame = store.read_chunks(uri).sort("transaction_id")
    assert frame["transaction_id"].to_list() == ["t0", "t1", "t2"]
    assert frame["timestamp"].to_list() == [at] * 3
    assert frame["f1"].to_list() == [0.0, 1.0, 2.0]
    assert frame["amount"].to_list() == [0.0, 1.5, 3.0]
