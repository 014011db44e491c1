"""Rules files: what is accepted, what is refused (with the rule and the problem named),
the evaluation order, missing values, and the canonical digest."""

from __future__ import annotations

import math
from math import inf

import polars as pl
import pytest

from fraudops.decisions import EXAMPLE_RULES
from fraudops.decisions.expressions import compile_condition
from fraudops.decisions.rules import RulesError, compile_rules, load_rules, parse_rules

EXAMPLE = EXAMPLE_RULES


def one_rule(condition: str, **fields: object) -> str:
    extra = "".join(f"    {k}: {v}\n" for k, v in fields.items())
    if "outcome" not in fields:
        extra += "    outcome: review\n"
    return f"version: v1\nrules:\n  - name: suspicious\n    condition: '{condition}'\n{extra}"


def refused(text: str) -> str:
    with pytest.raises(RulesError) as error:
        parse_rules(text, "rules.yaml")
    return str(error.value)


def test_the_example_file_is_valid_and_reads_real_context_names() -> None:
    rules = load_rules(EXAMPLE)
    assert len(rules.rules) >= 5
    compiled = compile_rules(rules)
    assert "list_watch_card" in compiled.names_used
    assert {"amount", "card_new_merchant_30d", "score"} <= compiled.names_used


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: v1\nrules: [\n", "YAML syntax error at line"),
        (one_rule("amout > 500"), "rule 'suspicious': unknown field 'amout' (did you mean amount"),
        (one_rule('amount > "x"'), "rule 'suspicious': type mismatch: a number > a string"),
        (one_rule("country > 3"), "rule 'suspicious': type mismatch: a string > a number"),
        (
            one_rule("list_watch_card + 1 > 0"),
            "rule 'suspicious': type mismatch: `+` needs a number",
        ),
        (one_rule("amount"), "rule 'suspicious': the condition must be true or false"),
        (one_rule("amount > 1 and channel"), "`and` needs true/false, got a string"),
        (one_rule("amount ** 2 > 1"), "rule 'suspicious': unsupported operator"),
        (one_rule('__import__("os").system("true")'), "rule 'suspicious': unsupported"),
        (one_rule("amount.real > 1"), "rule 'suspicious': unsupported syntax (Attribute)"),
        (one_rule("[x for x in (1, 2)]"), "rule 'suspicious': unsupported syntax (ListComp)"),
        (one_rule("amount == None"), "through `is None`"),
        (one_rule('channel in ("ecom", 3)'), "type mismatch: a string in a list holding a number"),
        (one_rule("amount >"), "rule 'suspicious': syntax error in condition"),
        (one_rule("list_foo_bar"), "a list flag is list_<list>_<kind>"),
        (one_rule("amount > 1", outcome="refer"), "outcome must be one of approve, review"),
        (one_rule("amount > 1", mode="dry"), "mode must be one of active, shadow"),
        (one_rule("amount > 1", priority="high"), "priority must be an integer"),
        (one_rule("amount > 1", outcome="adjust"), "an adjust rule needs `adjust`"),
        (one_rule("amount > 1", outcome="adjust", adjust="lots"), "adjust must be a number"),
        (one_rule("amount > 1", outcome="adjust", adjust=3), "adjust must lie in [-1, 1]"),
        (one_rule("amount > 1", adjust=0.1), "`adjust` only applies to outcome adjust"),
        (one_rule("amount > 1", prority=3), "unknown key 'prority' (did you mean 'priority'?)"),
        (one_rule("amount > 1", case="maybe"), "case must be true or false"),
        ("version: v1\nrule: []\n", "unknown top-level key 'rule' (did you mean 'rules'?)"),
        ("rules: []\n", "`version` must be a non-empty string"),
        ("version: v1\nrules: {}\n", "`rules` must be a list"),
        ("- 1\n", "a rules file is a mapping"),
    ],
)
def test_a_bad_file_is_refused_naming_the_rule_and_the_problem(text: str, expected: str) -> None:
    message = refused(text)
    assert message.startswith("rules.yaml: ")
    assert expected in message


def test_duplicate_names_are_refused() -> None:
    text = (
        one_rule("amount > 1")
        + "  - name: suspicious\n    condition: amount > 2\n    outcome: decline\n"
    )
    assert "rule 'suspicious': duplicate name" in refused(text)


def test_a_missing_file_is_a_rules_error() -> None:
    with pytest.raises(RulesError, match="no rules file"):
        load_rules("/nonexistent/rules.yaml")


def test_digest_is_canonical_and_yaml_round_trips() -> None:
    rules = load_rules(EXAMPLE)
    again = parse_rules(rules.to_yaml())
    assert again == rules
    assert again.digest == rules.digest
    changed = parse_rules(rules.to_yaml().replace("amount >= 1000", "amount >= 1001"))
    assert changed.digest != rules.digest


RULES = """
version: order
rules:
  - name: low_first_in_file
    condition: amount > 10
    outcome: approve
  - name: adjust_a
    condition: amount > 10
    outcome: adjust
    adjust: 0.1
  - name: high
    condition: amount > 100
    outcome: decline
    priority: 10
  - name: shadow_rule
    condition: amount > 0
    outcome: decline
    priority: 99
    mode: shadow
  - name: tie_second
    condition: amount > 10
    outcome: review
  - name: adjust_b
    condition: channel == "ecom"
    outcome: adjust
    adjust: -0.05
"""


def test_evaluation_is_by_priority_then_file_order_and_shadow_never_decides() -> None:
    compiled = compile_rules(parse_rules(RULES))
    big = compiled.evaluate({"amount": 500.0, "channel": "ecom"})
    assert big.decisive is not None
    assert big.decisive.name == "high"
    assert big.fired == ("high", "low_first_in_file", "adjust_a", "tie_second", "adjust_b")
    assert big.shadow_fired == ("shadow_rule",)
    assert big.adjust == pytest.approx(0.05)
    middle = compiled.evaluate({"amount": 50.0})
    assert middle.decisive is not None
    assert middle.decisive.name == "low_first_in_file"
    assert middle.adjust == pytest.approx(0.1)
    small = compiled.evaluate({"amount": 5.0})
    assert small.decisive is None
    assert small.fired == ()
    assert small.shadow_fired == ("shadow_rule",)


@pytest.mark.parametrize("missing", [None, math.nan, "absent"])
def test_a_missing_value_makes_every_comparison_false_and_not_true(missing: object) -> None:
    context = {} if missing == "absent" else {"amount": missing}
    for condition, expected in [
        ("amount > 5", False),
        ("amount <= 5", False),
        ("amount != 5", False),
        ("amount in (1, 2)", False),
        ("amount not in (1, 2)", False),
        ("not (amount > 5)", True),
        ("amount + 1 > 0", False),
        ("amount is None", True),
        ("amount is not None", False),
        ("abs(amount) >= 0 or card_tx_count_1h is None", True),
    ]:
        assert compile_condition(condition).predicate(context) is expected, condition


def test_division_by_zero_is_missing_not_an_error() -> None:
    condition = compile_condition("amount / card_amount_mean_30d > 3")
    assert condition.predicate({"amount": 10.0, "card_amount_mean_30d": 0.0}) is False
    assert condition.predicate({"amount": 10.0, "card_amount_mean_30d": 2.0}) is True


def test_a_remainder_by_infinity_is_missing_in_both_compilations() -> None:
    # Python's 5 % inf is 5 (and -5 % inf is inf), polars' is NaN: both read it as missing
    condition = compile_condition("amount % card_amount_mean_30d >= 0")
    frame = pl.DataFrame({"amount": [5.0, -5.0, 5.0], "card_amount_mean_30d": [inf, inf, 2.0]})
    per_request = [condition.predicate(row) for row in frame.iter_rows(named=True)]
    vectorised = frame.select(condition.expression.alias("holds"))["holds"].to_list()
    assert per_request == vectorised == [False, False, True]


def test_remainders_are_pythons_in_both_compilations() -> None:
    # polars' own % is a - b * floor(a / b): -inf for 1 % 1e-311, inexact for 1 % 1e-300
    condition = compile_condition("amount % card_amount_mean_30d < 1e-299")
    frame = pl.DataFrame(
        {"amount": [1.0, 1.0, -7.5, 7.5], "card_amount_mean_30d": [1e-311, 1e-300, 2.0, -2.0]}
    )
    per_request = [condition.predicate(row) for row in frame.iter_rows(named=True)]
    vectorised = frame.select(condition.expression.alias("holds"))["holds"].to_list()
    expected = [1.0 % 1e-311 < 1e-299, 1.0 % 1e-300 < 1e-299, False, True]
    assert per_request == vectorised == expected


def test_a_context_value_of_the_wrong_type_does_not_fail_the_request() -> None:
    compiled = compile_rules(parse_rules(one_rule("amount > 5")))
    result = compiled.evaluate({"amount": "not a number"})
    assert result.fired == ()
    assert result.decisive is None


def test_a_context_of_the_wrong_type_is_logged_once_per_rule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    compiled = compile_rules(parse_rules(one_rule("amount > 5")))
    with caplog.at_level("WARNING", logger="fraudops.decisions.rules"):
        for _ in range(3):
            compiled.evaluate({"amount": "not a number"})
    assert [r.getMessage() for r in caplog.records] == [
        "rule 'suspicious' could not be evaluated on a context"
    ]


def test_a_rule_set_built_by_hand_is_checked_when_compiled() -> None:
    from fraudops.decisions.rules import Rule, RuleSet

    bad = RuleSet("v", (Rule("typo", "amout > 1", "review"),))
    with pytest.raises(RulesError, match="rule 'typo': unknown field 'amout'"):
        compile_rules(bad)
