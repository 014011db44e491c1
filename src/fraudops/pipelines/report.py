"""The demo's HTML report: one self-contained file with plots and the timeline."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from fraudops.pipelines.loop_summary import HEADLINE_FACTS

# the house style of every HTML page the pipelines write
PAGE_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1rem 0}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:left}
img{display:block;max-width:100%;margin:1rem 0}"""


def figure_png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def loop_plots(summary: dict[str, Any]) -> dict[str, str]:
    """PNG (base64) plots: volume and fraud caught, drift share and PSI, live AP."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timeline = summary["timeline"]
    days = [d["day"] for d in timeline]
    drift_day = summary.get("drift_day")
    promotions = [d["day"] for d in timeline if d.get("promoted_version")]
    retrains = [d["day"] for d in timeline if d.get("retrained")]

    def marks(ax: Any) -> None:
        if drift_day is not None:
            ax.axvline(drift_day, color="crimson", linestyle="--", label="drift injected")
        for i, day in enumerate(retrains):
            ax.axvline(day, color="grey", linestyle=":", label="retrained" if i == 0 else None)
        for i, day in enumerate(promotions):
            ax.axvline(day, color="green", linewidth=2, label="promoted" if i == 0 else None)

    plots = {}
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.bar(days, [d["transactions"] for d in timeline], color="#9db4d3", label="transactions")
    ax.set_ylabel("transactions / day")
    ax2 = ax.twinx()
    ax2.plot(days, [d["frauds"] for d in timeline], color="black", label="frauds")
    ax2.plot(
        days, [d["frauds_caught"] for d in timeline], color="darkorange", label="frauds caught"
    )
    ax2.set_ylabel("frauds / day")
    marks(ax2)
    ax2.legend(loc="upper left", fontsize=8)
    ax.set_title("Daily volume, frauds and frauds caught (review or decline)")
    plots["volume"] = figure_png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(days, [d["drift_share"] for d in timeline], marker="o", label="drift share")
    ax.plot(days, [d["score_psi"] for d in timeline], marker=".", label="score PSI")
    ax.axhline(summary.get("drift_threshold", 0.2), color="grey", linestyle="--", label="threshold")
    marks(ax)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title("Daily drift share (features) and score PSI against the champion's reference")
    plots["drift"] = figure_png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(days, [d["served_ap"] for d in timeline], marker="o", label="served AP (final labels)")
    ax.plot(
        days,
        [d["live_ap"] for d in timeline],
        marker="s",
        linestyle="--",
        label="monitored AP (matured labels, lagged window)",
    )
    marks(ax)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Average precision of the served model")
    plots["ap"] = figure_png(fig)
    plt.close(fig)

    if summary.get("caught_share_chargebacks_only"):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        for key, label, color in (
            ("caught_share_with_analysts", "with the analyst team", "teal"),
            ("caught_share_chargebacks_only", "chargebacks only", "grey"),
        ):
            days_in_arm = key.replace("caught_share_", "recovery_days_")
            recovered = summary.get(days_in_arm)
            suffix = "not recovered" if recovered is None else f"recovered in {recovered} days"
            ax.plot(days, summary[key], marker="o", color=color, label=f"{label} ({suffix})")
        marks(ax)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
        ax.set_title("Share of the day's frauds caught: the analyst team against chargebacks alone")
        plots["recovery"] = figure_png(fig)
        plt.close(fig)
    return plots


def render_report(summary: dict[str, Any]) -> str:
    plots = loop_plots(summary)
    rows = []
    for d in summary["timeline"]:
        event = []
        if d.get("retrained"):
            event.append("retrained")
        if d.get("promoted_version"):
            event.append(f"promoted v{d['promoted_version']}")
        elif d.get("gate_reason") and d.get("retrained"):
            event.append("gate refused")
        drift, psi, served = d.get("drift_share"), d.get("score_psi"), d.get("served_ap")
        rows.append(
            "<tr>"
            f"<td>{d['day']}</td><td>{d['date']}</td><td>{d['transactions']:,}</td>"
            f"<td>{d['frauds']}</td><td>{d['frauds_caught']}</td>"
            f"<td>{'' if drift is None else f'{drift:.2f}'}</td>"
            f"<td>{'' if psi is None else f'{psi:.3f}'}</td>"
            f"<td>{'' if served is None else f'{served:.3f}'}</td>"
            f"<td>v{d['champion_version']}</td>"
            f"<td>{html.escape(', '.join(event))}</td>"
            f"<td>{html.escape('; '.join(d.get('reasons', [])) or 'ok')}</td>"
            "</tr>"
        )
    headline = {key: summary.get(key) for key in HEADLINE_FACTS}
    facts = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in headline.items()
    )
    images = "".join(
        f'<img alt="{name}" src="data:image/png;base64,{data}">' for name, data in plots.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fraudops closed loop</title>
<style>
{PAGE_STYLE}
</style></head><body>
<h1>fraudops — closed loop report</h1>
<p>{summary["days"]} simulated days ({summary["warmup_days"]} of history, then live).
Drift (<code>{", ".join(summary.get("drift_kinds", []))}</code>) injected on day
{summary.get("drift_day")}.
The served AP uses the simulator's final labels; the monitor itself only sees labels that
have matured.</p>
<table>{facts}</table>
{images}
<h2>Timeline</h2>
<table><tr><th>day</th><th>date</th><th>transactions</th><th>frauds</th><th>caught</th>
<th>drift share</th><th>PSI</th><th>served AP</th><th>champion</th><th>event</th>
<th>verdict</th></tr>
{"".join(rows)}</table>
</body></html>
"""
