"""Rules are data: a versioned YAML file, checked whole, compiled twice.

```yaml
version: "2026-03-01.1"
rules:
  - name: keyed_ecom_big_new_merchant
    condition: entry_mode == "keyed" and amount > 800 and card_new_merchant_30d == 1
    outcome: review          # approve | review | decline | adjust
    priority: 50             # higher is evaluated first; ties keep file order
    mode: active             # active | shadow (evaluated and logged, never deciding)
    description: Large keyed-in purchase at a merchant new to the card
    case: true               # optional: ask for a review case
  - name: many_in_an_hour
    condition: card_tx_count_1h >= 8
    outcome: adjust
    adjust: 0.15             # probability points added before the model's thresholds
```

:func:`parse_rules` refuses a file with any problem — and names the rule and the problem —
so a bad file never replaces a good one. :func:`compile_rules` turns a :class:`RuleSet`
into a per-request evaluator (:meth:`CompiledRules.evaluate`) and polars expressions
(:meth:`CompiledRules.expressions`) that agree on every context
(:mod:`fraudops.decisions.expressions`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml

from fraudops.decisions.expressions import Condition, ConditionError, Predicate, compile_condition

logger = logging.getLogger(__name__)

Outcome = Literal["approve", "review", "decline", "adjust"]
Mode = Literal["active", "shadow"]
OUTCOMES: tuple[Outcome, ...] = ("approve", "review", "decline", "adjust")
DECISIVE: frozenset[str] = frozenset({"approve", "review", "decline"})
MODES: tuple[Mode, ...] = ("active", "shadow")
RULE_FIELDS = ("name", "condition", "outcome", "adjust", "priority", "mode", "description", "case")
FILE_FIELDS = ("version", "rules")
MAX_NAME = 64


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the rule and the problem."""


@dataclass(frozen=True)
class Rule:
    name: str
    condition: str
    outcome: Outcome
    adjust: float | None = None
    priority: int = 0
    mode: Mode = "active"
    description: str = ""
    case: bool = False

    @property
    def active(self) -> bool:
        return self.mode == "active"

    @property
    def decisive(self) -> bool:
        return self.outcome in DECISIVE

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "condition": self.condition,
            "outcome": self.outcome,
        }
        if self.adjust is not None:
            out["adjust"] = self.adjust
        out.update(priority=self.priority, mode=self.mode)
        if self.description:
            out["description"] = self.description
        if self.case:
            out["case"] = True
        return out


@dataclass(frozen=True)
class RuleSet:
    """A checked rules file. ``digest`` is the sha256 of its canonical content (the same
    rules in the same order give the same digest, whatever the YAML's layout)."""

    version: str
    rules: tuple[Rule, ...]
    source: str = field(default="<rules>", compare=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(_canonical(self).encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "rules": [r.as_dict() for r in self.rules]}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.as_dict(), sort_keys=False, allow_unicode=True, width=100)

    def by_priority(self) -> tuple[Rule, ...]:
        """Evaluation order: higher priority first, ties in file order (a stable sort)."""
        return tuple(sorted(self.rules, key=lambda r: -r.priority))


def _canonical(ruleset: RuleSet) -> str:
    return json.dumps(ruleset.as_dict(), sort_keys=True, separators=(",", ":"))


# parsing -------------------------------------------------------------------------------------
def _rule_label(index: int, raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"rule {name!r}" if isinstance(name, str) and name else f"rule #{index + 1}"


def _unknown_keys(keys: Any, allowed: tuple[str, ...], what: str) -> str | None:
    unknown = [str(k) for k in keys if k not in allowed]
    if not unknown:
        return None
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, allowed, n=1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"unknown {what} {', '.join(hints)}; allowed: {', '.join(allowed)}"


def _parse_rule(index: int, raw: Any) -> Rule:
    label = _rule_label(index, raw)

    def fail(problem: str) -> RulesError:
        return RulesError(f"{label}: {problem}")

    if not isinstance(raw, dict):
        raise fail("a rule is a mapping with name, condition, outcome…")
    problem = _unknown_keys(raw, RULE_FIELDS, "key")
    if problem:
        raise fail(problem)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("every rule needs a non-empty string `name`")
    if (
        len(name) > MAX_NAME
        or not name.replace("_", "").replace("-", "").replace(".", "").isalnum()
    ):
        raise fail(f"name must be at most {MAX_NAME} letters, digits, '_', '-' or '.'")
    condition = raw.get("condition")
    if not isinstance(condition, str):
        raise fail("`condition` must be a string expression, e.g. amount > 500")
    outcome = raw.get("outcome")
    if outcome not in OUTCOMES:
        raise fail(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    mode = raw.get("mode", "active")
    if mode not in MODES:
        raise fail(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    priority = raw.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise fail(f"priority must be an integer, got {priority!r}")
    adjust = raw.get("adjust")
    if outcome == "adjust":
        if adjust is None:
            raise fail("an adjust rule needs `adjust`: probability points to add, e.g. 0.1")
        if isinstance(adjust, bool) or not isinstance(adjust, int | float):
            raise fail(f"adjust must be a number, got {adjust!r}")
        if not math.isfinite(adjust) or not -1.0 <= adjust <= 1.0:
            raise fail(f"adjust must lie in [-1, 1] (probability points), got {adjust!r}")
        adjust = float(adjust)
    elif adjust is not None:
        raise fail(f"`adjust` only applies to outcome adjust, not {outcome}")
    description = raw.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise fail("description must be a string")
    case = raw.get("case", False)
    if not isinstance(case, bool):
        raise fail(f"case must be true or false, got {case!r}")
    try:
        compile_condition(condition)
    except ConditionError as error:
        raise fail(str(error)) from None
    return Rule(name, condition.strip(), outcome, adjust, priority, mode, description, case)


def parse_rules(text: str, source: str = "<rules>") -> RuleSet:
    """A checked :class:`RuleSet` from YAML text; :class:`RulesError` on any problem."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise RulesError(f"{source}: YAML syntax error{where}: {problem}") from None
    if not isinstance(document, dict):
        raise RulesError(f"{source}: a rules file is a mapping with `version` and `rules`")
    problem = _unknown_keys(document, FILE_FIELDS, "top-level key")
    if problem:
        raise RulesError(f"{source}: {problem}")
    version = document.get("version")
    if isinstance(version, int | float) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str) or not version.strip():
        raise RulesError(f"{source}: `version` must be a non-empty string")
    raw_rules = document.get("rules")
    if raw_rules is None:
        raw_rules = []
    if not isinstance(raw_rules, list):
        raise RulesError(f"{source}: `rules` must be a list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        try:
            rule = _parse_rule(index, raw)
        except RulesError as error:
            raise RulesError(f"{source}: {error}") from None
        if rule.name in seen:
            raise RulesError(f"{source}: rule {rule.name!r}: duplicate name")
        seen.add(rule.name)
        rules.append(rule)
    return RuleSet(version.strip(), tuple(rules), source)


def load_rules(path: str | Path) -> RuleSet:
    """Read and check a rules file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(f"no rules file at {p}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError(f"cannot read rules file {p}: {error}") from None
    return parse_rules(text, str(p))


# compilation ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RulesResult:
    """What the rules say about one transaction. ``decisive``: the first active approve,
    review or decline rule that holds, by priority; ``adjust``: the sum of the active
    adjust rules that hold; ``fired``/``shadow_fired``: names in evaluation order."""

    decisive: Rule | None
    adjust: float
    fired: tuple[str, ...]
    shadow_fired: tuple[str, ...]


NO_RULES = RulesResult(None, 0.0, (), ())


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    condition: Condition


class CompiledRules:
    """A rule set compiled once: per request (:meth:`evaluate`) and for frames
    (:meth:`expressions`). Rules are held in evaluation order (priority, then file)."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        compiled = []
        for rule in ruleset.by_priority():
            try:
                compiled.append(_Compiled(rule, compile_condition(rule.condition)))
            except ConditionError as error:  # a RuleSet built by hand, not parse_rules
                raise RulesError(f"rule {rule.name!r}: {error}") from None
        self._compiled = tuple(compiled)
        # per request: (name, predicate, active, decisive rule or None, adjust)
        self._plan: tuple[tuple[str, Predicate, bool, Rule | None, float], ...] = tuple(
            (
                c.rule.name,
                c.condition.predicate,
                c.rule.active,
                c.rule if c.rule.decisive else None,
                c.rule.adjust or 0.0,
            )
            for c in compiled
        )
        self._warned: set[str] = set()
        self.names_used: frozenset[str] = frozenset().union(*(c.condition.names for c in compiled))

    @property
    def version(self) -> str:
        return self.ruleset.version

    @property
    def digest(self) -> str:
        return self.ruleset.digest

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules in evaluation order."""
        return tuple(c.rule for c in self._compiled)

    def evaluate(self, context: Mapping[str, Any]) -> RulesResult:
        decisive: Rule | None = None
        adjust = 0.0
        fired: list[str] = []
        shadow: list[str] = []
        for name, predicate, active, outcome_rule, points in self._plan:
            try:
                holds = predicate(context)
            except (TypeError, ValueError, ArithmeticError):
                # a context value of the wrong type (a caller's bug) must not fail the
                # request: the rule does not hold, and the log says so once per rule
                if name not in self._warned:
                    self._warned.add(name)
                    logger.warning("rule %r could not be evaluated on a context", name)
                continue
            if not holds:
                continue
            if not active:
                shadow.append(name)
                continue
            fired.append(name)
            if outcome_rule is None:
                adjust += points
            elif decisive is None:
                decisive = outcome_rule
        if not fired and not shadow:
            return NO_RULES
        return RulesResult(decisive, adjust, tuple(fired), tuple(shadow))

    def expressions(self) -> dict[str, pl.Expr]:
        """One boolean expression per rule (never null), in evaluation order, over a frame
        whose columns carry the context names (:attr:`names_used`)."""
        return {c.rule.name: c.condition.expression for c in self._compiled}


def compile_rules(ruleset: RuleSet) -> CompiledRules:
    return CompiledRules(ruleset)
