"""Prometheus scrapes the API as the stack's Prometheus does.

The Prometheus here runs ``deployment/prometheus/prometheus.yml`` (its compose targets
replaced by two API processes, one-second scrapes) with the shipped alert rules, and the
assertions go through Prometheus's own HTTP query API. ``promtool check config`` of the
shipped file and the rules' unit tests live in tests/deployment/test_prometheus_rules.py.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from fraudops.data import store
from fraudops.data.generate import SimulationConfig, generate
from fraudops.serving.schemas import TransactionIn

if TYPE_CHECKING:
    from conftest import ApiProcess, PrometheusServer, Replicas, S3Server

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deployment" / "prometheus" / "alerts.yml"
JOB = 'job="fraudops-api"'


def by_instance(result: list[dict[str, Any]]) -> dict[str, float]:
    return {series["metric"]["instance"]: float(series["value"][1]) for series in result}


def exported(api: ApiProcess, name: str, **labels: str) -> float:
    """A sample as the API itself exports it on /metrics (0 when absent)."""
    for family in text_string_to_metric_families(api.metrics_text()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def transaction(tx_id: str, minutes: int) -> dict[str, Any]:
    timestamp = datetime(2026, 8, 3, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return {
        "transaction_id": tx_id,
        "timestamp": timestamp.isoformat(),
        "card_id": f"card-{tx_id}",
        "merchant_id": "merchant-prometheus",
        "amount": 12.5,
    }


def evaluated_at(rule: dict[str, Any]) -> float:
    """A rule's last evaluation (Prometheus gives RFC 3339 with nanoseconds) as epoch s."""
    stamp = re.sub(r"(\.\d{6})\d+", r"\1", rule["lastEvaluation"]).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


def test_prometheus_scrapes_both_replicas_with_the_shipped_rules(
    replicas_prometheus: PrometheusServer, linear_replicas: Replicas
) -> None:
    prometheus = replicas_prometheus
    apis = linear_replicas.apis
    instances = [api.metrics_target for api in apis]
    for api in apis:  # production: not on the API port, which a load balancer exposes
        with api.client() as http:
            assert http.get("/metrics").status_code == 404
    requests = "fraudops_http_requests_total"
    before = [exported(api, requests, endpoint="/v1/predict", status="200") for api in apis]
    sent = [3, 2]
    stamp = time.time_ns()
    for api, count in zip(apis, sent, strict=True):
        with api.client() as http:
            for k in range(count):
                tx = transaction(f"prom-{stamp}-{api.port}-{k}", k)
                answer = http.post("/v1/predict", json=tx)
                assert answer.status_code == 200, answer.text
    with apis[0].client() as http:
        assert http.post("/v1/predict", json={"transaction_id": "x"}).status_code == 422
        assert http.post("/v1/predict", json={}, headers={"X-API-Key": ""}).status_code == 401

    up = dict.fromkeys(instances, 1.0)
    prometheus.wait_for(f"up{{{JOB}}}", lambda r: by_instance(r) == up)
    expected = {i: b + n for i, b, n in zip(instances, before, sent, strict=True)}
    prometheus.wait_for(
        f'{requests}{{{JOB},endpoint="/v1/predict",status="200"}}',
        lambda r: by_instance(r) == expected,
    )
    for status in ("422", "401"):
        own = exported(apis[0], requests, endpoint="/v1/predict", status=status)
        assert own >= 1
        prometheus.wait_for(
            f'{requests}{{{JOB},endpoint="/v1/predict",status="{status}"}}',
            lambda r, own=own: by_instance(r).get(instances[0]) == own,
        )
    info = prometheus.wait_for(f"fraudops_model_info{{{JOB}}} == 1", lambda r: len(r) == 2)
    healthy_since = time.time()  # both replicas serve a model in Prometheus's data from here
    name = linear_replicas.env["FRAUDOPS_MODEL_NAME"]
    assert {
        (s["metric"]["instance"], s["metric"]["name"], s["metric"]["version"], s["metric"]["alias"])
        for s in info
    } == {(instance, name, "1", "champion") for instance in instances}
    latency = prometheus.query(
        "sum by (instance) "
        f'(fraudops_http_request_duration_seconds_count{{{JOB},endpoint="/v1/predict"}})'
    )
    assert set(by_instance(latency)) == set(instances)

    # the shipped alert rules load, evaluate without error against these series, and
    # stay quiet for healthy replicas serving a model. A rule evaluated before the model
    # loaded may still be pending: judge the states of an evaluation after healthy_since.
    shipped = yaml.safe_load(ALERTS.read_text())["groups"]
    deadline = time.monotonic() + 30
    groups = prometheus.rules()
    while time.monotonic() < deadline and any(
        rule["health"] != "ok" or evaluated_at(rule) <= healthy_since
        for group in groups
        for rule in group["rules"]
    ):
        time.sleep(0.5)
        groups = prometheus.rules()
    assert [g["name"] for g in groups] == [g["name"] for g in shipped]
    rules = {r["name"]: r for g in groups for r in g["rules"]}
    assert set(rules) == {r["alert"] for g in shipped for r in g["rules"]}
    assert {name: r["health"] for name, r in rules.items()} == dict.fromkeys(rules, "ok")
    for alert in ("FraudopsApiDown", "FraudopsNoModelLoaded", "FraudopsHigh5xxRate"):
        assert rules[alert]["state"] == "inactive", rules[alert]


def test_a_monitoring_record_reaches_prometheus(
    replicas_prometheus: PrometheusServer,
    linear_replicas: Replicas,
    s3_server: S3Server,
    fraudops_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """``fraudops monitor`` on the replicas' prediction log → the gauges in Prometheus
    (each API copies the latest stored record into its gauges every 15 s or more)."""
    day = date(2026, 9, 1)
    traffic = generate(SimulationConfig(customers=120, days=1, start=day, seed=31))
    rows = [
        {name: row[name] for name in TransactionIn.model_fields}
        | {"timestamp": row["timestamp"].isoformat()}
        for row in traffic.sort("timestamp").to_dicts()
    ]
    with linear_replicas.apis[0].client() as http:
        answer = http.post("/v1/predict/batch", json={"transactions": rows})
        assert answer.status_code == 200, answer.text
    uri = f"{linear_replicas.env['FRAUDOPS_DATA_URI']}/predictions"
    deadline = time.monotonic() + 30
    while store.read_chunks(uri, day, day, s3_server.storage_options()).height < len(rows):
        assert time.monotonic() < deadline, "the prediction log never reached S3"
        time.sleep(0.5)

    as_of = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    fraudops_cli(
        linear_replicas.env,
        *("monitor", "--source", "predictions", "--as-of", as_of.isoformat(), "--report", "never"),
        cwd=tmp_path,
    )
    bucket = linear_replicas.env["FRAUDOPS_DATA_URI"].removeprefix("s3://").split("/")[0]
    key = f"data/monitoring/records/{as_of:%Y-%m-%dT%H%M%SZ}.json"
    record = json.loads(s3_server.read(bucket, key))
    assert record["rows"] == len(rows)

    rates = record["decision_rates"]
    replicas_prometheus.wait_for(
        f"fraudops_decision_rate{{{JOB}}}",
        lambda r: (
            bool(r)
            and all(
                float(s["value"][1]) == pytest.approx(rates[s["metric"]["decision"]]) for s in r
            )
        ),
        timeout=25,
    )
    replicas_prometheus.wait_for(
        f"fraudops_score_psi{{{JOB}}}",
        lambda r: (
            bool(r) and all(float(s["value"][1]) == pytest.approx(record["score_psi"]) for s in r)
        ),
        timeout=25,
    )
