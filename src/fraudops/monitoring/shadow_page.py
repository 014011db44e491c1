"""The shadow report as one self-contained HTML page (the demo report's style)."""

from __future__ import annotations

import html
from datetime import timedelta

from fraudops.models.decision import DECISIONS
from fraudops.monitoring.shadow import ShadowReport, VersionComparison, comparison_rows


def _version_section(v: VersionComparison) -> str:
    champions = ", ".join(f"v{c}" for c in v.champion_versions) or "–"
    measures = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in comparison_rows(v)
    )
    header = "".join(f"<th>challenger: {d}</th>" for d in DECISIONS)
    transitions = "".join(
        f"<tr><th>champion: {a}</th>"
        + "".join(
            f'<td class="{"same" if a == b else "changed"}">{v.transitions[a][b]:,}</td>'
            for b in DECISIONS
        )
        + "</tr>"
        for a in DECISIONS
    )
    return f"""
<h2>Challenger v{v.challenger_version} against champion {html.escape(champions)}</h2>
<p>Shadow-scored from {v.first_seen:%Y-%m-%d %H:%M} to {v.last_seen:%Y-%m-%d %H:%M} UTC.
{v.changed:,} of {v.transactions:,} decisions would change.</p>
<table><tr><th>measure</th><th>champion</th><th>challenger</th><th>difference</th></tr>
{measures}</table>
<h3>Decisions that would change</h3>
<table><tr><th></th>{header}</tr>{transitions}</table>"""


def render_shadow_page(report: ShadowReport) -> str:
    period = (
        f"{report.since:%Y-%m-%d}" if report.since else "the first shadow-scored transaction",
        # the period's end is exclusive: the page names its last day
        f"{report.until - timedelta(microseconds=1):%Y-%m-%d}" if report.until else "the last",
    )
    body = "".join(_version_section(v) for v in report.versions) or (
        "<p>No challenger was shadow-scored in this period.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fraudops shadow report</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}}
table{{border-collapse:collapse;font-size:13px;margin:1rem 0}}
td,th{{border:1px solid #ddd;padding:3px 7px;text-align:left}}
td.changed{{background:#fdecea}}
</style></head><body>
<h1>fraudops — shadow report</h1>
<p>Champion and challenger on the same live transactions, from {html.escape(period[0])} to
{html.escape(period[1])}, as of {report.as_of:%Y-%m-%d %H:%M} UTC. Measures are taken on
transactions older than {report.maturity_days} days (their labels have matured), a
confirmed fraud counting 1 and everything else 0; card precision@k uses k =
{report.k}; savings follow each model's own decisions. Decision changes count every
shadow-scored transaction.</p>
{body}
</body></html>
"""
