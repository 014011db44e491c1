"""The memory store's compact transaction-id index against a plain dict model: ids added,
looked up, evicted by time in arrival order, through the rebuilds its growth and its
evictions trigger."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudops.features.online.txindex import TxIndex, place


@settings(max_examples=50, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 5)),
        min_size=1,
        max_size=300,
    )
)
def test_index_behaves_as_a_dict_evicted_in_arrival_order(
    steps: list[tuple[int, int, int]],
) -> None:
    index = TxIndex(2, min_table=8, compact_from=4)  # rebuilds every few steps
    model: dict[str, tuple[int, tuple[str, str]]] = {}
    order: list[str] = []
    now = 0
    for n, (action, gap, key) in enumerate(steps):
        now += gap
        if action < 3:
            tx_id = f"tx-{n}"
            keys = (f"card-{key}", f"term-{key % 2}")
            index.add(tx_id, now, keys)
            model[tx_id] = (now, keys)
            order.append(tx_id)
        else:
            limit = now - 50
            index.evict_before(limit)
            while order and model[order[0]][0] <= limit:
                del model[order.pop(0)]
        assert len(index) == len(model)
    for tx_id, entry in model.items():
        assert tx_id in index
        assert index.get(tx_id) == entry
    for n in range(len(steps)):
        if f"tx-{n}" not in model:
            assert index.get(f"tx-{n}") is None


def test_growth_eviction_and_rebuilds_keep_every_live_id() -> None:
    index = TxIndex(3)
    for n in range(50_000):  # several table growths
        index.add(f"t{n}", n, (f"c{n % 997}", f"t{n % 13}", "m"))
    index.evict_before(29_999)  # 30,000 dead: the log is compacted
    assert len(index) == 20_000
    assert index.get("t29999") is None
    assert index.get("t30000") == (30_000, ("c90", "t9", "m"))
    assert all(f"t{n}" in index for n in range(30_000, 50_000, 7))
    for n in range(50_000, 60_000):  # dead slots are reused after the rebuild
        index.add(f"t{n}", n, ("c", "t", "m"))
    assert len(index) == 30_000
    assert index.get("t59999") == (59_999, ("c", "t", "m"))
    assert index.get("t30000") == (30_000, ("c90", "t9", "m"))


def test_place_builds_a_table_lookups_can_walk() -> None:
    rng = np.random.default_rng(7)
    hashes = rng.integers(-(2**62), 2**62, size=6_000, dtype=np.int64)
    hashes[100:200] = hashes[100] | 1023  # clustered homes
    hashes[300:400] = (hashes[300:400] | 16_383) - rng.integers(0, 30, 100)  # runs past the end
    table = place(hashes, 16_384)
    assert sorted(table[table >= 0].tolist()) == list(range(6_000))
    assert (table[:60] >= 0).sum() > 50  # the run past the last slot wrapped to the first
    mask = len(table) - 1
    for p, h in enumerate(hashes.tolist()):
        i = h & mask
        while table[i] != p:  # every slot from the home to the entry is taken
            assert table[i] >= 0
            i = (i + 1) & mask
