"""Prometheus configuration and alert rules (deployment/prometheus/).

promtool validates the configuration and the rules and runs their unit tests; the rest
checks that each required alert exists with its threshold, that every alert is tested
firing and silent, that model-monitoring alerts follow the verdict gauges instead of
restating Settings, and that rules and dashboards only name metrics the API exports.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deployment" / "prometheus"
DASHBOARDS_DIR = REPO / "deployment" / "grafana" / "dashboards"
BUILTIN_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}

# alert -> (fragments its expression must contain, its "for" duration)
REQUIRED_ALERTS = {
    "FraudopsHighP99Latency": (
        ["histogram_quantile(0.99", "fraudops_http_request_duration_seconds_bucket", "> 0.05"],
        "5m",
    ),
    "FraudopsHigh5xxRate": (['status=~"5.."', "fraudops_http_requests_total", "> 0.01"], "5m"),
    "FraudopsNoModelLoaded": (["fraudops_model_loaded", "== 0", "absent("], "2m"),
    "FraudopsFeatureDrift": (["fraudops_drift_share", "fraudops_drift_alarm) == 1"], "5m"),
    "FraudopsLiveAveragePrecisionLow": (
        ["fraudops_live_average_precision", "fraudops_performance_degraded) == 1"],
        "5m",
    ),
    "FraudopsScoreDrift": (["fraudops_score_psi", "fraudops_score_drift_alarm) == 1"], "5m"),
    "FraudopsApiDown": (['up{job="fraudops-api"}', "== 0"], "2m"),
    "FraudopsModelReloadFailing": (["fraudops_model_reload_failures_total"], "0m"),
    "FraudopsRulesRefused": (["fraudops_rules_reload_failures_total"], "0m"),
}


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def run_promtool(promtool: str, *args: str, cwd: Path = PROMETHEUS_DIR) -> None:
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def promtool(tool: Callable[[str, str], str]) -> str:
    return tool("promtool", "apt-get install prometheus")


# ---------------------------------------------------------------------- promtool


def test_promtool_check_config(promtool: str) -> None:
    run_promtool(promtool, "check", "config", "prometheus.yml")


def test_promtool_check_rules(promtool: str) -> None:
    run_promtool(promtool, "check", "rules", "alerts.yml")


def test_promtool_test_rules(promtool: str) -> None:
    run_promtool(promtool, "test", "rules", "alerts_test.yml")


def test_promtool_accepts_every_dashboard_query(promtool: str, tmp_path: Path) -> None:
    """Dashboard PromQL parses: each query becomes a recording rule promtool checks."""
    substitutions = {"$__rate_interval": "5m", "$__interval": "1m", "$instance": ".*"}
    records = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        for index, query in enumerate(dashboard_expressions(json.loads(path.read_text()))):
            expr = query
            for variable, value in substitutions.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"unknown Grafana variable in {query}"
            records.append(
                {"record": f"dashboard:{path.stem.replace('-', '_')}:{index}", "expr": expr}
            )
    assert records
    rules_file = tmp_path / "dashboard_queries.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": records}]}))
    run_promtool(promtool, "check", "rules", str(rules_file), cwd=tmp_path)


# ---------------------------------------------------------------------- configuration


def test_prometheus_scrapes_the_api_and_loads_the_rules() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["fraudops-api"]
    assert api.get("metrics_path", "/metrics") == "/metrics"
    # production (the stack's FRAUDOPS_ENV) serves metrics on their own port, not the API's
    from fraudops.config import PRODUCTION_METRICS_PORT

    targets = [t for sc in api["static_configs"] for t in sc["targets"]]
    assert targets == [f"api:{PRODUCTION_METRICS_PORT}"]
    # $__rate_interval in Grafana assumes this scrape interval (datasource timeInterval).
    assert config["global"]["scrape_interval"] == "15s"


# ---------------------------------------------------------------------- rules


def test_required_alerts_exist_with_their_thresholds() -> None:
    defined = alerts()
    for name, (fragments, duration) in REQUIRED_ALERTS.items():
        assert name in defined, f"missing alert {name}"
        expr = " ".join(defined[name]["expr"].split())
        for fragment in fragments:
            assert fragment in expr, f"{name}: {fragment!r} not in {expr!r}"
        assert defined[name].get("for", "0m") == duration, name
    assert set(defined) == set(REQUIRED_ALERTS), "an alert is not listed in REQUIRED_ALERTS"


def test_latency_alert_is_about_single_predictions() -> None:
    expr = alerts()["FraudopsHighP99Latency"]["expr"]
    assert 'endpoint="/v1/predict"' in expr


# alert -> the verdict gauge it fires on and the alarm of the stored verdict behind it
VERDICT_ALERTS = {
    "FraudopsFeatureDrift": ("fraudops_drift_alarm", "drift_alarm"),
    "FraudopsScoreDrift": ("fraudops_score_drift_alarm", "score_alarm"),
    "FraudopsLiveAveragePrecisionLow": ("fraudops_performance_degraded", "performance_degraded"),
}


def test_model_alerts_fire_on_the_verdict_not_on_thresholds_of_their_own() -> None:
    """The alerts fire where monitoring triggers retraining, whatever Settings say: they
    compare only a verdict gauge with 1 and restate no threshold."""
    for name, (gauge, _) in VERDICT_ALERTS.items():
        expr = " ".join(alerts()[name]["expr"].split())
        assert f"and on (job) (max by (job) ({gauge}) == 1)" in expr, expr
        comparisons = re.findall(r"(?:[<>]=?|==|!=)\s*([0-9.]+)", expr)
        assert comparisons == ["1"], f"{name} restates a threshold: {expr!r}"
        text = " ".join(alerts()[name]["annotations"].values())
        assert not re.search(r"\b0\.[0-9]+\b|[0-9]+%", text), f"{name}: a number in {text!r}"


def test_verdict_gauges_are_exported_from_the_record() -> None:
    """Each gauge the alerts read is set from the stored verdict's alarm."""
    from datetime import UTC, datetime

    from prometheus_client import generate_latest

    from fraudops.monitoring.records import MonitoringRecord, Verdict
    from fraudops.serving.metrics import ServiceMetrics, export_gauges

    now = datetime(2026, 3, 1, tzinfo=UTC)
    for expected, alarm in VERDICT_ALERTS.values():
        record = MonitoringRecord(
            window_start=now,
            window_end=now,
            as_of=now,
            model_version=1,
            rows=0,
            drift_share=None,
            drifted_features=[],
            feature_drift={},
            score_psi=None,
            decision_rates={},
            reference_decision_rates={},
            verdict=Verdict(retrain=True, reasons=["x"], **{alarm: True}),
        )
        metrics = ServiceMetrics()
        export_gauges(record, metrics)
        text = generate_latest(metrics.registry).decode()
        raised = {gauge for gauge, _ in VERDICT_ALERTS.values() if f"\n{gauge} 1.0" in text}
        assert raised == {expected}, (alarm, raised)


def test_every_alert_has_severity_and_explanations() -> None:
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"].get("summary"), name
        assert rule["annotations"].get("description"), name


def test_every_alert_is_tested_firing_and_silent() -> None:
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    assert tests["rule_files"] == ["alerts.yml"]
    firing, silent = set(), set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    assert set(alerts()) <= firing, f"never tested firing: {set(alerts()) - firing}"
    assert set(alerts()) <= silent, f"never tested silent: {set(alerts()) - silent}"


def test_rules_only_use_exported_metrics(
    exported_series: set[str], promql_names: Callable[[str], set[str]]
) -> None:
    for rule in rules():
        unknown = promql_names(rule["expr"]) - exported_series - BUILTIN_SERIES
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: unknown {unknown}"


def test_metric_name_extraction(promql_names: Callable[[str], set[str]]) -> None:
    """The helper behind the metric checks finds metrics and only metrics."""
    expr = (
        'sum by (decision) (rate(fraudops_predictions_total{job="x", instance=~"$instance"}'
        "[$__rate_interval])) / ignoring(decision) group_left() sum(rate(up[5m] offset 2m))"
        ' > 0.5 or vector(0) unless absent(fraudops_model_loaded{status=~"5.."}) and bogus_metric'
    )
    assert promql_names(expr) == {
        "fraudops_predictions_total",
        "up",
        "fraudops_model_loaded",
        "bogus_metric",
    }


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL query of a dashboard: panel targets and annotations."""
    exprs = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            exprs.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    exprs.extend(a["expr"] for a in dashboard["annotations"]["list"] if a.get("expr"))
    return exprs
