"""The demo's simulated analyst team, working the real review queue.

A fraud team reviews a few dozen cases a day, riskiest card first, and is right most of
the time. Its verdicts go to the label feed the moment they are given (``source=analyst``),
so the online fraud-history features and the next retraining hear of a new pattern the
same day instead of weeks later when the chargebacks come; a confirmed card is put on the
block list. After a drift, once the team has confirmed a handful of frauds, it drafts one
rule from them (what the confirmed frauds share, kept narrow enough to be worked) and puts
it in force, as an analyst would after looking at the first cases of a new pattern.

Everything the team does goes through the components a real team uses: the case store's
queue and state transitions (with their audit trail), the scoring service's label path,
the block list and the rules holder. Only the people are simulated.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from fraudops.cases.recorder import CaseRecorder
from fraudops.cases.store import CaseStore
from fraudops.config import Settings
from fraudops.data import store
from fraudops.decisions.expressions import compile_condition
from fraudops.decisions.lists import ListEntry
from fraudops.decisions.rules import Rule, RuleSet

if TYPE_CHECKING:
    from fraudops.serving.decisions import DecisionStage
    from fraudops.serving.service import ScoringService

logger = logging.getLogger(__name__)
ACTOR = "analyst-team"
# what a drafted rule may combine: a shared channel/entry mode, the amount band of the
# confirmed frauds, and one card-velocity floor that keeps the rule narrow
CATEGORICAL_FIELDS = ("channel", "entry_mode")
VELOCITY_FEATURES = (
    "card_tx_count_1h",
    "card_tx_count_24h",
    "card_amount_sum_1h",
    "card_amount_sum_24h",
)
DRAFTED_RULE = "analyst_drift_pattern"


@dataclass(frozen=True)
class AnalystTeam:
    """The team's capacity and habits (the demo's defaults)."""

    capacity: int = 40  # cases worked per day
    accuracy: float = 0.95  # share of verdicts that are right
    shift_hours: tuple[int, ...] = (10, 13, 16, 19, 22)  # when the queue is worked (UTC)
    # a confirmed card is blocked until its replacement is issued; the simulator keeps the
    # holder's spending on the same card id, so a longer block would decline the new
    # card's genuine payments
    block_days: int = 1
    rule_after_frauds: int = 10  # frauds known since the drift before a rule is drafted
    rule_min_frauds: int = 5  # of them sharing a channel and entry mode
    rule_min_coverage: float = 0.8  # share of that group the rule must still catch
    # share of the day's transactions the rule may send to review: a narrow rule, sized to
    # the traffic (a larger issuer has a larger team) — ~135 a day in the demo's world
    rule_max_review_share: float = 0.03
    seed: int = 0

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError("the analyst team's capacity must be at least one case a day")
        if not 0.5 <= self.accuracy <= 1:
            raise ValueError("analyst accuracy must be between 0.5 and 1")
        if not self.shift_hours or any(not 0 < h <= 24 for h in self.shift_hours):
            raise ValueError("shift hours must be in (0, 24]")

    def shift_budgets(self) -> list[int]:
        """Cases per shift: the day's capacity spread over the shifts (earlier ones first)."""
        n = len(self.shift_hours)
        return [self.capacity // n + (1 if i < self.capacity % n else 0) for i in range(n)]


@dataclass(frozen=True)
class Verdict:
    transaction_id: str
    card_id: str
    is_fraud: int
    right: bool
    at: datetime


def work_queue(
    cases: CaseStore,
    truth: Mapping[str, int],
    now: datetime,
    budget: int,
    accuracy: float,
    rng: np.random.Generator,
) -> list[Verdict]:
    """Work up to ``budget`` cases, riskiest card first, a card's cases together.

    ``truth`` is what the simulator knows; a verdict is right with probability
    ``accuracy`` and the opposite otherwise (both are recorded as the analyst's word).
    """
    verdicts: list[Verdict] = []
    for group in cases.queue(limit=budget):
        for case in group.cases:
            if len(verdicts) >= budget:
                return verdicts
            fraud = truth.get(case.transaction_id, 0) == 1
            right = bool(rng.random() < accuracy)
            verdict = "fraud" if fraud == right else "genuine"
            if case.state == "open":
                cases.transition(case.id, "in_review", ACTOR, now)
            cases.transition(case.id, verdict, ACTOR, now, "simulated analyst")
            verdicts.append(
                Verdict(case.transaction_id, case.card_id, int(verdict == "fraud"), right, now)
            )
    return verdicts


@dataclass(frozen=True)
class DraftedRule:
    rule: Rule
    coverage: float  # share of all the known frauds it catches
    hits_per_day: float  # traffic it would have sent to review


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _matches(condition: str, frame: pl.DataFrame) -> int:
    if frame.height == 0:
        return 0
    return int(frame.select(compile_condition(condition).expression.sum()).item())


def _candidates(confirmed: pl.DataFrame, team: AnalystTeam) -> list[tuple[list[str], pl.DataFrame]]:
    """(shared clauses, the confirmed frauds they describe): one per channel/entry-mode
    combination seen in at least ``rule_min_frauds`` of them, most common first. A new
    pattern rarely comes alone: the frauds confirmed after a drift mix it with the old
    kinds, so the rule is drafted from the group it forms, not from all of them."""
    groups = (
        confirmed.group_by(list(CATEGORICAL_FIELDS))
        .len()
        .filter(pl.col("len") >= team.rule_min_frauds)
        .sort(["len", *CATEGORICAL_FIELDS], descending=[True, False, False])
    )
    out = []
    for row in groups.iter_rows(named=True):
        clauses = [f'{c} == "{row[c]}"' for c in CATEGORICAL_FIELDS if row[c] is not None]
        members = confirmed.filter(
            pl.all_horizontal([pl.col(c) == row[c] for c in CATEGORICAL_FIELDS])
        )
        out.append((clauses, members))
    return out


def draft_rule(
    confirmed: pl.DataFrame,
    traffic: pl.DataFrame,
    traffic_days: float,
    team: AnalystTeam,
    drafted_on: str,
) -> DraftedRule | None:
    """The rule that catches the most confirmed frauds within the volume the team can
    review: a shared channel and entry mode, the amount band of those frauds and one
    card-velocity floor that still lets ``rule_min_coverage`` of them through.

    ``confirmed``: fields and features of transactions known to be fraud (the team's
    verdicts and the card holders' reports); ``traffic``: the same columns for everything
    scored over ``traffic_days`` days, to judge the rule's volume — all an analyst can
    judge it by on the first day. None when no candidate fits.
    """
    if confirmed.height == 0 or traffic_days <= 0:
        return None
    max_hits_per_day = team.rule_max_review_share * traffic.height / traffic_days
    best: tuple[int, float, Rule] | None = None
    for shared, members in _candidates(confirmed, team):
        low, high = np.quantile(members["amount"].to_numpy(), [0.05, 0.95])
        band = f"amount >= {_number(math.floor(low))} and amount <= {_number(math.ceil(high))}"
        for feature in VELOCITY_FEATURES:
            values = members[feature].drop_nulls().to_numpy()
            if values.size == 0:
                continue
            quantile = float(np.quantile(values, 1 - team.rule_min_coverage))
            # counts are whole numbers: ">= 1.79 transactions" reads as ">= 2"
            floor = math.ceil(quantile) if "count" in feature else math.floor(quantile * 100) / 100
            condition = " and ".join([*shared, band, f"{feature} >= {_number(floor)}"])
            caught = _matches(condition, members)
            hits_per_day = _matches(condition, traffic) / traffic_days
            if caught < team.rule_min_coverage * members.height:
                continue
            if hits_per_day > max_hits_per_day:
                continue
            if best is None or (caught, -hits_per_day) > (best[0], -best[1]):
                rule = Rule(
                    name=DRAFTED_RULE,
                    condition=condition,
                    outcome="review",
                    priority=70,
                    case=True,
                    description=(
                        f"Drafted on {drafted_on} from {members.height} of the "
                        f"{confirmed.height} frauds known since the drift: catches {caught} "
                        f"of them, ~{hits_per_day:.0f} reviews a day."
                    ),
                )
                best = (caught, hits_per_day, rule)
    if best is None:
        return None
    caught, hits_per_day, rule = best
    return DraftedRule(rule, round(caught / confirmed.height, 3), round(hits_per_day, 1))


def recovery_days(
    days: Sequence[Mapping[str, int]], drift_day: int, level: float = 0.8, window: int = 3
) -> int | None:
    """Days from the drift until the share of frauds caught is back to ``level`` of its
    pre-drift value (judged over a trailing ``window`` of days, all after the drift, so
    one lucky day does not count); None if it never is within the run.

    ``days``: ``{"day", "frauds", "frauds_caught"}`` per live day, in order.
    """
    before = [d for d in days if d["day"] < drift_day]
    frauds_before = sum(d["frauds"] for d in before)
    if frauds_before == 0:
        return None
    target = level * sum(d["frauds_caught"] for d in before) / frauds_before
    after = [d for d in days if d["day"] >= drift_day]
    for end in range(window, len(after) + 1):
        span = after[end - window : end]
        frauds = sum(d["frauds"] for d in span)
        if frauds and sum(d["frauds_caught"] for d in span) / frauds >= target:
            return int(span[-1]["day"]) - drift_day
    return None


def shift_times(day_start: datetime, team: AnalystTeam) -> list[datetime]:
    return [day_start + timedelta(hours=h) for h in team.shift_hours]


class AnalystDesk:
    """The team at work in the loop: cases come from the service's recorder, verdicts go
    back through the service's label path, blocks to the policy's block list, and one
    drafted rule to its rules holder."""

    def __init__(
        self,
        team: AnalystTeam,
        store: CaseStore,
        service: ScoringService,
        policy: DecisionStage | None,
    ) -> None:
        self.team, self.store, self.service, self.policy = team, store, service, policy
        self.now = datetime.min
        self.recorder = CaseRecorder(store, self._case_rules, clock=lambda: self.now)
        self.recorder.start()
        service.cases = self.recorder
        self.rng = np.random.default_rng(team.seed)
        self.truth: dict[str, int] = {}
        self.verdicts: list[Verdict] = []
        self.drafted: DraftedRule | None = None
        self.drafted_day: int | None = None

    def _case_rules(self) -> frozenset[str]:
        current = self.policy.rules.current if self.policy is not None else None
        rules = current.rules if current is not None else ()
        return frozenset(r.name for r in rules if r.case and r.active)

    def learn_truth(self, frame: pl.DataFrame) -> None:
        """What the simulator knows of today's transactions (the analysts' eyes)."""
        pairs = frame.select("transaction_id", "is_fraud").iter_rows()
        self.truth.update((str(t), int(f)) for t, f in pairs)

    def work_shift(self, now: datetime, budget: int) -> list[Verdict]:
        self.now = now
        self.recorder.drain()  # every case opened so far is in the queue
        verdicts = work_queue(self.store, self.truth, now, budget, self.team.accuracy, self.rng)
        lists = self.policy.lists if self.policy is not None else None
        for verdict in verdicts:
            self.service.add_label(
                verdict.transaction_id, verdict.is_fraud, verdict.at, source="analyst"
            )
            if verdict.is_fraud and lists is not None:
                lists.add(
                    ListEntry(
                        list="block",
                        kind="card",
                        value=verdict.card_id,
                        expires_at=now + timedelta(days=self.team.block_days),
                        reason=f"fraud confirmed on {verdict.transaction_id}",
                        added_by=ACTOR,
                        added_at=now,
                    )
                )
        self.verdicts.extend(verdicts)
        return verdicts

    @property
    def may_draft(self) -> bool:
        """A rule can still be drafted: none yet, and a policy to put it in."""
        return self.drafted is None and self.policy is not None

    def draft_from_confirmed(
        self, settings: Settings, drift_at: datetime, now: datetime, day: int
    ) -> None:
        """Once enough frauds since the drift are known — the team's own verdicts and the
        card holders' reports in the label feed — the team drafts one rule from them,
        judged by its volume on the traffic since the drift, and puts it in force."""
        options = settings.storage_options()
        feed = store.read_chunks(settings.dataset_uri("label_feed"), storage_options=options)
        known = feed.filter((pl.col("is_fraud") == 1) & (pl.col("reported_at") < now))
        scored = store.read_chunks(settings.dataset_uri("predictions"), storage_options=options)
        traffic = scored.filter(pl.col("timestamp") >= drift_at)
        confirmed = traffic.filter(
            pl.col("transaction_id").is_in(known["transaction_id"].implode())
        )
        if confirmed.height < self.team.rule_after_frauds:
            return
        fields = store.read_dataset(
            store.join_uri(settings.dataset_uri("validated"), "clean"),
            drift_at.date(),
            now.date(),
            options,
        ).select("transaction_id", *CATEGORICAL_FIELDS)
        drafted = draft_rule(
            confirmed.join(fields, on="transaction_id"),
            traffic.join(fields, on="transaction_id"),
            (now - drift_at).total_seconds() / 86_400,
            self.team,
            now.date().isoformat(),
        )
        if drafted is not None:
            self.put_rule_in_force(drafted, day)
            logger.info("analyst rule in force: %s", drafted.rule.condition)

    def confirmed_since(self, moment: datetime) -> list[str]:
        return [v.transaction_id for v in self.verdicts if v.is_fraud and v.at >= moment]

    def put_rule_in_force(self, drafted: DraftedRule, day: int) -> None:
        assert self.policy is not None
        holder = self.policy.rules
        current = holder.current
        rules = current.ruleset.rules if current is not None else ()
        version = f"{current.ruleset.version if current is not None else 'none'}+analyst"
        holder.install(RuleSet(version=version, rules=(*rules, drafted.rule)))
        self.drafted, self.drafted_day = drafted, day

    def close(self) -> None:
        self.recorder.close()
        self.store.close()

    def summary(self) -> dict[str, object]:
        worked = len(self.verdicts)
        return {
            "analyst_capacity_per_day": self.team.capacity,
            "analyst_accuracy": self.team.accuracy,
            "analyst_verdicts": worked,
            "analyst_frauds_confirmed": sum(v.is_fraud for v in self.verdicts),
            "analyst_verdicts_right": round(sum(v.right for v in self.verdicts) / worked, 3)
            if worked
            else None,
            "analyst_rule": self.drafted.rule.as_dict() if self.drafted else None,
            "analyst_rule_day": self.drafted_day,
            "analyst_rule_coverage": self.drafted.coverage if self.drafted else None,
            "analyst_rule_hits_per_day": self.drafted.hits_per_day if self.drafted else None,
        }
