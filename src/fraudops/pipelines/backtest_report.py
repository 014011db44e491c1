"""A backtest as a plain-text table (the CLI) and a self-contained HTML page."""

from __future__ import annotations

import html
import math
from typing import Any

from fraudops.decisions.backtest import BacktestReport
from fraudops.pipelines.report import PAGE_STYLE, figure_png

RULE_HEADER = (
    "rule",
    "outcome",
    "mode",
    "hits",
    "hits/day",
    "precision",
    "fraud caught",
    "genuine cards",
    "model overlap",
)


def _share(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1%}"


def rule_rows(report: BacktestReport) -> list[tuple[str, ...]]:
    days = max(len(report.days), 1)
    return [
        (
            r.name,
            r.outcome,
            r.mode,
            f"{r.hits:,}",
            f"{r.hits / days:,.1f}",
            _share(r.precision),
            f"{r.fraud_amount:,.2f}",
            f"{r.genuine_cards:,}",
            _share(r.overlap),
        )
        for r in report.rules
    ]


def summary_rows(report: BacktestReport) -> list[tuple[str, str]]:
    window = " → ".join(
        "…" if t is None else f"{t:%Y-%m-%d %H:%M}" for t in (report.start, report.end)
    )
    cutoff = (
        "final labels" if report.label_cutoff is None else f"{report.label_cutoff:%Y-%m-%d %H:%M}"
    )
    model, policy = report.model, report.policy
    return [
        ("rules version", f"{report.rules_version} ({report.rules_digest[:12]})"),
        ("window", window),
        ("labels known at", cutoff),
        ("transactions", f"{report.transactions:,}"),
        ("known frauds", f"{report.known_frauds:,} ({report.fraud_amount:,.2f})"),
        ("model alone: review / decline", _decisions(model["decisions"])),
        ("policy: review / decline", _decisions(policy["decisions"])),
        ("policy stages", ", ".join(f"{k} {v:,}" for k, v in policy["stages"].items())),
        ("decisions changed", f"{report.changed_decisions:,}"),
        ("savings, model alone", f"{model['savings']:,.2f}"),
        ("savings, policy", f"{policy['savings']:,.2f}"),
        ("policy against model alone", f"{report.savings_vs_model:+,.2f}"),
    ]


def _decisions(counts: dict[str, int]) -> str:
    return f"{counts.get('review', 0):,} / {counts.get('decline', 0):,}"


def _aligned(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        # names and words left, figures right
        return "  ".join(
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *map(line, rows)]


def render_text(report: BacktestReport) -> str:
    """The backtest as aligned plain text: the summary, then one line per rule."""
    summary = summary_rows(report)
    width = max(len(k) for k, _ in summary)
    lines = [f"{k.ljust(width)}  {v}" for k, v in summary]
    lines += ["", *_aligned(RULE_HEADER, rule_rows(report))]
    return "\n".join(lines) + "\n"


def _hits_plot(report: BacktestReport) -> str | None:
    """Hits per day of each rule, as a base64 PNG (None when there is nothing to draw)."""
    if not report.days or not report.rules:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.2))
    for r in report.rules:
        style = "-" if r.mode == "active" else "--"
        ax.plot(report.days, [r.hits_per_day[d] for d in report.days], style, label=r.name)
    ax.set_ylabel("hits / day")
    ax.set_title("Hits per day (shadow rules dashed)")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(fontsize=7, ncol=2)
    png = figure_png(fig)
    plt.close(fig)
    return png


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: BacktestReport) -> str:
    """One self-contained page: summary, per-rule figures, the rules' definitions, hits
    per day (plot and table)."""
    facts = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in summary_rows(report)
    )
    plot = _hits_plot(report)
    image = f'<img alt="hits per day" src="data:image/png;base64,{plot}">' if plot else ""
    daily = _table(
        ("day", *(r.name for r in report.rules)),
        [(d, *(r.hits_per_day[d] for r in report.rules)) for d in report.days],
    )
    described = _table(
        ("rule", "mode", "condition", "description"),
        [(r.name, r.mode, r.condition, r.description) for r in report.rules],
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fraudops rules backtest</title>
<style>
{PAGE_STYLE}
</style></head><body>
<h1>fraudops — rules backtest</h1>
<p>Each rule is judged on its own; the policy applies allow list, block list, the active
rules by priority and then the model's thresholds (review {report.thresholds["review"]:g},
decline {report.thresholds["decline"]:g}) on the probability after adjustments. Precision
and money use the labels known at the cutoff; savings follow the cost model
{html.escape(", ".join(f"{k}={v:g}" for k, v in report.cost.items()))}.</p>
<table>{facts}</table>
<h2>Rules</h2>
{_table(RULE_HEADER, rule_rows(report))}
<h2>Definitions</h2>
<p>Shadow rules are evaluated and reported, and never decide.</p>
{described}
<h2>Hits per day</h2>
{image}
{daily}
</body></html>
"""
