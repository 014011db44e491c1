"""A fast, seeded, vectorised transaction simulator with realistic fraud scenarios.

Every day is a pure function of ``(config, day_index)``: scenario events that span days
(compromised terminals and cards) are re-derived from the seed of the day they started,
so any single day can be regenerated on its own and equals the same day of a full run.
That is what makes a daily Airflow task idempotent and lets long runs stream day by day.

Scenarios (tagged in ``fraud_scenario``):

- ``compromised_terminal``: a skimmed terminal; all its transactions for 2-4 weeks are fraud.
- ``compromised_card``: a card in criminal hands for two weeks; a third of its
  transactions are fraud with inflated amounts.
- ``card_testing``: a burst of tiny e-commerce authorisations, then a few large ones.
- ``account_takeover``: a new device in a foreign country spending large amounts online.
- ``merchant_collusion``: a colluding web shop charging round amounts to many cards at night.
- ``drift_new_pattern`` (only after the drift day with kind ``new_pattern``): stealthy
  domestic contactless spending sprees just below the no-PIN limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

import numpy as np
import polars as pl

from fraudops.schema import conform

SECONDS_PER_DAY = 86_400
US = 1_000_000
DRIFT_KINDS = ("new_pattern", "amount_shift", "channel_mix")
# How long frauds take to be reported (see _label_delays):
# - realistic: a fast part (the card holder calls within days) and a chargeback part
#   (weeks: the statement arrives, the dispute is filed, the issuer confirms);
# - constant: every fraud exactly ``label_delay_mean_days`` later (the shape of an export
#   whose label time is "transaction time + N days");
# - gamma: 0.25 d plus a gamma draw with mean ``label_delay_mean_days`` (short delays).
LABEL_DELAY_MODELS = ("realistic", "constant", "gamma")

# country code, centre latitude, centre longitude, share of card holders, share of web shops
COUNTRIES = (
    ("FR", 46.6, 2.4, 0.55, 0.30),
    ("DE", 51.1, 10.4, 0.15, 0.15),
    ("ES", 40.4, -3.7, 0.10, 0.08),
    ("IT", 42.8, 12.5, 0.08, 0.07),
    ("BE", 50.6, 4.5, 0.05, 0.04),
    ("NL", 52.2, 5.3, 0.04, 0.06),
    ("GB", 53.0, -1.5, 0.03, 0.10),
    ("US", 39.0, -98.0, 0.0, 0.12),
    ("CN", 35.0, 103.0, 0.0, 0.04),
    ("NG", 9.0, 8.0, 0.0, 0.02),
    ("BR", -10.0, -52.0, 0.0, 0.02),
)
HOME_COUNTRIES = 7  # card holders and shops with a till live in the first seven

# mcc, log-mean amount, log-sd, share of merchants, kind (0 till, 1 web shop, 2 ATM)
MCCS = (
    ("5411", 3.3, 0.6, 0.22, 0),  # grocery
    ("5812", 3.4, 0.5, 0.16, 0),  # restaurants
    ("5541", 3.8, 0.3, 0.08, 0),  # fuel
    ("5311", 4.0, 0.8, 0.07, 0),  # department stores
    ("5999", 3.5, 0.8, 0.10, 0),  # miscellaneous retail
    ("4121", 3.0, 0.5, 0.04, 0),  # taxis
    ("7011", 5.2, 0.6, 0.03, 0),  # hotels
    ("5944", 5.5, 0.8, 0.02, 0),  # jewellery
    ("6011", 4.5, 0.5, 0.04, 2),  # ATM
    ("5732", 5.0, 0.9, 0.08, 1),  # electronics, online
    ("4511", 5.8, 0.6, 0.04, 1),  # airlines, online
    ("5815", 2.3, 0.8, 0.07, 1),  # digital goods, online
    ("5691", 4.2, 0.7, 0.05, 1),  # clothing, online
)
HOUR_WEIGHTS = np.array(
    [3, 2, 1, 1, 1, 2, 4, 8, 12, 14, 15, 16, 18, 17, 15, 15, 16, 18, 19, 18, 15, 11, 8, 5],
    dtype=float,
)
WEEKDAY_FACTOR = np.array([0.95, 0.95, 1.0, 1.0, 1.15, 1.2, 0.75])  # Monday .. Sunday
CONTACTLESS_LIMIT = 50.0


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that defines a simulated world and its days (all seeded)."""

    customers: int = 5_000
    merchants: int | None = None  # default: one per 10 customers, at least 50
    days: int = 30
    start: date = date(2026, 1, 1)
    seed: int = 42
    fraud_rate: float = 0.005
    tx_per_customer_per_day: float = 1.6
    label_delay_model: str = "realistic"
    label_delay_mean_days: float = 4.0  # the constant or gamma mean (not "realistic")
    label_fast_share: float = 0.4  # realistic: share of reported frauds the holder calls in
    label_fast_mean_days: float = 2.0
    label_chargeback_mean_days: float = 28.0
    unreported_fraction: float = 0.05
    drift_day: int | None = None  # day index from which the world changes
    drift_kinds: tuple[str, ...] = ("new_pattern",)
    drift_strength: float = 1.0
    scenario_shares: dict[str, float] = field(
        default_factory=lambda: {
            "compromised_terminal": 0.2,
            "compromised_card": 0.3,
            "card_testing": 0.15,
            "account_takeover": 0.25,
            "merchant_collusion": 0.1,
        }
    )

    def __post_init__(self) -> None:
        if self.customers < 10:
            raise ValueError("customers must be at least 10")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not 0 <= self.fraud_rate < 0.5:
            raise ValueError("fraud_rate must be in [0, 0.5)")
        if self.label_delay_model not in LABEL_DELAY_MODELS:
            raise ValueError(
                f"unknown label_delay_model {self.label_delay_model!r}; "
                f"choose from {LABEL_DELAY_MODELS}"
            )
        if self.label_delay_mean_days <= 0:
            raise ValueError("label_delay_mean_days must be > 0")
        if self.label_fast_mean_days <= 0.1 or self.label_chargeback_mean_days <= 3:
            raise ValueError(
                "label_fast_mean_days must be > 0.1 and label_chargeback_mean_days > 3 "
                "(the shortest call and chargeback)"
            )
        if not 0 <= self.label_fast_share <= 1:
            raise ValueError("label_fast_share must be in [0, 1]")
        if not 0 <= self.unreported_fraction <= 1:
            raise ValueError("unreported_fraction must be in [0, 1]")
        unknown = set(self.drift_kinds) - set(DRIFT_KINDS)
        if unknown:
            raise ValueError(f"unknown drift kind(s) {sorted(unknown)}; choose from {DRIFT_KINDS}")

    @property
    def n_merchants(self) -> int:
        return self.merchants or max(50, self.customers // 10)

    def day_of(self, index: int) -> date:
        return self.start + timedelta(days=index)

    def drifted(self, index: int, kind: str) -> bool:
        return self.drift_day is not None and index >= self.drift_day and kind in self.drift_kinds


@dataclass
class World:
    """Card holders, merchants and terminals: fixed for a seed, shared by all days."""

    config: SimulationConfig

    @cached_property
    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, 0xC0FFEE])

    def __post_init__(self) -> None:
        cfg, rng = self.config, self._rng
        n = cfg.customers
        home_share = np.array([c[3] for c in COUNTRIES[:HOME_COUNTRIES]])
        self.cust_country = rng.choice(HOME_COUNTRIES, size=n, p=home_share / home_share.sum())
        centre = np.array([[c[1], c[2]] for c in COUNTRIES])
        self.cust_lat = np.round(centre[self.cust_country, 0] + rng.normal(0, 1.2, n), 4)
        self.cust_lon = np.round(centre[self.cust_country, 1] + rng.normal(0, 1.6, n), 4)
        # activity and spending differ a lot between card holders
        self.cust_rate = rng.gamma(2.0, cfg.tx_per_customer_per_day / 2.0, n)
        self.cust_amount_offset = rng.normal(0, 0.35, n)
        self.cust_online_share = rng.beta(2, 6, n)
        self.cust_has_second_device = rng.random(n) < 0.3

        m = cfg.n_merchants
        mcc_share = np.array([x[3] for x in MCCS])
        self.merch_mcc = rng.choice(len(MCCS), size=m, p=mcc_share / mcc_share.sum())
        kind = np.array([x[4] for x in MCCS])[self.merch_mcc]
        self.merch_kind = kind
        shop_share = np.array([c[4] for c in COUNTRIES])
        till_country = rng.choice(HOME_COUNTRIES, size=m, p=home_share / home_share.sum())
        web_country = rng.choice(len(COUNTRIES), size=m, p=shop_share / shop_share.sum())
        self.merch_country = np.where(kind == 1, web_country, till_country)
        lat = centre[self.merch_country, 0] + rng.normal(0, 1.2, m)
        lon = centre[self.merch_country, 1] + rng.normal(0, 1.6, m)
        self.merch_lat = np.where(kind == 1, np.nan, np.round(lat, 4))
        self.merch_lon = np.where(kind == 1, np.nan, np.round(lon, 4))
        # web shops have one "terminal"; shops with tills one to three
        n_term = np.where(kind == 1, 1, rng.integers(1, 4, m))
        self.merch_first_terminal = np.concatenate([[0], np.cumsum(n_term)[:-1]])
        self.merch_n_terminals = n_term
        self.terminal_merchant = np.repeat(np.arange(m), n_term)
        self.terminal_local_index = np.arange(n_term.sum()) - np.repeat(
            self.merch_first_terminal, n_term
        )
        # popular merchants get more traffic (Zipf-like weights)
        self.merch_popularity = rng.pareto(1.5, m) + 1.0

        # index tables used to pick merchants per (country, kind) quickly
        self.pools: dict[tuple[int, int], np.ndarray] = {}
        for k in (0, 1, 2):
            for c in range(len(COUNTRIES)):
                members = np.flatnonzero((kind == k) & (self.merch_country == c))
                if members.size:
                    self.pools[(c, k)] = members
        self.web_shops = np.flatnonzero(kind == 1)
        self.tills = np.flatnonzero(kind == 0)
        self.atms = np.flatnonzero(kind == 2)
        self.foreign_web_shops = np.flatnonzero((kind == 1) & (self.merch_country >= 7))
        if self.foreign_web_shops.size == 0:
            self.foreign_web_shops = self.web_shops

        # string identifiers, built once and gathered per transaction
        self.card_ids = pl.Series([f"card-{i:07d}" for i in range(n)])
        self.customer_ids = pl.Series([f"cust-{i:07d}" for i in range(n)])
        self.merchant_ids = pl.Series([f"merch-{i:06d}" for i in range(m)])
        self.terminal_ids = pl.Series(
            [
                f"term-{mi:06d}-{li}"
                for mi, li in zip(self.terminal_merchant, self.terminal_local_index, strict=True)
            ]
        )
        self.mcc_codes = pl.Series([x[0] for x in MCCS])
        self.country_codes = pl.Series([c[0] for c in COUNTRIES])
        self.mcc_mu = np.array([x[1] for x in MCCS])
        self.mcc_sigma = np.array([x[2] for x in MCCS])

    def daily_genuine_volume(self) -> float:
        return float(self.cust_rate.sum())


@dataclass
class _Batch:
    """Columns of one day's transactions as numpy arrays (before string formatting)."""

    customer: np.ndarray
    merchant: np.ndarray
    terminal: np.ndarray
    seconds: np.ndarray  # seconds since the day's midnight, float
    amount: np.ndarray
    channel: np.ndarray  # index into CHANNEL_NAMES
    entry: np.ndarray  # index into ENTRY_NAMES
    device: np.ndarray  # int code, -1 none, >=0 card holder device, <= -2 fraudster device
    country: np.ndarray  # merchant country index (may differ for fraud overrides)
    fraud: np.ndarray  # bool
    scenario: np.ndarray  # index into SCENARIO_NAMES, -1 for none

    @staticmethod
    def concat(batches: list[_Batch]) -> _Batch:
        return _Batch(
            *[np.concatenate([getattr(b, f) for b in batches]) for f in _Batch.__dataclass_fields__]
        )


CHANNEL_NAMES = ("pos", "contactless", "ecom", "atm")
ENTRY_NAMES = ("chip", "magstripe", "contactless", "keyed", "ecom", "unknown")
SCENARIO_NAMES = (
    "compromised_terminal",
    "compromised_card",
    "card_testing",
    "account_takeover",
    "merchant_collusion",
    "drift_new_pattern",
)


def _pick(rng: np.random.Generator, pool: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    p = weights[pool]
    cumulative = np.cumsum(p) / p.sum()
    chosen: np.ndarray = pool[np.searchsorted(cumulative, rng.random(size), side="right")]
    return chosen


def _pick_in_country(
    world: World, rng: np.random.Generator, country: np.ndarray, kind: int
) -> np.ndarray:
    """Vectorised choice of a merchant of ``kind`` in each row's country (else anywhere)."""
    out = np.empty(country.size, dtype=np.int64)
    fallback = {0: world.tills, 1: world.web_shops, 2: world.atms}[kind]
    if fallback.size == 0:
        fallback = np.arange(world.config.n_merchants)
    for c in np.unique(country):
        rows = np.flatnonzero(country == c)
        pool = world.pools.get((int(c), kind), fallback)
        out[rows] = _pick(rng, pool, world.merch_popularity, rows.size)
    return out


def _terminal_of(world: World, rng: np.random.Generator, merchant: np.ndarray) -> np.ndarray:
    local = np.floor(rng.random(merchant.size) * world.merch_n_terminals[merchant]).astype(np.int64)
    terminal: np.ndarray = world.merch_first_terminal[merchant] + local
    return terminal


def _seconds_of_day(rng: np.random.Generator, size: int) -> np.ndarray:
    hours = rng.choice(24, size=size, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return hours * 3600.0 + rng.random(size) * 3600.0


def _genuine(world: World, cfg: SimulationConfig, index: int, rng: np.random.Generator) -> _Batch:
    weekday = cfg.day_of(index).weekday()
    online_boost = 2.0 * cfg.drift_strength if cfg.drifted(index, "channel_mix") else 1.0
    counts = rng.poisson(world.cust_rate * WEEKDAY_FACTOR[weekday])
    customer = np.repeat(np.arange(cfg.customers), counts)
    n = customer.size
    u = rng.random(n)
    online_share = np.minimum(world.cust_online_share[customer] * online_boost, 0.95)
    kind = np.where(u < online_share, 1, np.where(rng.random(n) < 0.05, 2, 0))
    # 4% of in-person spending happens while travelling abroad
    country = world.cust_country[customer].copy()
    travelling = (kind != 1) & (rng.random(n) < 0.04)
    country[travelling] = rng.integers(0, HOME_COUNTRIES, travelling.sum())
    merchant = np.empty(n, dtype=np.int64)
    for k in (0, 1, 2):
        rows = np.flatnonzero(kind == k)
        if k == 1:
            merchant[rows] = _pick(rng, world.web_shops, world.merch_popularity, rows.size)
        else:
            merchant[rows] = _pick_in_country(world, rng, country[rows], k)
    mcc = world.merch_mcc[merchant]
    log_amount = world.mcc_mu[mcc] + world.cust_amount_offset[customer]
    amount = np.exp(rng.normal(log_amount, world.mcc_sigma[mcc]))
    if cfg.drifted(index, "amount_shift"):
        amount *= 1.0 + 0.5 * cfg.drift_strength
    amount = np.maximum(np.round(amount, 2), 0.5)
    merchant_kind = world.merch_kind[merchant]
    channel, entry = _channel_and_entry(rng, merchant_kind, amount, index, cfg)
    device = np.where(
        merchant_kind == 1,
        customer * 2 + (world.cust_has_second_device[customer] & (rng.random(n) < 0.3)),
        -1,
    )
    return _Batch(
        customer=customer,
        merchant=merchant,
        terminal=_terminal_of(world, rng, merchant),
        seconds=_seconds_of_day(rng, n),
        amount=amount,
        channel=channel,
        entry=entry,
        device=device,
        country=world.merch_country[merchant],
        fraud=np.zeros(n, dtype=bool),
        scenario=np.full(n, -1),
    )


def _channel_and_entry(
    rng: np.random.Generator,
    merchant_kind: np.ndarray,
    amount: np.ndarray,
    index: int,
    cfg: SimulationConfig,
) -> tuple[np.ndarray, np.ndarray]:
    n = amount.size
    contactless_share = 0.6
    if cfg.drifted(index, "channel_mix"):
        contactless_share = min(0.95, 0.6 + 0.3 * cfg.drift_strength)
    tap = (merchant_kind == 0) & (amount < CONTACTLESS_LIMIT) & (rng.random(n) < contactless_share)
    channel = np.select([merchant_kind == 1, merchant_kind == 2, tap], [2, 3, 1], default=0)
    u = rng.random(n)
    entry = np.select([channel == 2, channel == 1, u < 0.93, u < 0.98], [4, 2, 0, 1], default=3)
    return channel, entry


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


def _apply_compromised_terminals(
    world: World, cfg: SimulationConfig, index: int, batch: _Batch, budget: float
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


def _apply_compromised_cards(
    world: World,
    cfg: SimulationConfig,
    index: int,
    batch: _Batch,
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


def _card_testing(
    world: World, cfg: SimulationConfig, rng: np.random.Generator, budget: float, salt: int
) -> _Batch:
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
    return _fraud_batch(world, card, merchant, start + offset, amount, 2, 4, device, 2, rng)


def _account_takeover(
    world: World, cfg: SimulationConfig, rng: np.random.Generator, budget: float, salt: int
) -> _Batch:
    events = rng.poisson(budget / 2.5)
    per_event = rng.integers(1, 5, events)
    event, _ = _events(rng, events, per_event)
    card = rng.integers(0, cfg.customers, events)[event]
    start = rng.uniform(0, SECONDS_PER_DAY - 10_900, events)[event]
    seconds = start + rng.uniform(0, 10_800, event.size)
    amount = np.exp(rng.normal(5.8, 0.6, event.size))
    merchant = rng.choice(world.foreign_web_shops, size=event.size)
    device = -(2 + salt * 1_000_000 + 500_000 + event)
    return _fraud_batch(world, card, merchant, seconds, amount, 2, 4, device, 3, rng)


def _merchant_collusion(
    world: World, cfg: SimulationConfig, rng: np.random.Generator, budget: float
) -> _Batch:
    events = rng.poisson(budget / 20.0)
    per_event = rng.integers(10, 31, events)
    event, _ = _events(rng, events, per_event)
    shop = rng.choice(world.web_shops, size=max(events, 1))[event]
    card = rng.integers(0, cfg.customers, event.size)
    seconds = rng.uniform(0, 5 * 3600, event.size)  # small hours of the night
    amount = rng.choice(np.array([49.0, 99.0, 149.0, 199.0, 299.0]), size=event.size)
    device = np.asarray(card * 2, dtype=np.int64)
    return _fraud_batch(world, card, shop, seconds, amount, 2, 4, device, 4, rng)


def _new_pattern(
    world: World, cfg: SimulationConfig, rng: np.random.Generator, budget: float
) -> _Batch:
    """Domestic contactless sprees just below the no-PIN limit at nearby tills."""
    events = rng.poisson(budget / 7.0)
    per_event = rng.integers(4, 11, events)
    event, _ = _events(rng, events, per_event)
    card = rng.integers(0, cfg.customers, events)[event]
    start = rng.uniform(7 * 3600, SECONDS_PER_DAY - 3 * 3600 - 1, events)[event]
    seconds = start + rng.uniform(0, 3 * 3600, event.size)
    amount = np.round(rng.uniform(30.0, CONTACTLESS_LIMIT - 0.01, event.size), 2)
    merchant = _pick_in_country(world, rng, world.cust_country[card], 0)
    device = np.full(event.size, -1)
    return _fraud_batch(world, card, merchant, seconds, amount, 1, 2, device, 5, rng)


def _fraud_batch(
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
) -> _Batch:
    n = card.size
    return _Batch(
        customer=card.astype(np.int64),
        merchant=merchant.astype(np.int64),
        terminal=_terminal_of(world, rng, merchant.astype(np.int64)),
        seconds=np.clip(seconds, 0, SECONDS_PER_DAY - 1e-3),
        amount=np.maximum(np.round(amount, 2), 0.5),
        channel=np.full(n, channel),
        entry=np.full(n, entry),
        device=device.astype(np.int64),
        country=world.merch_country[merchant.astype(np.int64)],
        fraud=np.ones(n, dtype=bool),
        scenario=np.full(n, scenario),
    )


def generate_day(world: World, index: int) -> pl.DataFrame:
    """All transactions of day ``index`` (0 = config.start), canonical schema, sorted by time."""
    cfg = world.config
    rng = np.random.default_rng([cfg.seed, index + 10_000, 7])
    batch = _genuine(world, cfg, index, rng)
    target = cfg.fraud_rate * batch.customer.size / max(1.0 - cfg.fraud_rate, 1e-9)
    share = cfg.scenario_shares
    _apply_compromised_terminals(
        world, cfg, index, batch, target * share.get("compromised_terminal", 0)
    )
    _apply_compromised_cards(
        world, cfg, index, batch, target * share.get("compromised_card", 0), rng
    )
    parts = [
        batch,
        _card_testing(world, cfg, rng, target * share.get("card_testing", 0), index),
        _account_takeover(world, cfg, rng, target * share.get("account_takeover", 0), index),
        _merchant_collusion(world, cfg, rng, target * share.get("merchant_collusion", 0)),
    ]
    if cfg.drifted(index, "new_pattern"):
        parts.append(_new_pattern(world, cfg, rng, 2.5 * cfg.drift_strength * target))
    return _to_frame(world, cfg, index, _Batch.concat(parts), rng)


def _label_delays(cfg: SimulationConfig, rng: np.random.Generator, size: int) -> np.ndarray:
    """Days until a fraud is reported (NaN when it never is), by ``label_delay_model``."""
    if cfg.label_delay_model == "constant":
        delays: np.ndarray = np.full(size, float(cfg.label_delay_mean_days))
    elif cfg.label_delay_model == "gamma":
        delays = 0.25 + rng.gamma(2.0, cfg.label_delay_mean_days / 2.0, size)
    else:
        # the holder's call: hours to a few days; a chargeback: one to eight weeks
        fast = 0.1 + rng.gamma(2.0, (cfg.label_fast_mean_days - 0.1) / 2.0, size)
        chargeback = 3.0 + rng.gamma(4.0, (cfg.label_chargeback_mean_days - 3.0) / 4.0, size)
        delays = np.where(rng.random(size) < cfg.label_fast_share, fast, chargeback)
    delays[rng.random(size) < cfg.unreported_fraction] = np.nan
    return delays


def _to_frame(
    world: World, cfg: SimulationConfig, index: int, b: _Batch, rng: np.random.Generator
) -> pl.DataFrame:
    order = np.argsort(b.seconds, kind="stable")
    b = _Batch(*[getattr(b, f)[order] for f in _Batch.__dataclass_fields__])
    day = cfg.day_of(index)
    midnight_us = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * US
    ts_us = midnight_us + (b.seconds * US).astype(np.int64)
    delays = _label_delays(cfg, rng, b.fraud.size)
    label_us = np.where(
        b.fraud & ~np.isnan(delays),
        ts_us + np.nan_to_num(delays * SECONDS_PER_DAY * US).astype(np.int64),
        0,
    )
    has_label = b.fraud & ~np.isnan(delays)
    n = b.customer.size
    customer = pl.Series(b.customer)
    frame = pl.DataFrame(
        {
            "transaction_id": pl.Series(np.arange(n)).cast(pl.String).str.zfill(8),
            "timestamp": pl.Series(ts_us).cast(pl.Datetime("us", "UTC")),
            "card_id": world.card_ids.gather(customer),
            "customer_id": world.customer_ids.gather(customer),
            "merchant_id": world.merchant_ids.gather(pl.Series(b.merchant)),
            "terminal_id": world.terminal_ids.gather(pl.Series(b.terminal)),
            "mcc": world.mcc_codes.gather(pl.Series(world.merch_mcc[b.merchant])),
            "amount": b.amount,
            "currency": pl.repeat("EUR", n, eager=True),
            "channel": pl.Series(np.array(CHANNEL_NAMES)[b.channel]),
            "entry_mode": pl.Series(np.array(ENTRY_NAMES)[b.entry]),
            "country": world.country_codes.gather(pl.Series(b.country)),
            "customer_lat": world.cust_lat[b.customer],
            "customer_lon": world.cust_lon[b.customer],
            "merchant_lat": pl.Series(world.merch_lat[b.merchant], nan_to_null=True),
            "merchant_lon": pl.Series(world.merch_lon[b.merchant], nan_to_null=True),
            "device": b.device,
            "is_fraud": b.fraud.astype(np.int8),
            "fraud_scenario": pl.Series(np.array((*SCENARIO_NAMES, ""))[b.scenario]),
            "label_available_at": pl.Series(label_us).cast(pl.Datetime("us", "UTC")),
            "has_label": has_label,
        }
    )
    frame = frame.with_columns(
        transaction_id=pl.lit(f"tx-{day:%Y%m%d}-") + pl.col("transaction_id"),
        device_id=pl.when(pl.col("device") >= 0)
        .then(pl.lit("dev-") + pl.col("device").cast(pl.String).str.zfill(8))
        .when(pl.col("device") <= -2)
        .then(pl.lit(f"fdev-{cfg.seed}-") + (-pl.col("device")).cast(pl.String))
        .otherwise(None),
        fraud_scenario=pl.when(pl.col("is_fraud") == 1)
        .then(pl.col("fraud_scenario"))
        .otherwise(None),
        label_available_at=pl.when(pl.col("has_label"))
        .then(pl.col("label_available_at"))
        .otherwise(None),
    )
    return conform(frame)


def iter_days(
    config: SimulationConfig, day_indices: range | None = None
) -> Iterator[tuple[date, pl.DataFrame]]:
    """Stream the simulation day by day (memory stays at one day's worth)."""
    world = World(config)
    for index in day_indices if day_indices is not None else range(config.days):
        yield config.day_of(index), generate_day(world, index)


def generate(config: SimulationConfig) -> pl.DataFrame:
    """The whole simulation as one frame (for small runs and tests)."""
    return pl.concat([frame for _, frame in iter_days(config)])
