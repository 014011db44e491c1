"""The whole path on real services, wired as deployment/docker-compose.yml wires them.

generate (S3) → validate (S3) → train → registered on the MLflow server (PostgreSQL
backend, artifacts in the S3 bucket) → ``fraudops serve`` loads the champion from that
registry → predictions → labels → ``fraudops monitor`` reads the prediction log from S3
→ the API's metrics in Prometheus. Every fraudops step runs as a subprocess with the
compose ``api`` service's environment, as the API container and the Airflow tasks do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from fraudops.data import store
from fraudops.serving.schemas import TransactionIn

if TYPE_CHECKING:
    from conftest import ApiProcess, MlflowServer, PostgresServer, PrometheusServer, S3Server

pytestmark = pytest.mark.integration

DATA_BUCKET = "fraudops"  # compose's MINIO_DATA_BUCKET default
DAYS = 30
START = date(2026, 2, 1)


def payload(row: dict[str, Any]) -> dict[str, Any]:
    """A stored transaction as the API takes it (the canonical fields, ISO timestamps)."""
    body = {name: row[name] for name in TransactionIn.model_fields}
    body["timestamp"] = row["timestamp"].isoformat()
    return body


def value(result: list[dict[str, Any]]) -> float:
    return sum(float(series["value"][1]) for series in result)


def test_generate_validate_train_serve_label_monitor_scrape(
    prometheus_binary: str,  # a missing binary skips before the services start
    s3_server: S3Server,
    postgres_server: PostgresServer,
    mlflow_server: MlflowServer,
    compose_api_env: Callable[..., dict[str, str]],
    api_process: Callable[..., ApiProcess],
    start_prometheus: Callable[[list[str]], PrometheusServer],
    fraudops_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    # a 5 s registry poll (compose's default is 30 s): the API copies the latest
    # monitoring record into its gauges every max(poll, 15 s)
    env = compose_api_env(data_bucket=DATA_BUCKET, redis_db=3, FRAUDOPS_RELOAD_INTERVAL_SECONDS="5")
    assert env["FRAUDOPS_ENV"] == "production"
    data_uri = env["FRAUDOPS_DATA_URI"]
    assert data_uri == f"s3://{DATA_BUCKET}/data"
    raw, validated = f"{data_uri}/raw", f"{data_uri}/validated"
    options = s3_server.storage_options()

    # -- generate and validate, on S3 ----------------------------------------------
    generate = ["data", "generate", "--customers", "300", "--days", str(DAYS)]
    generate += ["--start", START.isoformat(), "--fraud-rate", "0.03", "--seed", "5"]
    fraudops_cli(env, *generate, "--out", raw, cwd=tmp_path)
    manifest = json.loads(s3_server.read(DATA_BUCKET, "data/raw/_manifest.json"))
    assert len(manifest["partitions"]) == DAYS
    partitions = [k for k in s3_server.keys(DATA_BUCKET, "data/raw/") if k.endswith(".parquet")]
    assert len(partitions) == DAYS
    fraudops_cli(env, "data", "validate", "--input", raw, "--out", validated, cwd=tmp_path)
    report = json.loads(s3_server.read(DATA_BUCKET, "data/validated/report.json"))
    assert report["passed"]
    assert report["totals"]["rows"] == manifest["rows"]
    assert store.read_manifest(f"{validated}/clean", options)["rows"] == manifest["rows"]

    # -- the API starts before any model exists (as in a fresh stack) -----------------
    api = api_process(env, wait=False)  # boots while the model trains

    # -- train: registered in the MLflow server, on PostgreSQL, artifacts in S3 -------
    trained = fraudops_cli(env, "train", "--data", validated, "--models", "lgbm", cwd=tmp_path)
    assert "registered version 1" in trained.stdout, trained.stdout
    client = mlflow_server.client()
    champion = client.get_model_version_by_alias(env["FRAUDOPS_MODEL_NAME"], "champion")
    assert champion.version == "1"
    assert champion.tags["algorithm"] == "lgbm"
    assert champion.tags["data_uri"] == validated
    experiment = client.get_experiment_by_name(env["FRAUDOPS_MLFLOW_EXPERIMENT"])
    assert experiment.artifact_location == env["FRAUDOPS_MLFLOW_ARTIFACT_URI"]
    run_id = champion.run_id
    # the server proxies mlflow-artifacts:/fraudops to s3://mlflow/fraudops
    assert mlflow_server.artifacts_destination == "s3://mlflow/"
    bundle = s3_server.keys("mlflow", f"fraudops/{run_id}/artifacts/bundle/")
    assert {Path(key).name for key in bundle} >= {"bundle.json", "model.txt", "reference.parquet"}
    # and the registry itself lives in PostgreSQL
    rows = registry_rows(mlflow_server)
    assert (env["FRAUDOPS_MODEL_NAME"], 1, "champion") in rows

    # -- the API loads the champion from that registry --------------------------------
    api.wait_live()
    with api.client(admin=True) as admin:
        # what the training DAG does after a promotion (the poller would, within 30 s)
        reloaded = admin.post("/admin/reload")
        if reloaded.status_code == 200 and not reloaded.json()["reloaded"]:
            assert reloaded.json()["version"] == 1  # the poller was quicker
        else:
            assert reloaded.json() == {"reloaded": True, "version": 1}, reloaded.text
    assert api.wait_ready()["model_version"] == 1
    prometheus = start_prometheus([api.metrics_target])
    last_day = START + timedelta(days=DAYS - 1)
    day = store.read_dataset(raw, last_day, last_day, options).sort("timestamp")
    batches = [day.slice(i, 200) for i in range(0, day.height, 200)]
    with api.client() as http:
        served = http.get("/v1/model").json()
        assert (served["version"], served["algorithm"], served["alias"]) == (1, "lgbm", "champion")
        predictions = []
        for batch in batches:
            answer = http.post(
                "/v1/predict/batch", json={"transactions": [payload(r) for r in batch.to_dicts()]}
            )
            assert answer.status_code == 200, answer.text
            predictions += answer.json()["predictions"]
        assert len(predictions) == day.height
        assert {p["model"]["version"] for p in predictions} == {1}
        assert all(p["reasons"] for p in predictions)

        # -- labels: chargebacks for the frauds, confirmations for some genuine ones ----
        frauds = day.filter(pl.col("is_fraud") == 1)["transaction_id"].to_list()
        genuine = day.filter(pl.col("is_fraud") == 0)["transaction_id"].head(20).to_list()
        assert frauds
        reported = datetime.combine(last_day, datetime.min.time(), UTC) + timedelta(days=1)
        for tx_id, label in [(t, "chargeback") for t in frauds] + [(t, "genuine") for t in genuine]:
            answer = http.post(
                "/v1/labels",
                json={"transaction_id": tx_id, "label": label, "reported_at": reported.isoformat()},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["known_transaction"] is True

    # -- the prediction and label logs reach S3 --------------------------------------
    wait_for_rows(f"{data_uri}/predictions", day.height, options)
    labels = wait_for_rows(f"{data_uri}/label_feed", len(frauds) + len(genuine), options)
    assert int(labels["is_fraud"].sum()) == len(frauds)

    # -- monitoring reads the prediction log from S3 ---------------------------------
    as_of = reported.isoformat()
    monitor = ["monitor", "--source", "predictions", "--as-of", as_of, "--report", "never"]
    fraudops_cli(env, *monitor, cwd=tmp_path)
    record_key = f"data/monitoring/records/{reported:%Y-%m-%dT%H%M%SZ}.json"
    record = json.loads(s3_server.read(DATA_BUCKET, record_key))
    assert record["rows"] == day.height
    assert record["model_version"] == 1
    assert record["drift_share"] is not None
    assert record["score_psi"] is not None
    monitoring_runs = client.search_runs(
        [experiment.experiment_id], "tags.kind = 'monitoring'", max_results=5
    )
    assert len(monitoring_runs) == 1
    assert monitoring_runs[0].data.metrics["rows"] == day.height

    # -- the API's metrics in Prometheus ----------------------------------------------
    job = '{job="fraudops-api"}'
    prometheus.wait_for(f"sum(fraudops_predictions_total{job})", lambda r: value(r) == day.height)
    prometheus.wait_for(
        f"sum(fraudops_labels_total{job})", lambda r: value(r) == len(frauds) + len(genuine)
    )
    info = prometheus.wait_for(f"fraudops_model_info{job}")
    assert [(s["metric"]["name"], s["metric"]["version"], s["metric"]["alias"]) for s in info] == [
        (env["FRAUDOPS_MODEL_NAME"], "1", "champion")
    ]
    batch_requests = prometheus.wait_for(
        'fraudops_http_requests_total{job="fraudops-api",endpoint="/v1/predict/batch",'
        'status="200"}',
        lambda r: value(r) == len(batches),
    )
    assert batch_requests[0]["metric"]["method"] == "POST"
    # and the monitoring record's measures, through the API's gauges
    for gauge, measured in (
        ("fraudops_score_psi", record["score_psi"]),
        ("fraudops_drift_share", record["drift_share"]),
        ("fraudops_monitoring_retrain_triggered", float(record["verdict"]["retrain"])),
        # the verdict's alarms, which the model-monitoring alerts fire on
        ("fraudops_drift_alarm", float(record["verdict"]["drift_alarm"])),
        ("fraudops_score_drift_alarm", float(record["verdict"]["score_alarm"])),
        ("fraudops_performance_degraded", float(record["verdict"]["performance_degraded"])),
    ):
        prometheus.wait_for(
            f"{gauge}{job}",
            lambda r, m=measured: len(r) == 1 and value(r) == pytest.approx(m),
            timeout=40,
        )
    rates = prometheus.wait_for(f"fraudops_decision_rate{job}", lambda r: len(r) == 2)
    assert {s["metric"]["decision"]: float(s["value"][1]) for s in rates} == pytest.approx(
        record["decision_rates"]
    )
    # no label has matured yet (30 days): live average precision is "not measured", NaN
    assert record["performance"] is None
    live = prometheus.query(f"fraudops_live_average_precision{job}")
    assert [s["value"][1] for s in live] == ["NaN"]


def wait_for_rows(uri: str, expected: int, options: dict[str, Any]) -> pl.DataFrame:
    """The API flushes its logs every FRAUDOPS_PREDICTION_LOG_FLUSH_SECONDS (2 s)."""
    deadline = time.monotonic() + 30
    frame = store.read_chunks(uri, storage_options=options)
    while frame.height < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        frame = store.read_chunks(uri, storage_options=options)
    assert frame.height == expected, f"{uri}: {frame.height} rows, expected {expected}"
    return frame


def registry_rows(mlflow_server: MlflowServer) -> set[tuple[str, int, str]]:
    """(model, version, alias) rows straight from MLflow's PostgreSQL database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(mlflow_server.backend_store_uri)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT v.name, v.version, a.alias FROM model_versions v "
                    "JOIN registered_model_aliases a ON a.name = v.name AND a.version = v.version"
                )
            )
            return {(name, int(version), alias) for name, version, alias in found}
    finally:
        engine.dispose()


def test_the_compose_backend_store_uri_opens_with_the_installed_driver(
    mlflow_server: MlflowServer,
) -> None:
    """MLFLOW_BACKEND_STORE_URI exactly as compose writes it (scheme included), opened the
    way ``mlflow server`` opens it at start."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = mlflow_server.compose_backend_store_uri
    assert uri.startswith("postgresql")
    backend = SqlAlchemyStore(uri, mlflow_server.artifacts_destination)
    try:
        assert backend.get_experiment_by_name("Default") is not None
    finally:
        backend.engine.dispose()
