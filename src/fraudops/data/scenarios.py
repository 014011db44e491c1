"""The fraud scenarios of the simulator (see ``fraudops.data.generate``): each draws one
day's fraud, or marks genuine traffic as fraud, from the day's seed."""

from __future__ import annotations

import numpy as np

from fraudops.data.world import (
    CONTACTLESS_LIMIT,
    SECONDS_PER_DAY,
    Batch,
    SimulationConfig,
    World,
    pick_in_country,
    terminal_of,
)


def _lookback_events(
    cfg: SimulationConfig, index: int, salt: int, rate: float, max_duration: int
) -> list[tuple[int, np.random.Generator]]:
    """Scenario events that started on a day in ``(index - max_duration, index]``.

    Each start day draws its events from its own seed, so a day's active set does not
    depend on which other days were generated.
    """
    events = []
    for start_day in range(index - max_duration + 1, index + 1):
        rng = np.random.default_rng([cfg.seed, salt, start_day + 10_000])
        count = rng.poisson(rate)
        if count:
            events.append((start_day, rng))
    return events


def apply_compromised_terminals(
    world: World, cfg: SimulationConfig, index: int, batch: Batch, budget: float
) -> None:
    n_terminals = world.terminal_merchant.size
    till_terminals = np.flatnonzero(world.merch_kind[world.terminal_merchant] == 0)
    if budget <= 0 or till_terminals.size == 0:
        return
    per_terminal_day = max(batch.customer.size / max(n_terminals, 1), 1e-6)
    mean_duration = 21
    rate = budget / per_terminal_day / mean_duration
    active: list[int] = []
    for start_day, rng in _lookback_events(cfg, index, 1, rate, 28):
        count = rng.poisson(rate) or 1
        terminals = rng.choice(till_terminals, size=count)
        durations = rng.integers(14, 29, size=count)
        active.extend(
            int(t) for t, d in zip(terminals, durations, strict=True) if index < start_day + d
        )
    if active:
        hit = np.isin(batch.terminal, np.array(active))
        batch.fraud |= hit
        batch.scenario[hit] = 0


def apply_compromised_cards(
    world: World,
    cfg: SimulationConfig,
    index: int,
    batch: Batch,
    budget: float,
    rng: np.random.Generator,
) -> None:
    if budget <= 0:
        return
    mean_rate = float(world.cust_rate.mean())
    rate = budget / (mean_rate / 3.0) / 14.0
    active: list[int] = []
    for _, event_rng in _lookback_events(cfg, index, 2, rate, 14):
        count = event_rng.poisson(rate) or 1
        active.extend(int(c) for c in event_rng.integers(0, cfg.customers, size=count))
    if not active:
        return
    hit = (
        np.isin(batch.customer, np.array(active))
        & ~batch.fraud
        & (rng.random(batch.customer.size) < 1 / 3)
    )
    batch.amount[hit] = np.round(batch.amount[hit] * rng.uniform(2.0, 5.0, hit.sum()), 2)
    batch.fraud |= hit
    batch.scenario[hit] = 1


def _events(
    rng: np.random.Generator, events: int, per_event: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Row -> event index for ``events`` events of ``per_event`` rows each."""
    event = np.repeat(np.arange(events), per_event)
    return event, np.arange(event.size) - np.repeat(np.cumsum(per_event) - per_event, per_event)


def card_testing(
    world: World, cfg: SimulationConfig, rng: np.random.Generator, budget: float, salt: int
) -> Batch:
    events = rng.poisson(budget / 7.5)
    n_small = rng.integers(3, 9, events)
    n_large = rng.integers(1, 4, events)
    per_event = n_small + n_large
    event, position = _events(rng, events, per_event)
    is_small = position < np.repeat(n_small, per_event)
    card = rng.integers(0, cfg.customers, events)[event]
    start = rng.uniform(0, SECONDS_PER_DAY - 7_300, events)[event]
    offset = np.where(
        is_small, rng.uniform(0, 600, event.size), rng.uniform(600, 7_200, event.size)
    )
    amount = np.where(
        is_small, rng.uniform(0.5, 2.0, event.size), np.exp(rng.normal(6.0, 0.5, event.size))
    )
    merchant = rng.choice(world.web_shops, size=event.size)
    device = -(2 + salt * 1_000_000 + event)
    return fraud_batch(world, card, merchant, start + offset, amount, 2, 4, device, 2, rng)


def account_takeover(
    world: World, cfg: SimulationConfig, rng: np.random.Generator, budget: float, salt: int
) -> Batch:
    events = rng.poisson(budget / 2.5)
    per_event = rng.integers(1, 5, events)
    event, _ = _events(rng, events, per_event)
    card = rng.integers(0, cfg.customers, events)[event]
    start = rng.uniform(0, SECONDS_PER_DAY - 10_900, events)[event]
    seconds = start + rng.uniform(0, 10_800, event.size)
    amount = np.exp(rng.normal(5.8, 0.6, event.size))
    merchant = rng.choice(world.foreign_web_shops, size=event.size)
    device = -(2 + salt * 1_000_000 + 500_000 + event)
    return fraud_batch(world, card, merchant, seconds, amount, 2, 4, device, 3, rng)


def merchant_collusion(
    world: World, cfg: SimulationConfig, rng: np.random.Generator, budget: float
) -> Batch:
    events = rng.poisson(budget / 20.0)
    per_event = rng.integers(10, 31, events)
    event, _ = _events(rng, events, per_event)
    shop = rng.choice(world.web_shops, size=max(events, 1))[event]
    card = rng.integers(0, cfg.customers, event.size)
    seconds = rng.uniform(0, 5 * 3600, event.size)  # small hours of the night
    amount = rng.choice(np.array([49.0, 99.0, 149.0, 199.0, 299.0]), size=event.size)
    device = np.asarray(card * 2, dtype=np.int64)
    return fraud_batch(world, card, shop, seconds, amount, 2, 4, device, 4, rng)


def new_pattern(
    world: World, cfg: SimulationConfig, rng: np.random.Generator, budget: float
) -> Batch:
    """Domestic contactless sprees just below the no-PIN limit at nearby tills."""
    events = rng.poisson(budget / 7.0)
    per_event = rng.integers(4, 11, events)
    event, _ = _events(rng, events, per_event)
    card = rng.integers(0, cfg.customers, events)[event]
    start = rng.uniform(7 * 3600, SECONDS_PER_DAY - 3 * 3600 - 1, events)[event]
    seconds = start + rng.uniform(0, 3 * 3600, event.size)
    amount = np.round(rng.uniform(30.0, CONTACTLESS_LIMIT - 0.01, event.size), 2)
    merchant = pick_in_country(world, rng, world.cust_country[card], 0)
    device = np.full(event.size, -1)
    return fraud_batch(world, card, merchant, seconds, amount, 1, 2, device, 5, rng)


def fraud_batch(
    world: World,
    card: np.ndarray,
    merchant: np.ndarray,
    seconds: np.ndarray,
    amount: np.ndarray,
    channel: int,
    entry: int,
    device: np.ndarray,
    scenario: int,
    rng: np.random.Generator,
) -> Batch:
    n = card.size
    return Batch(
        customer=card.astype(np.int64),
        merchant=merchant.astype(np.int64),
        terminal=terminal_of(world, rng, merchant.astype(np.int64)),
        seconds=np.clip(seconds, 0, SECONDS_PER_DAY - 1e-3),
        amount=np.maximum(np.round(amount, 2), 0.5),
        channel=np.full(n, channel),
        entry=np.full(n, entry),
        device=device.astype(np.int64),
        country=world.merch_country[merchant.astype(np.int64)],
        fraud=np.ones(n, dtype=bool),
        scenario=np.full(n, scenario),
    )
