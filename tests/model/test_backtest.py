"""Backtest figures on a frame small enough to compute by hand, list flags with expiry,
and the text and HTML renderings."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from fraudops.decisions.backtest import (
    add_context_columns,
    backtest_frame,
    list_flag_columns,
    policy_flags,
)
from fraudops.decisions.rules import compile_rules, parse_rules
from fraudops.models.decision import DecisionThresholds
from fraudops.models.evaluate import CostModel
from fraudops.pipelines.backtest_report import render_html, render_text

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
THRESHOLDS = DecisionThresholds(review=0.3, decline=0.8)
COST = CostModel(review_cost=3.0, false_decline_cost=15.0, review_catch_rate=0.9)
RULES = compile_rules(
    parse_rules(
        """
version: hand
rules:
  - name: big
    condition: amount > 100
    outcome: review
  - name: watched
    condition: list_watch_card
    outcome: decline
    mode: shadow
  - name: night_boost
    condition: hour < 3
    outcome: adjust
    adjust: 0.25
"""
    )
)


def hand_frame() -> pl.DataFrame:
    """Six transactions over two days. Frauds: #1 (reported day 1) and #2 (reported after
    the cutoff, so unknown to the backtest)."""
    hours = [1, 5, 10, 24 + 1, 24 + 2, 24 + 20]
    frame = pl.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(1, 7)],
            "timestamp": [T0 + timedelta(hours=h) for h in hours],
            "card_id": ["a", "b", "c", "a", "d", "d"],
            "amount": [200.0, 50.0, 120.0, 150.0, 300.0, 80.0],
            "fraud_probability": [0.10, 0.90, 0.20, 0.50, 0.05, 0.40],
            "is_fraud": [1, 1, 0, 0, 0, 0],
            "label_available_at": [T0 + timedelta(days=1), T0 + timedelta(days=30)] + [None] * 4,
        }
    ).with_columns(pl.col("fraud_probability").alias("probability"))
    entries: list[dict[str, Any]] = [
        {"list": "watch", "kind": "card", "value": "d", "expires_at": None},
        # blocks card b until 04:00 on day 1: transaction #2 (05:00) is no longer blocked
        {"list": "block", "kind": "card", "value": "b", "expires_at": "2026-03-02T04:00:00Z"},
        {"list": "block", "kind": "card", "value": "c", "expires_at": "2026-03-05T00:00:00Z"},
    ]
    return list_flag_columns(add_context_columns(frame), entries, policy_flags(RULES))


def test_context_columns_match_the_request_definitions() -> None:
    frame = hand_frame()
    assert frame["hour"].to_list() == [1, 5, 10, 1, 2, 20]
    assert frame["weekday"].to_list() == [0, 0, 0, 1, 1, 1]
    assert frame["score"].to_list() == [100, 900, 200, 500, 50, 400]
    assert frame["list_watch_card"].to_list() == [False] * 4 + [True, True]
    assert frame["list_block_card"].to_list() == [False, False, True, False, False, False]
    assert frame["list_allow_card"].to_list() == [False] * 6


def test_backtest_figures_by_hand() -> None:
    cutoff = T0 + timedelta(days=2)
    report = backtest_frame(hand_frame(), RULES, THRESHOLDS, cutoff, (T0, cutoff), COST)
    assert report.transactions == 6
    assert report.known_frauds == 1  # #2's label arrives after the cutoff
    assert report.days == ["2026-03-02", "2026-03-03"]
    big, watched, night = report.rules
    # big: #1 (fraud), #3, #4, #5 -> 4 hits; genuine cards c, a, d; the model flags #4 only
    assert (big.hits, big.known_frauds, big.fraud_amount) == (4, 1, 200.0)
    assert big.hits_per_day == {"2026-03-02": 2, "2026-03-03": 2}
    assert big.precision == pytest.approx(0.25)
    assert big.genuine_cards == 3
    assert big.model_flagged == 1
    assert big.overlap == pytest.approx(0.25)
    # watched (shadow): #5 and #6 on card d; the model flags #6 (0.40)
    assert (watched.hits, watched.genuine_cards, watched.model_flagged) == (2, 1, 1)
    assert watched.precision == 0.0
    # night boost: #1, #4, #5 (hours 1, 1, 2)
    assert night.hits == 3
    assert night.hits_per_day == {"2026-03-02": 1, "2026-03-03": 2}

    # model alone: #2 decline (unknown fraud: a false decline), #4 and #6 review
    assert report.model["decisions"] == {"approve": 3, "review": 2, "decline": 1}
    assert report.model["savings"] == pytest.approx(-15.0 - 2 * 3.0)
    # policy: #3 blocked (decline); #1, #4, #5 reviewed by `big`; #2 and #6 by thresholds
    # (#2 at 0.90: decline; #6 at 0.40: review)
    assert report.policy["decisions"] == {"approve": 0, "review": 4, "decline": 2}
    assert report.policy["stages"] == {
        "allow_list": 0,
        "block_list": 1,
        "rule": 3,
        "threshold": 2,
    }
    policy = 0.9 * 200.0 - 4 * 3.0 - 2 * 15.0
    assert report.policy["savings"] == pytest.approx(policy)
    assert report.savings_vs_model == pytest.approx(policy - (-21.0))
    assert report.changed_decisions == 3  # #1, #3, #5


def test_a_rule_without_hits_has_no_precision_and_json_stays_valid() -> None:
    import json

    rules = compile_rules(
        parse_rules(
            "version: x\nrules:\n  - {name: never, condition: amount < 0, outcome: review}\n"
        )
    )
    report = backtest_frame(hand_frame(), rules, THRESHOLDS, None)
    (never,) = report.rules
    assert never.hits == 0
    assert math.isnan(never.precision)
    assert json.loads(json.dumps(report.as_dict()))["rules"][0]["precision"] is None
    assert report.known_frauds == 2  # final labels without a cutoff


def test_a_frame_without_the_fields_a_rule_reads_is_refused() -> None:
    rules = compile_rules(
        parse_rules(
            'version: x\nrules:\n  - {name: r, condition: mcc == "5411", outcome: review}\n'
        )
    )
    with pytest.raises(ValueError, match="the rules read mcc"):
        backtest_frame(hand_frame(), rules, THRESHOLDS, None)


def test_text_and_html_reports_show_every_rule() -> None:
    report = backtest_frame(hand_frame(), RULES, THRESHOLDS, T0 + timedelta(days=2))
    text = render_text(report)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("rule "))
    assert header.index("hits") == lines[lines.index(header) + 2].index("4") - 3
    for name in ("big", "watched", "night_boost"):
        assert any(line.startswith(name) for line in lines)
    assert "policy against model alone" in text
    page = render_html(report)
    assert page.startswith("<!doctype html>")
    assert "<td>night_boost</td>" in page
    assert "<td>hour &lt; 3</td>" in page  # the definitions, escaped
    assert "data:image/png;base64," in page


def test_a_file_without_rules_backtests_the_lists_and_thresholds_alone() -> None:
    rules = compile_rules(parse_rules("version: empty\nrules: []\n"))
    report = backtest_frame(hand_frame(), rules, THRESHOLDS, T0 + timedelta(days=2))
    assert report.rules == []
    assert report.days == ["2026-03-02", "2026-03-03"]
    assert report.policy["stages"] == {
        "allow_list": 0,
        "block_list": 1,
        "rule": 0,
        "threshold": 5,
    }
    assert report.changed_decisions == 1  # #3: approved by the model, blocked by the list
    assert report.savings_vs_model == pytest.approx(-15.0)  # a genuine transaction declined
