"""The policy stage of scoring: lists and rules around the model's thresholds.

``DecisionStage`` turns one scored transaction into the policy's decision (allow list ->
block list -> active rules by priority -> thresholds, ``decisions.policy``). The rules come
from a YAML file held by :class:`RulesHolder`, which hot-reloads it like a model: a file
that does not parse, names an unknown field or mixes types is refused with the rule
named, and the last good set keeps deciding.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fraudops.decisions.context import LIST_KINDS, POLICY_LISTS, parse_list_flag
from fraudops.decisions.lists import ListCache
from fraudops.decisions.policy import PolicyOutcome, apply_policy, outcome_of
from fraudops.decisions.rules import NO_RULES, CompiledRules, RuleSet, compile_rules, parse_rules
from fraudops.models.decision import DecisionThresholds, score_points

logger = logging.getLogger(__name__)

# the policy's own lists are read for every transaction
_POLICY_FLAGS = tuple((name, kind) for name in POLICY_LISTS for kind in LIST_KINDS)


@dataclass
class RulesStatus:
    path: str | None = None
    version: str | None = None
    digest: str | None = None
    loaded_at: str | None = None
    last_error: str | None = None
    failures: int = 0


@dataclass
class RulesHolder:
    """The rules in force; ``current`` is swapped as one reference assignment."""

    path: Path | None
    current: CompiledRules | None = None
    status: RulesStatus = field(default_factory=RulesStatus)
    on_failure: Callable[[], None] | None = None
    _mtime: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, ruleset: RuleSet, compiled: CompiledRules | None = None) -> CompiledRules:
        """Put ``ruleset`` in force (compiled here unless given; RulesError names the rule)."""
        compiled = compiled or compile_rules(ruleset)
        self.current = compiled
        self.status.version = ruleset.version
        self.status.digest = ruleset.digest
        self.status.loaded_at = datetime.now(UTC).isoformat()
        self.status.last_error = None
        logger.info("rules version %s in force (%d rules)", ruleset.version, len(ruleset.rules))
        return compiled

    def reload(self, force: bool = False) -> bool:
        """Read the rules file if it changed; True when a new set is in force. A missing
        file means no rules; a bad one keeps the last good set and records the error."""
        with self._lock:
            self.status.path = str(self.path) if self.path else None
            if self.path is None or not self.path.exists():
                changed = self.current is not None
                self.current, self._mtime = None, None
                return changed
            mtime = self.path.stat().st_mtime
            if not force and mtime == self._mtime:
                return False
            self._mtime = mtime
            try:
                ruleset = parse_rules(self.path.read_text(), str(self.path))
                self.status.last_error = None
                if self.current is not None and ruleset.digest == self.current.ruleset.digest:
                    return False
                self.install(ruleset)
            except Exception as exc:  # RulesError, or an unreadable file
                self.status.last_error = str(exc)
                self.status.failures += 1
                logger.error("rules file refused, the last good set keeps deciding: %s", exc)
                if self.on_failure:
                    self.on_failure()
                return False
            return True

    def replace(self, text: str) -> RuleSet:
        """Check ``text`` and, when it is a valid rule set, write it to the rules file
        (atomically) and put it in force. Raises ``RulesError`` and changes nothing
        otherwise."""
        if self.path is None:
            raise ValueError("no rules file is configured (FRAUDOPS_RULES_PATH)")
        ruleset = parse_rules(text, "the uploaded rules")
        compiled = compile_rules(ruleset)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            staging = self.path.with_suffix(".uploading")
            staging.write_text(text)
            os.replace(staging, self.path)
            self._mtime = self.path.stat().st_mtime
            self.install(ruleset, compiled)
        return ruleset


def event_time(tx: Mapping[str, Any]) -> float:
    """The transaction's own time as the lists' clock (replays and the simulated loop)."""
    moment = tx["timestamp"]
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class DecisionStage:
    """Lists and rules applied to scored transactions, one at a time in batch order."""

    def __init__(
        self,
        rules: RulesHolder,
        lists: ListCache | None,
        feature_names: Sequence[str],
        clock: Callable[[Mapping[str, Any]], float] | None = None,
    ) -> None:
        self.rules = rules
        self.lists = lists
        self.feature_index = {name: i for i, name in enumerate(feature_names)}
        # expiry is judged on the API's clock; the simulated loop passes event time
        self.clock = clock or (lambda _tx: datetime.now(UTC).timestamp())
        self._plan_for: CompiledRules | None = None
        self._features: list[tuple[str, int]] = []
        self._flags: list[tuple[str, str]] = list(_POLICY_FLAGS)

    def _plan(self, compiled: CompiledRules | None) -> None:
        """Which features and list flags the rules read (computed once per rule set)."""
        used = compiled.names_used if compiled is not None else frozenset()
        self._features = [(n, self.feature_index[n]) for n in used if n in self.feature_index]
        extra = [parsed for n in used if (parsed := parse_list_flag(n)) is not None]
        self._flags = list(dict.fromkeys([*_POLICY_FLAGS, *extra]))
        self._plan_for = compiled

    def context(
        self, tx: Mapping[str, Any], features: np.ndarray, probability: float, now: float
    ) -> dict[str, Any]:
        ctx: dict[str, Any] = dict(tx)
        timestamp = tx.get("timestamp")
        if isinstance(timestamp, datetime):
            moment = timestamp.astimezone(UTC)
            ctx["hour"], ctx["weekday"] = moment.hour, moment.weekday()
        for name, i in self._features:
            ctx[name] = float(features[i])
        ctx["probability"] = probability
        ctx["score"] = score_points(probability)
        if self.lists is not None:
            ctx.update(self.lists.flags(tx, self._flags, now))
        return ctx

    def decide(
        self,
        transactions: Sequence[Mapping[str, Any]],
        x: np.ndarray,
        probability: np.ndarray,
        thresholds: DecisionThresholds,
    ) -> list[PolicyOutcome]:
        compiled = self.rules.current  # one rule set for the whole batch, even mid-reload
        if compiled is None:  # only the lists and the thresholds: no context to build
            return self._without_rules(transactions, probability, thresholds)
        if compiled is not self._plan_for:
            self._plan(compiled)
        outcomes = []
        for i, tx in enumerate(transactions):
            now = self.clock(tx)
            ctx = self.context(tx, x[i], float(probability[i]), now)
            outcomes.append(apply_policy(ctx, compiled, thresholds))
        return outcomes

    def _without_rules(
        self,
        transactions: Sequence[Mapping[str, Any]],
        probability: np.ndarray,
        thresholds: DecisionThresholds,
    ) -> list[PolicyOutcome]:
        """``apply_policy`` with no rule set, from the list hits alone (the same outcomes)."""
        lists = self.lists if self.lists is not None and self.lists.has_entries else None
        outcomes = []
        for tx, p in zip(transactions, probability.tolist(), strict=True):
            allowed = blocked = None
            if lists is not None:
                now = self.clock(tx)
                allowed = lists.first_hit(tx, "allow", now)
                blocked = lists.first_hit(tx, "block", now)
            outcomes.append(outcome_of(p, allowed, blocked, NO_RULES, thresholds))
        return outcomes
