"""Shadow scoring in the API (serving/shadow.py): the registry's challenger scores every
served transaction into the shadow log, never changes a response, follows its alias, and
a full queue drops and counts work instead of making a request wait."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from api_support import KEY, tx
from fastapi.testclient import TestClient

from fraudops.config import Settings
from fraudops.data import store
from fraudops.features.spec import feature_names
from fraudops.models.bundle import FraudModel, LinearModel
from fraudops.models.registry import CHALLENGER, Registry
from fraudops.serving.app import create_app
from fraudops.serving.metrics import ServiceMetrics
from fraudops.serving.model_loader import ModelHolder
from fraudops.serving.shadow import ShadowScorer
from linear_models import linear_fraud_model
from registry_support import make_champion, open_registry, register

LATENCY = re.compile(rb'"latency_ms":[-0-9.e]+')
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def challenger_model() -> FraudModel:
    """Ranks on the card's 24 h count like the champion, but steeper and with lower
    thresholds: its decisions differ, so any leak into a response would show."""
    names = feature_names()
    coef = np.array([1.5 if name == "card_tx_count_24h" else 0.0 for name in names])
    estimator = LinearModel(
        fill=np.zeros(len(names)),
        mean=np.zeros(len(names)),
        scale=np.ones(len(names)),
        coef=coef,
        intercept=-4.0,
    )
    return FraudModel(
        "lr", estimator, names, metadata={"thresholds": {"review": 0.1, "decline": 0.5}}
    )


@dataclasses.dataclass(frozen=True)
class ShadowRegistry:
    root: Path
    registry: Registry
    champion: int
    challenger: int

    def settings(self, data: str) -> Settings:
        return Settings(  # type: ignore[call-arg]
            home=self.root / "home",
            data_uri=str(self.root / data),
            reload_interval_seconds=0,
            _env_file=None,
        )

    def with_challenger(self, present: bool) -> None:
        if present:
            self.registry.client.set_registered_model_alias(
                self.registry.model_name, CHALLENGER, str(self.challenger)
            )
        elif self.registry.version_by_alias(CHALLENGER) is not None:
            self.registry.client.delete_registered_model_alias(self.registry.model_name, CHALLENGER)


@pytest.fixture(scope="module")
def shadow_registry(tmp_path_factory: pytest.TempPathFactory) -> ShadowRegistry:
    root = tmp_path_factory.mktemp("shadow")
    registry = open_registry(
        Settings(home=root / "home", _env_file=None)  # type: ignore[call-arg]
    )
    champion = register(registry, linear_fraud_model(), root / "bundles")
    make_champion(registry, champion)
    challenger = register(registry, challenger_model(), root / "bundles")
    return ShadowRegistry(root, registry, champion, challenger)


def traffic() -> list[dict[str, Any]]:
    """A card-testing burst on one card among ordinary traffic: the probabilities climb,
    so both models reach several decisions."""
    out = []
    for i in range(24):
        card = "card-burst" if i % 2 else f"card-{i:03d}"
        out.append(
            tx(
                transaction_id=f"shadow-{i:03d}",
                timestamp=(T0 + timedelta(minutes=3 * i)).isoformat(),
                card_id=card,
                customer_id=card,
                amount=1.0 + 37 * i,
            )
        )
    return out


def serve_traffic(
    shadow_registry: ShadowRegistry, data: str, hot_path: bool
) -> tuple[list[bytes], dict[str, Any]]:
    """Every transaction through /v1/predict, then all again as one batch with new ids;
    returns the raw bodies (latency zeroed) and what the run left behind."""
    settings = shadow_registry.settings(data)
    holder = ModelHolder(settings, expected_features=feature_names())
    app = create_app(settings, holder=holder, poll_registry=False, hot_path=hot_path)
    state = app.state.fraudops
    bodies = []
    with TestClient(app) as client:
        assert holder.reload()
        state.shadow.refresh()
        challenger = state.shadow.holder.current
        for item in traffic():
            response = client.post("/v1/predict", json=item, headers=KEY)
            assert response.status_code == 200, response.text
            bodies.append(response.content)
        batch = [{**item, "transaction_id": f"b-{item['transaction_id']}"} for item in traffic()]
        response = client.post("/v1/predict/batch", json={"transactions": batch}, headers=KEY)
        assert response.status_code == 200, response.text
        bodies.append(response.content)
        metrics = state.metrics.registry
    # leaving the client stopped the app: the shadow queue is drained and its log flushed
    return [LATENCY.sub(b'"latency_ms":0', body) for body in bodies], {
        "settings": settings,
        "challenger": challenger,
        "scored": metrics.get_sample_value("fraudops_shadow_scored_total"),
        "version": metrics.get_sample_value("fraudops_shadow_challenger_version"),
        "disagreements": sum(
            s.value
            for m in metrics.collect()
            if m.name == "fraudops_shadow_disagreements"
            for s in m.samples
            if s.name.endswith("_total")
        ),
    }


@pytest.mark.parametrize("hot_path", [True, False], ids=["hot-path", "fastapi-routes"])
def test_a_challenger_never_changes_a_response_and_scores_every_transaction(
    shadow_registry: ShadowRegistry, hot_path: bool
) -> None:
    shadow_registry.with_challenger(False)
    alone, without = serve_traffic(shadow_registry, f"alone-{hot_path}", hot_path)
    shadow_registry.with_challenger(True)
    shadowed, with_challenger = serve_traffic(shadow_registry, f"shadowed-{hot_path}", hot_path)

    assert without["challenger"] is None
    assert with_challenger["challenger"].version == shadow_registry.challenger
    assert shadowed == alone  # byte for byte, latency aside

    no_log = store.read_chunks(without["settings"].dataset_uri("shadow_predictions"))
    assert no_log.height == 0
    settings = with_challenger["settings"]
    log = store.read_chunks(settings.dataset_uri("shadow_predictions"))
    served = store.read_chunks(settings.dataset_uri("predictions"))
    assert log.height == served.height == 2 * len(traffic())
    assert with_challenger["scored"] == log.height
    assert with_challenger["version"] == shadow_registry.challenger

    joined = served.join(log, on="transaction_id", validate="1:1")
    assert (joined["champion_version"] == shadow_registry.champion).all()
    assert (joined["challenger_version"] == shadow_registry.challenger).all()
    assert joined["champion_probability"].to_list() == joined["fraud_probability"].to_list()
    assert joined["champion_decision"].to_list() == joined["decision"].to_list()
    # the challenger scored the champion's own feature vectors, with its own thresholds
    model = challenger_model()
    expected = model.predict_proba(joined.select(feature_names()).to_numpy())
    np.testing.assert_allclose(joined["challenger_probability"].to_numpy(), expected)
    thresholds = model.decision_thresholds
    decided = np.where(
        expected >= thresholds.decline,
        "decline",
        np.where(expected >= thresholds.review, "review", "approve"),
    )
    assert joined["challenger_decision"].to_list() == decided.tolist()
    changed = (joined["champion_decision"] != joined["challenger_decision"]).sum()
    assert changed > 0, "the two models should disagree somewhere in this traffic"
    assert with_challenger["disagreements"] == changed
    assert log["shadow_rules"].null_count() == log.height


def work(scorer: ShadowScorer, i: int, rules: str | None = None) -> bool:
    names = feature_names()
    return scorer.submit(
        [{"transaction_id": f"q-{i}", "timestamp": T0, "card_id": "c", "amount": 5.0}],
        np.zeros((1, len(names))),
        np.array([0.01]),
        ["approve"],
        1,
        None if rules is None else [rules],
    )


def wait_until_empty(scorer: ShadowScorer) -> None:
    deadline = time.monotonic() + 30
    while scorer.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert scorer.pending() == 0


def test_a_full_queue_drops_and_counts_instead_of_blocking(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fraudops.data.logs import AppendLog
    from fraudops.monitoring.shadow import SHADOW_SCHEMA

    settings = Settings(home=tmp_path / "home", _env_file=None)  # type: ignore[call-arg]
    metrics = ServiceMetrics()
    log = AppendLog(str(tmp_path / "shadow"), schema=SHADOW_SCHEMA)
    scorer = ShadowScorer(settings, log, metrics, queue_size=2)
    scorer.holder.install(challenger_model(), version=4)
    caplog.set_level(logging.INFO, logger="fraudops.serving.shadow")

    # no worker yet: two submissions fill the queue, the next three return at once
    assert [work(scorer, i, "velocity" if i == 0 else None) for i in range(5)] == [
        True,
        True,
        False,
        False,
        False,
    ]
    dropped = metrics.registry.get_sample_value(
        "fraudops_shadow_dropped_total", {"reason": "queue_full"}
    )
    assert dropped == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "shadow queue full" in warnings[0].getMessage()

    scorer.start(poll=False)
    wait_until_empty(scorer)
    assert work(scorer, 5)
    recovered = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("3 transactions were not shadow-scored" in m for m in recovered)
    scorer.stop()

    rows = store.read_chunks(str(tmp_path / "shadow")).sort("transaction_id")
    assert rows["transaction_id"].to_list() == ["q-0", "q-1", "q-5"]
    assert (rows["challenger_version"] == 4).all()
    assert rows["shadow_rules"].to_list() == ["velocity", None, None]
    assert metrics.registry.get_sample_value("fraudops_shadow_scored_total") == 3


def test_an_absent_challenger_is_nothing_to_do_and_the_alias_is_followed(
    shadow_registry: ShadowRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fraudops.data.logs import AppendLog
    from fraudops.monitoring.shadow import SHADOW_SCHEMA

    settings = shadow_registry.settings("follow")
    metrics = ServiceMetrics()
    log = AppendLog(str(tmp_path / "shadow"), schema=SHADOW_SCHEMA)
    scorer = ShadowScorer(settings, log, metrics)
    version = "fraudops_shadow_challenger_version"
    caplog.set_level(logging.INFO)

    shadow_registry.with_challenger(False)
    assert not scorer.refresh()
    assert scorer.holder.current is None
    assert scorer.holder.status.last_error is None
    assert not work(scorer, 0)  # nothing queued
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert metrics.registry.get_sample_value(version) == 0

    shadow_registry.with_challenger(True)
    assert scorer.refresh()
    assert metrics.registry.get_sample_value(version) == shadow_registry.challenger
    assert not scorer.refresh()  # same version: nothing to load

    shadow_registry.with_challenger(False)  # promoted or removed
    scorer.refresh()
    assert scorer.holder.current is None
    assert metrics.registry.get_sample_value(version) == 0

    # shadow rules without a challenger are still logged, challenger columns empty
    assert work(scorer, 1, "new-device")
    scorer.start(poll=False)
    scorer.stop()
    rows = store.read_chunks(str(tmp_path / "shadow"))
    assert rows.select("transaction_id", "challenger_version", "shadow_rules").rows() == [
        ("q-1", None, "new-device")
    ]
    assert metrics.registry.get_sample_value("fraudops_shadow_scored_total") == 0


def test_shadow_log_schema_covers_what_the_worker_writes() -> None:
    from fraudops.monitoring.shadow import SHADOW_SCHEMA
    from fraudops.serving.shadow import ShadowWork, shadow_rows

    names = feature_names()
    work_item = ShadowWork(
        [{"transaction_id": "a", "timestamp": T0, "card_id": "c", "amount": 3}],
        np.zeros((1, len(names))),
        np.array([0.2]),
        ["review"],
        None,
        None,
    )
    rows = shadow_rows([work_item], None)
    assert list(rows[0]) == list(SHADOW_SCHEMA)
    frame = pl.DataFrame(rows, schema=SHADOW_SCHEMA)
    assert frame["champion_decision"].to_list() == ["review"]
