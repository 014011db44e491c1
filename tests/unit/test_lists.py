"""Lists: entries, expiry, the shared version that tells other processes to reload, and
the refusal of entries that could never match."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fraudops.decisions.lists import (
    ListCache,
    ListEntry,
    ListError,
    MemoryListBackend,
    SQLiteListBackend,
    open_list_backend,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
TX = {"card_id": "c1", "device_id": None, "merchant_id": "m1", "terminal_id": "t1", "country": "FR"}


def entry(list_name: str, kind: str, value: str, hours: float | None = None) -> ListEntry:
    expires = NOW + timedelta(hours=hours) if hours is not None else None
    return ListEntry(list_name, kind, value, expires, "test", "tester", NOW)


@pytest.fixture(params=["memory", "sqlite"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> ListCache:
    if request.param == "memory":
        return ListCache(MemoryListBackend())
    return ListCache(SQLiteListBackend(tmp_path / "lists.db"))


def test_membership_flags_follow_entries_and_expiry(cache: ListCache) -> None:
    cache.add(entry("block", "card", "c1", hours=1))
    cache.add(entry("watch", "country", "fr"))  # stored upper-case, as transactions carry it
    wanted = [("block", "card"), ("watch", "country"), ("block", "merchant"), ("allow", "device")]
    at = NOW.timestamp()
    assert cache.flags(TX, wanted, at) == {
        "list_block_card": True,
        "list_watch_country": True,
        "list_block_merchant": False,
        "list_allow_device": False,  # a missing device id is never listed
    }
    # an hour later the block has expired; the watch entry never expires
    later = cache.flags(TX, wanted, at + 3600)
    assert later["list_block_card"] is False
    assert later["list_watch_country"] is True
    assert cache.first_hit(TX, "block", at) == "card"
    assert cache.first_hit(TX, "block", at + 3600) is None
    assert cache.first_hit({**TX, "card_id": "other"}, "block", at) is None


def test_entries_list_active_ones_and_remove_reports_absence(cache: ListCache) -> None:
    cache.add(entry("block", "card", "c1", hours=1))
    cache.add(entry("block", "card", "c2", hours=48))
    cache.add(entry("allow", "merchant", "m1"))
    later = NOW + timedelta(hours=2)
    assert [e.value for e in cache.entries("block", None, later)] == ["c2"]
    assert [e.value for e in cache.entries("block", None, None)] == ["c1", "c2"]
    assert [e.list for e in cache.entries(None, "merchant", later)] == ["allow"]
    assert cache.remove("block", "card", "c2") is True
    assert cache.remove("block", "card", "c2") is False
    assert [e.value for e in cache.entries("block")] == ["c1"]
    # replacing an entry keeps one entry with the new expiry
    cache.add(entry("block", "card", "c1", hours=100))
    (only,) = cache.entries("block")
    assert only.expires_at == NOW + timedelta(hours=100)


def test_a_second_process_sees_writes_after_a_refresh(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'lists.db'}"
    api, cli = ListCache(open_list_backend(uri)), ListCache(open_list_backend(uri))
    cli.add(entry("block", "terminal", "t1"))
    at = NOW.timestamp()
    assert api.first_hit(TX, "block", at) is None  # the API's snapshot is older
    api.refresh()
    assert api.first_hit(TX, "block", at) == "terminal"
    cli.remove("block", "terminal", "t1")
    api.refresh()
    assert api.first_hit(TX, "block", at) is None


def test_an_unreachable_backend_keeps_the_last_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "lists.db"
    cache = ListCache(SQLiteListBackend(path))
    cache.add(entry("block", "card", "c1"))
    path.unlink()
    path.mkdir()  # the file is gone and cannot be opened as a database
    cache.refresh()
    assert cache.healthy is False
    assert cache.first_hit(TX, "block", NOW.timestamp()) == "card"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"list": "Block"}, "list name 'Block'"),
        ({"list": "1st"}, "list name '1st'"),
        ({"kind": "iban"}, "kind 'iban' is not one of card, device"),
        ({"value": "  "}, "value must be a non-empty string"),
        ({"value": "x" * 129}, "at most 128"),
        ({"kind": "country", "value": "FRA"}, "two-letter ISO code"),
    ],
)
def test_entries_that_could_never_match_are_refused(fields: dict[str, str], message: str) -> None:
    values = {"list": "block", "kind": "card", "value": "c1", **fields}
    with pytest.raises(ListError, match=message):
        ListEntry(values["list"], values["kind"], values["value"])


def test_unknown_backend_uri_is_named() -> None:
    with pytest.raises(ListError, match="unsupported lists URI 'mysql://x'"):
        open_list_backend("mysql://x")


def test_entries_round_trip_through_json() -> None:
    original = entry("watch", "device", "d-9", hours=5)
    assert ListEntry.from_json(original.to_json()) == original
