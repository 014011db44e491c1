"""The embedded closed loop behind ``fraudops demo``.

Day by day: new transactions arrive, are validated and stored, scored through the same
``ScoringService`` the API uses (online features, champion, decisions), chargebacks
arrive with their delay and feed the online risk features and the label log, monitoring
judges the day; when its verdict asks for it, the loop retrains on the most recent
labelled window, registers a challenger and promotes it only through the gate — then
hot-swaps the served model exactly as the API's reload does.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from fraudops.config import Settings
from fraudops.data import store
from fraudops.data.generate import SimulationConfig, World, generate_day
from fraudops.features.spec import max_retention
from fraudops.models.decision import FLAGGED
from fraudops.monitoring.records import MonitoringRecord
from fraudops.monitoring.retrain import RetrainPolicy
from fraudops.pipelines.data import generate_to_store, validate_dataset
from fraudops.pipelines.monitoring import run_monitoring
from fraudops.pipelines.training import TrainingOptions, run_training

if TYPE_CHECKING:
    from fraudops.pipelines.analysts import AnalystDesk, AnalystTeam
    from fraudops.serving.decisions import DecisionStage
    from fraudops.serving.service import ScoringService

logger = logging.getLogger(__name__)

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class LoopConfig:
    days: int = 60
    drift_day: int | None = 40
    warmup_days: int = 30
    seed: int = 42
    customers: int = 3_000
    fraud_rate: float = 0.006
    drift_kinds: tuple[str, ...] = ("new_pattern", "channel_mix")
    initial_models: tuple[str, ...] = ("lr", "rf", "xgb", "lgbm")
    retrain_models: tuple[str, ...] = ("lgbm",)
    retrain_cooldown_days: int = 4
    retrain_history_days: int = 28
    delay_days: int = 3
    test_days: int = 4
    # live performance is judged on days whose labels have mostly arrived: with the
    # simulator's realistic delays (a call within days, a chargeback after weeks) a week
    # leaves most frauds looking genuine and the live-AP floor would fire every day
    label_maturity_days: int = 21
    k: int = 50
    # simulated before day 0 so that every feature window is full from day 0 on
    burn_in_days: int = field(default_factory=lambda: max_retention().days)
    # rules the service decides with around the model (None: the model's thresholds alone)
    rules_path: Path | None = None
    # a simulated analyst team working the review queue (None: chargebacks are the only
    # labels, as before the queue existed)
    analysts: AnalystTeam | None = None

    def __post_init__(self) -> None:
        if self.warmup_days < 21:
            raise ValueError(
                "warmup_days must be at least 21 (training needs a window, a gap and a test)"
            )
        if self.days <= self.warmup_days:
            raise ValueError(
                f"days ({self.days}) must be larger than warmup_days ({self.warmup_days})"
            )
        if self.drift_day is not None and not self.warmup_days <= self.drift_day < self.days:
            raise ValueError(
                f"drift_day must fall in the live part [{self.warmup_days}, {self.days})"
            )


@dataclass
class DayResult:
    day: int
    date: str
    transactions: int
    frauds: int
    frauds_caught: int
    labels_received: int
    drift_share: float | None
    score_psi: float | None
    live_ap: float | None
    retrain_verdict: bool
    reasons: list[str]
    champion_version: int | None
    retrained: bool = False
    promoted_version: int | None = None
    gate_reason: str | None = None
    analyst_verdicts: int = 0
    analyst_frauds_confirmed: int = 0
    analyst_rule: str | None = None


@dataclass
class LoopResult:
    days: list[DayResult] = field(default_factory=list)
    initial_training: dict[str, Any] = field(default_factory=dict)
    retrainings: list[dict[str, Any]] = field(default_factory=list)
    analysts: dict[str, Any] | None = None


def _midnight(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _interleave(
    transactions: pl.DataFrame, labels: pl.DataFrame
) -> list[tuple[str, list[dict[str, Any]] | dict[str, Any]]]:
    """Transactions in chunks between label events, all in time order, so a label counts
    for the transactions after it (as it would in production)."""
    steps: list[tuple[str, Any]] = []
    rows = transactions.to_dicts()
    times = transactions["timestamp"].to_list()
    label_rows = labels.sort("reported_at").to_dicts()
    i = 0
    for label in label_rows:
        j = i
        while j < len(rows) and times[j] < label["reported_at"]:
            j += 1
        if j > i:
            steps.append(("score", rows[i:j]))
        steps.append(("label", label))
        i = j
    if i < len(rows):
        steps.append(("score", rows[i:]))
    return steps


def _policy(config: LoopConfig) -> DecisionStage | None:
    """The API's policy stage on the loop's rules; lists in memory, judged at event time."""
    if config.rules_path is None:
        return None
    from fraudops.decisions.lists import ListCache, MemoryListBackend
    from fraudops.features.spec import feature_names
    from fraudops.serving.decisions import DecisionStage, RulesHolder, event_time

    rules = RulesHolder(config.rules_path)
    if not config.rules_path.exists():
        raise FileNotFoundError(f"rules file {config.rules_path} does not exist")
    rules.reload(force=True)
    if rules.status.last_error:
        raise ValueError(rules.status.last_error)
    lists = ListCache(MemoryListBackend())
    return DecisionStage(rules, lists, feature_names(), clock=event_time)


def _play(
    service: ScoringService,
    transactions: pl.DataFrame,
    labels: pl.DataFrame,
    decisions: dict[str, str],
) -> None:
    """Score ``transactions`` with ``labels`` arriving between them, in time order."""
    for kind, item in _interleave(transactions, labels):
        if kind == "score":
            assert isinstance(item, list)
            for prediction in service.score(item):
                decisions[prediction["transaction_id"]] = prediction["decision"]
        else:
            assert isinstance(item, dict)
            service.add_label(item["transaction_id"], int(item["is_fraud"]), item["reported_at"])


def _open_desk(
    settings: Settings, team: AnalystTeam, service: ScoringService, policy: DecisionStage | None
) -> AnalystDesk:
    from fraudops.cases.store import open_store
    from fraudops.pipelines.analysts import AnalystDesk

    # the demo's own case store, under its workspace (reset with it), whatever
    # FRAUDOPS_CASES_URL says: `fraudops serve` on the same home shows these cases
    url = f"sqlite:///{(Path(settings.home) / 'cases.db').resolve()}"
    return AnalystDesk(team, open_store(url), service, policy)


def run_loop(settings: Settings, config: LoopConfig, emit: Event | None = None) -> LoopResult:
    """Run the whole simulation; ``settings.home`` is the loop's (fresh) workspace."""
    from fraudops.data.logs import AppendLog
    from fraudops.features.online import OnlineFeatureEngine, open_online_store, warm_up_days
    from fraudops.serving.metrics import ServiceMetrics
    from fraudops.serving.model_loader import ModelHolder
    from fraudops.serving.service import ScoringService

    emit = emit or (lambda _k, _p: None)
    burn = config.burn_in_days
    sim = SimulationConfig(
        customers=config.customers,
        days=burn + config.days,
        start=date(2026, 1, 1) - timedelta(days=burn),
        seed=config.seed,
        fraud_rate=config.fraud_rate,
        drift_day=None if config.drift_day is None else burn + config.drift_day,
        drift_kinds=config.drift_kinds,
    )
    options = settings.storage_options()
    raw, validated = settings.dataset_uri("raw"), settings.dataset_uri("validated")
    clean = store.join_uri(validated, "clean")
    result = LoopResult()

    # 1. history: the warm-up days, validated and stored
    generate_to_store(sim, raw, options, range(burn + config.warmup_days))
    validate_dataset(raw, validated, settings.max_bad_fraction, options)
    emit("history", {"days": config.warmup_days, "burn_in_days": burn})

    # 2. the first champion, from all four algorithms
    first_live = _midnight(sim.day_of(burn + config.warmup_days))
    summary = run_training(
        settings,
        validated,
        TrainingOptions(
            models=config.initial_models,
            delay_days=7,
            test_days=7,
            test_end=first_live,
            k=config.k,
            reason="initial",
            label_cutoff=first_live,  # built on day 0 of the live part, with what it knows
        ),
        emit=lambda kind, payload: emit(f"train:{kind}", payload),
    )
    result.initial_training = summary
    emit("trained", summary)

    # 3. the service, exactly as the API assembles it, warmed with the history
    metrics = ServiceMetrics()
    holder = ModelHolder(settings, metrics)
    if not holder.reload():
        raise RuntimeError(f"no champion after initial training: {holder.status.last_error}")
    engine = OnlineFeatureEngine(open_online_store("memory://"))
    history = store.read_dataset(clean, storage_options=options)
    warm_from = first_live - timedelta(days=warm_up_days())
    engine.backfill(history.filter(pl.col("timestamp") >= warm_from))
    prediction_log = AppendLog(settings.dataset_uri("predictions"), storage_options=options)
    label_log = AppendLog(settings.dataset_uri("label_feed"), storage_options=options)
    service = ScoringService(
        holder, engine, prediction_log, label_log, metrics, decisions=_policy(config)
    )
    pending_labels = history.filter(pl.col("label_available_at") >= first_live).select(
        "transaction_id", "is_fraud", pl.col("label_available_at").alias("reported_at")
    )

    policy_stage = service.decisions
    desk = (
        _open_desk(settings, config.analysts, service, policy_stage)
        if config.analysts is not None
        else None
    )
    drift_at = (
        _midnight(sim.day_of(burn + config.drift_day)) if config.drift_day is not None else None
    )

    world = World(sim)
    policy = RetrainPolicy.from_settings(
        settings, cooldown=timedelta(days=config.retrain_cooldown_days)
    )
    triggers: list[datetime] = []
    alarm_yesterday = False
    for index in range(burn + config.warmup_days, burn + config.days):
        day = sim.day_of(index)
        end = _midnight(day) + timedelta(days=1)
        frame = generate_day(world, index)
        store.write_partition(raw, day, frame, options)
        validate_dataset(raw, validated, settings.max_bad_fraction, options, day, day)
        arrived = store.read_dataset(clean, day, day, options).sort("timestamp", "transaction_id")
        new_labels = arrived.filter(pl.col("label_available_at").is_not_null()).select(
            "transaction_id", "is_fraud", pl.col("label_available_at").alias("reported_at")
        )
        pending_labels = pl.concat([pending_labels, new_labels])
        today_labels = pending_labels.filter(pl.col("reported_at") < end)
        pending_labels = pending_labels.filter(pl.col("reported_at") >= end)
        decisions: dict[str, str] = {}
        verdicts_before = len(desk.verdicts) if desk else 0
        if desk is None:
            _play(service, arrived, today_labels, decisions)
        else:
            # the team works the queue in shifts: what it confirms at noon is a label for
            # the afternoon's transactions, not for next month's
            from fraudops.pipelines.analysts import shift_times

            desk.learn_truth(arrived)
            start = _midnight(day)
            shifts = shift_times(start, desk.team)
            budgets = desk.team.shift_budgets()
            for stop, budget in [*zip(shifts, budgets, strict=True), (end, 0)]:

                def within(column: str, lo: datetime = start, hi: datetime = stop) -> pl.Expr:
                    return (pl.col(column) >= lo) & (pl.col(column) < hi)

                _play(
                    service,
                    arrived.filter(within("timestamp")),
                    today_labels.filter(within("reported_at")),
                    decisions,
                )
                if budget:
                    desk.work_shift(stop, budget)
                    if drift_at is not None and stop >= drift_at and desk.may_draft:
                        prediction_log.flush()
                        label_log.flush()
                        desk.draft_from_confirmed(settings, drift_at, stop, index - burn)
                start = stop
        prediction_log.flush()
        label_log.flush()
        frauds = arrived.filter(pl.col("is_fraud") == 1)["transaction_id"].to_list()
        caught = sum(decisions.get(t) in FLAGGED for t in frauds)

        serving = holder.current
        assert serving is not None
        record: MonitoringRecord = run_monitoring(
            settings,
            end,
            timedelta(days=1),
            performance_days=7,
            # the full Evidently report (seconds) when an alarm starts, not every day it lasts
            report="auto" if not alarm_yesterday else "never",
            k=config.k,
            model=serving.model,
            model_version=serving.version,
            source="predictions",
        )
        outcome = DayResult(
            day=index - burn,
            date=day.isoformat(),
            transactions=arrived.height,
            frauds=len(frauds),
            frauds_caught=caught,
            labels_received=today_labels.height,
            drift_share=record.drift_share,
            score_psi=record.score_psi,
            live_ap=record.live_average_precision,
            retrain_verdict=record.verdict.retrain,
            reasons=record.verdict.reasons,
            champion_version=serving.version,
        )
        if desk is not None:
            today = desk.verdicts[verdicts_before:]
            outcome.analyst_verdicts = len(today)
            outcome.analyst_frauds_confirmed = sum(v.is_fraud for v in today)
            if desk.drafted is not None and desk.drafted_day == index - burn:
                outcome.analyst_rule = desk.drafted.rule.condition
        decision = policy.decide(record.verdict.reasons, end, triggers)
        if decision.retrain:
            triggers.append(end)
            retrain = run_training(
                settings,
                validated,
                TrainingOptions(
                    models=config.retrain_models,
                    train_start=end - timedelta(days=config.retrain_history_days),
                    delay_days=config.delay_days,
                    test_days=config.test_days,
                    test_end=end,
                    k=config.k,
                    reason=decision.reason,
                    label_cutoff=end,
                    log_pyfunc=False,
                ),
            )
            promotion = retrain.get("promotion") or {}
            outcome.retrained = True
            outcome.gate_reason = promotion.get("reason")
            if promotion.get("promoted"):
                holder.reload()  # the API's hot swap, same code
                outcome.promoted_version = retrain["registered_version"]
            result.retrainings.append({"day": index - burn, **retrain})
        alarm_yesterday = record.verdict.retrain
        result.days.append(outcome)
        emit("day", outcome.__dict__)
    prediction_log.close()
    label_log.close()
    if desk is not None:
        desk.close()
        result.analysts = desk.summary()
    return result


def reset_workspace(home: Path) -> None:
    """The demo owns its folder: data and registry from an earlier demo are removed."""
    for name in ("data", "mlflow", "reports"):
        target = home / name
        if target.exists():
            shutil.rmtree(target)
    for name in ("demo-summary.json", "report.html", "cases.db"):
        (home / name).unlink(missing_ok=True)
