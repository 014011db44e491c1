"""Grafana dashboards and provisioning (deployment/grafana/), ready for the compose stack.

Dashboards load, are laid out on the 24-column grid without overlaps, cover the topics
users expect, query the provisioned data source, and name only metrics the API exports
(and use every one of them). Provisioning paths match the compose mounts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA_DIR = REPO / "deployment" / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
BUILTIN_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}
REQUIRED_ROWS = [
    "API health",
    "Traffic and latency",
    "Decisions and scores",
    "Drift and live performance",
    "Model versions",
    "Shadow scoring",
    "Rules and lists",
    "Review queue",
    "Resilience",
]


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows and the panels of collapsed rows included."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def queries(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(dashboard) for t in p.get("targets", []) if "expr" in t]
    exprs += [a["expr"] for a in dashboard["annotations"]["list"] if a.get("expr")]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else ""
        match = re.fullmatch(r"label_values\((.*),\s*\w+\)", text)
        if match:
            exprs.append(match[1])
    return exprs


def provisioned_datasources() -> list[dict[str, Any]]:
    files = sorted((GRAFANA_DIR / "provisioning" / "datasources").glob("*.yml"))
    return [ds for f in files for ds in yaml.safe_load(f.read_text())["datasources"]]


@pytest.fixture(params=DASHBOARDS, ids=lambda p: p.name)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def test_there_is_a_dashboard() -> None:
    assert [p.name for p in DASHBOARDS] == ["fraudops-overview.json"]


def test_dashboard_identity(dashboard: dict[str, Any]) -> None:
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    assert dashboard["title"]
    assert dashboard["schemaVersion"] >= 36
    assert "id" not in dashboard or dashboard["id"] is None, "provisioned dashboards carry no id"
    assert "fraudops" in dashboard["tags"]


def test_dashboard_covers_the_expected_topics(dashboard: dict[str, Any]) -> None:
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == REQUIRED_ROWS
    for row_title in REQUIRED_ROWS:
        assert panels_of_row(dashboard, row_title), f"row {row_title!r} is empty"


def panels_of_row(dashboard: dict[str, Any], title: str) -> list[dict[str, Any]]:
    current, grouped = None, {}
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
            grouped[current] = list(panel.get("panels", []))
        elif current is not None:
            grouped[current].append(panel)
    return grouped.get(title, [])


def test_panels_have_unique_ids_and_fit_the_grid(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["w"] > 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_panel_queries_prometheus(dashboard: dict[str, Any]) -> None:
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel.get("title"), panel.get("id")
        assert panel.get("description"), panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_datasource_variable_defaults_to_the_provisioned_source(
    dashboard: dict[str, Any],
) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    datasource = variables["datasource"]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    (provisioned,) = provisioned_datasources()
    assert datasource["current"]["value"] == provisioned["uid"]
    assert datasource["current"]["text"] == provisioned["name"]


def test_dashboards_only_use_exported_metrics(
    dashboard: dict[str, Any],
    exported_series: set[str],
    promql_names: Callable[[str], set[str]],
) -> None:
    for expr in queries(dashboard):
        unknown = promql_names(expr) - exported_series - BUILTIN_SERIES
        assert not unknown, f"metrics the API does not export: {unknown} in {expr}"


def test_every_api_metric_is_on_a_dashboard(
    metric_families: dict[str, set[str]], promql_names: Callable[[str], set[str]]
) -> None:
    used = {
        name for path in DASHBOARDS for expr in queries(load(path)) for name in promql_names(expr)
    }
    unused = sorted(family for family, series in metric_families.items() if not series & used)
    assert not unused, f"exported but shown on no dashboard: {unused}"


def test_thresholds_drawn_match_the_alerts(dashboard: dict[str, Any]) -> None:
    by_title = {p["title"]: p for p in panels(dashboard)}

    def steps(title: str) -> list[float]:
        config = by_title[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        return [s["value"] for s in config if s["value"] is not None]

    assert 0.05 in steps("Latency of /v1/predict")
    assert 0.01 in steps("5xx ratio")


def test_monitoring_lines_are_the_default_thresholds_and_the_verdict_is_shown(
    dashboard: dict[str, Any],
) -> None:
    """Drift, PSI and AP panels draw Settings' default thresholds (a guide only); the
    verdict panel shows the alarms the alerts fire on, whatever thresholds are configured."""
    from fraudops.config import Settings

    by_title = {p["title"]: p for p in panels(dashboard)}
    fields = Settings.model_fields
    for title, field in (
        ("Share of drifted features", "drift_share_threshold"),
        ("Score PSI", "psi_threshold"),
        ("Live average precision", "live_ap_floor"),
    ):
        config = by_title[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert fields[field].default in [s["value"] for s in config], title
        assert f"FRAUDOPS_{field.upper()}" in by_title[title]["description"], title
    verdict = " ".join(t["expr"] for t in by_title["Retraining verdict"]["targets"])
    for gauge in (
        "fraudops_monitoring_retrain_triggered",
        "fraudops_drift_alarm",
        "fraudops_score_drift_alarm",
        "fraudops_performance_degraded",
    ):
        assert gauge in verdict, gauge


# ---------------------------------------------------------------------- provisioning


def test_datasource_provisioning_points_at_the_prometheus_service(
    services: dict[str, Any],
) -> None:
    (datasource,) = provisioned_datasources()
    assert datasource["type"] == "prometheus"
    assert datasource["isDefault"] is True
    assert datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in services
    assert datasource["jsonData"]["timeInterval"] == "15s"


def test_dashboard_provider_reads_the_mounted_folder(services: dict[str, Any]) -> None:
    config = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "dashboards" / "fraudops.yml").read_text()
    )
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    mounts = dict(
        volume.split(":")[:2] for volume in services["grafana"]["volumes"] if volume.startswith(".")
    )
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    folder, _, filename = home.rpartition("/")
    assert folder == provider["options"]["path"]
    assert (GRAFANA_DIR / "dashboards" / filename).is_file()
