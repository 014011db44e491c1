"""The simulated world: its configuration, card holders, merchants and terminals, and the
vectorised draws the genuine traffic and the fraud scenarios share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

import numpy as np
import polars as pl

from fraudops.schema import CHANNELS, ENTRY_MODES, FRAUD_SCENARIOS

SECONDS_PER_DAY = 86_400
US = 1_000_000
DRIFT_KINDS = ("new_pattern", "amount_shift", "channel_mix")
# How long frauds take to be reported (see generate._label_delays):
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
class Batch:
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
    def concat(batches: list[Batch]) -> Batch:
        return Batch(
            *[np.concatenate([getattr(b, f) for b in batches]) for f in Batch.__dataclass_fields__]
        )


# the simulator codes channels, entry modes and scenarios as indices into the schema's lists
CHANNEL_NAMES = CHANNELS
ENTRY_NAMES = ENTRY_MODES
SCENARIO_NAMES = FRAUD_SCENARIOS


def pick(rng: np.random.Generator, pool: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    p = weights[pool]
    cumulative = np.cumsum(p) / p.sum()
    chosen: np.ndarray = pool[np.searchsorted(cumulative, rng.random(size), side="right")]
    return chosen


def pick_in_country(
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
        out[rows] = pick(rng, pool, world.merch_popularity, rows.size)
    return out


def terminal_of(world: World, rng: np.random.Generator, merchant: np.ndarray) -> np.ndarray:
    local = np.floor(rng.random(merchant.size) * world.merch_n_terminals[merchant]).astype(np.int64)
    terminal: np.ndarray = world.merch_first_terminal[merchant] + local
    return terminal


def seconds_of_day(rng: np.random.Generator, size: int) -> np.ndarray:
    hours = rng.choice(24, size=size, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return hours * 3600.0 + rng.random(size) * 3600.0
