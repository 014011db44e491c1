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
from datetime import UTC, date, datetime

import numpy as np
import polars as pl

from fraudops.data.scenarios import (
    account_takeover,
    apply_compromised_cards,
    apply_compromised_terminals,
    card_testing,
    merchant_collusion,
    new_pattern,
)
from fraudops.data.world import (
    CHANNEL_NAMES,
    CONTACTLESS_LIMIT,
    DRIFT_KINDS,
    ENTRY_NAMES,
    HOME_COUNTRIES,
    LABEL_DELAY_MODELS,
    SCENARIO_NAMES,
    SECONDS_PER_DAY,
    US,
    WEEKDAY_FACTOR,
    Batch,
    SimulationConfig,
    World,
    pick,
    pick_in_country,
    seconds_of_day,
    terminal_of,
)
from fraudops.schema import conform

__all__ = [
    "DRIFT_KINDS",
    "LABEL_DELAY_MODELS",
    "SimulationConfig",
    "World",
    "generate",
    "generate_day",
    "iter_days",
]


def _genuine(world: World, cfg: SimulationConfig, index: int, rng: np.random.Generator) -> Batch:
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
            merchant[rows] = pick(rng, world.web_shops, world.merch_popularity, rows.size)
        else:
            merchant[rows] = pick_in_country(world, rng, country[rows], k)
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
    return Batch(
        customer=customer,
        merchant=merchant,
        terminal=terminal_of(world, rng, merchant),
        seconds=seconds_of_day(rng, n),
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


def generate_day(world: World, index: int) -> pl.DataFrame:
    """All transactions of day ``index`` (0 = config.start), canonical schema, sorted by time."""
    cfg = world.config
    rng = np.random.default_rng([cfg.seed, index + 10_000, 7])
    batch = _genuine(world, cfg, index, rng)
    target = cfg.fraud_rate * batch.customer.size / max(1.0 - cfg.fraud_rate, 1e-9)
    share = cfg.scenario_shares
    apply_compromised_terminals(
        world, cfg, index, batch, target * share.get("compromised_terminal", 0)
    )
    apply_compromised_cards(
        world, cfg, index, batch, target * share.get("compromised_card", 0), rng
    )
    parts = [
        batch,
        card_testing(world, cfg, rng, target * share.get("card_testing", 0), index),
        account_takeover(world, cfg, rng, target * share.get("account_takeover", 0), index),
        merchant_collusion(world, cfg, rng, target * share.get("merchant_collusion", 0)),
    ]
    if cfg.drifted(index, "new_pattern"):
        parts.append(new_pattern(world, cfg, rng, 2.5 * cfg.drift_strength * target))
    return _to_frame(world, cfg, index, Batch.concat(parts), rng)


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
    world: World, cfg: SimulationConfig, index: int, b: Batch, rng: np.random.Generator
) -> pl.DataFrame:
    order = np.argsort(b.seconds, kind="stable")
    b = Batch(*[getattr(b, f)[order] for f in Batch.__dataclass_fields__])
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
