"""Reloads from a real registry: a failed reload keeps the last good model serving (and
says why, naming the version and artifact), swaps under load drop nothing, and a moved
embedded home still serves its own files."""

from __future__ import annotations

import dataclasses
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_support import ADMIN, KEY, tx
from fastapi.testclient import TestClient

from fraudops.config import Settings
from fraudops.features.spec import feature_names
from fraudops.models.bundle import FraudModel, LinearModel
from fraudops.models.registry import Registry
from fraudops.serving.app import create_app
from fraudops.serving.model_loader import ModelHolder
from registry_support import bundle_folder, make_champion, open_registry, register

TEMPORARY_FOLDER = re.compile(r"/tmp/tmp\w{8}")  # tempfile.TemporaryDirectory's names
# a second champion that declines everything: each response shows which model answered
DECLINE_ALL = {"review": 0.0, "decline": 0.0}


@dataclasses.dataclass
class Versions:
    settings: Settings
    registry: Registry
    good: int
    other: int
    tampered: int
    reordered: int
    broken: int


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory, trained_model: Any) -> Versions:
    root = tmp_path_factory.mktemp("reloads")
    settings = Settings(home=root / "home", reload_interval_seconds=0)
    registry = open_registry(settings)
    names = feature_names()
    good = register(registry, trained_model, root)
    strict = dataclasses.replace(trained_model, metadata={"thresholds": DECLINE_ALL})
    other = register(registry, strict, root)
    tampered = register(registry, trained_model, root)
    native = bundle_folder(registry, tampered) / "model.txt"
    native.write_text(native.read_text() + "\n")
    reordered = register(
        registry, dataclasses.replace(trained_model, feature_names=names[::-1]), root
    )
    nan = LinearModel(
        fill=np.zeros(len(names)),
        mean=np.zeros(len(names)),
        scale=np.ones(len(names)),
        coef=np.zeros(len(names)),
        intercept=float("nan"),
    )
    broken_model = FraudModel("lr", nan, names)
    broken_model.metadata["thresholds"] = {"review": 0.05, "decline": 0.5}  # loads; scores NaN
    broken = register(registry, broken_model, root)
    return Versions(settings, registry, good, other, tampered, reordered, broken)


@pytest.fixture(params=[True, False], ids=["hot-path", "fastapi-routes"])
def served(versions: Versions, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    make_champion(versions.registry, versions.good)
    holder = ModelHolder(versions.settings, expected_features=feature_names())
    app = create_app(versions.settings, holder=holder, poll_registry=False, hot_path=request.param)
    with TestClient(app) as client:
        assert holder.reload()
        yield client


def _bad(versions: Versions, kind: str) -> tuple[int, str]:
    version = getattr(versions, kind)
    where = f"fraud-detector version {version}"
    artifact = bundle_folder(versions.registry, version).as_uri()
    return version, {
        "tampered": f"BundleIntegrityError: {where} (artifact {artifact}): bundle {artifact} "
        "has digest",
        "reordered": f"ValueError: {where} refused: model feature order differs from the "
        "online feature spec; retrain with the current spec",
        "broken": f"ValueError: {where} refused: smoke prediction is not a finite probability",
    }[kind]


@pytest.mark.parametrize("kind", ["tampered", "reordered", "broken"])
def test_a_failed_reload_keeps_the_last_good_model_serving(
    served: TestClient, versions: Versions, kind: str
) -> None:
    bad, reason = _bad(versions, kind)
    make_champion(versions.registry, bad)
    refused = served.post("/admin/reload", headers=ADMIN)
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert detail.startswith(f"reload failed, still serving version {versions.good}: {reason}")
    assert not TEMPORARY_FOLDER.search(detail), detail
    assert "version None" not in detail
    # the last good model answers, and readiness stays up but tells why the reload failed
    scored = served.post("/v1/predict", json=tx(), headers=KEY).json()
    assert scored["model"] == {
        "name": "fraud-detector",
        "version": versions.good,
        "alias": "champion",
    }
    ready = served.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "model_version": versions.good,
        "last_reload_error": detail.split(": ", 1)[1],
    }
    status = served.get("/v1/model", headers=KEY).json()["load_status"]
    assert status["consecutive_failures"] == 1
    assert "fraudops_model_reload_failures_total 1.0" in served.get("/metrics").text
    # pointing the alias back at what serves ends the failure
    make_champion(versions.registry, versions.good)
    again = served.post("/admin/reload", headers=ADMIN)
    assert again.json() == {"reloaded": False, "version": versions.good}
    assert served.get("/health/ready").json() == {"status": "ready", "model_version": versions.good}


def test_without_a_good_model_readiness_says_why(versions: Versions) -> None:
    bad, reason = _bad(versions, "tampered")
    make_champion(versions.registry, bad)
    holder = ModelHolder(versions.settings, expected_features=feature_names())
    with TestClient(create_app(versions.settings, holder=holder, poll_registry=False)) as client:
        refused = client.post("/admin/reload", headers=ADMIN)
        assert refused.status_code == 409
        assert refused.json()["detail"].startswith(f"reload failed, no model is serving: {reason}")
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        (problem,) = ready.json()["problems"]
        assert problem.startswith(f"no model loaded: {reason}")
        assert client.post("/v1/predict", json=tx(), headers=KEY).status_code == 503


def test_swapping_models_under_load_drops_no_request(
    served: TestClient, versions: Versions
) -> None:
    """Requests run while the champion flips between two distinct models through real
    reloads; every answer comes whole from one of them, and requests did overlap swaps."""
    thresholds = {versions.good: {"review": 0.05, "decline": 0.5}, versions.other: DECLINE_ALL}
    swaps = 0
    answers: list[tuple[int, int, int, dict[str, Any]]] = []  # swaps before/after, status, body
    stop = threading.Event()

    def fire(worker: int) -> None:
        i = 0
        while not stop.is_set():
            before = swaps
            r = served.post("/v1/predict", json=tx(transaction_id=f"w{worker}-{i}"), headers=KEY)
            answers.append((before, swaps, r.status_code, r.json()))
            i += 1

    threads = [threading.Thread(target=fire, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    holder = served.app.state.fraudops.holder  # type: ignore[attr-defined]
    for version in [versions.other, versions.good] * 3:
        make_champion(versions.registry, version)
        assert holder.reload()  # downloads, verifies and smoke-tests while requests run
        swaps += 1
    stop.set()
    for t in threads:
        t.join()
    assert [a for a in answers if a[2] != 200] == []
    seen = {body["model"]["version"] for *_, body in answers}
    assert seen == {versions.good, versions.other}
    for *_, body in answers:
        limits = thresholds[body["model"]["version"]]
        p = body["fraud_probability"]
        expected = (
            "decline"
            if p >= limits["decline"]
            else "review"
            if p >= limits["review"]
            else "approve"
        )
        assert body["decision"] == expected
    overlapping = sum(1 for before, after, *_ in answers if after != before)
    assert overlapping >= 3, f"only {overlapping} of {len(answers)} requests overlapped a swap"


def test_a_moved_embedded_home_serves_its_own_files(tmp_path: Path, trained_model: Any) -> None:
    old = Settings(home=tmp_path / "old" / "home", reload_interval_seconds=0)
    registry = open_registry(old)
    make_champion(registry, register(registry, trained_model, tmp_path))
    moved = Settings(home=tmp_path / "new" / "home", reload_interval_seconds=0)
    shutil.copytree(old.home, moved.home)
    shutil.rmtree(old.home)
    holder = ModelHolder(moved, expected_features=feature_names())
    with TestClient(create_app(moved, holder=holder, poll_registry=False)) as client:
        assert holder.reload(), holder.status.last_error
        scored = client.post("/v1/predict", json=tx(), headers=KEY)
        assert scored.status_code == 200
        assert scored.json()["model"]["version"] == 1


def test_a_copied_home_without_its_artifacts_refuses_the_old_files(
    tmp_path: Path, trained_model: Any
) -> None:
    old = Settings(home=tmp_path / "old" / "home", reload_interval_seconds=0)
    registry = open_registry(old)
    make_champion(registry, register(registry, trained_model, tmp_path))
    copied = Settings(home=tmp_path / "new" / "home", reload_interval_seconds=0)
    shutil.copytree(old.home, copied.home)
    shutil.rmtree(copied.home / "mlflow" / "artifacts")  # the old home still has them
    holder = ModelHolder(copied, expected_features=feature_names())
    assert not holder.reload()
    assert holder.current is None
    error = holder.status.last_error or ""
    assert error.startswith("RegistryError: fraud-detector version 1: artifact recorded at ")
    assert f"{old.home.resolve()}/mlflow/artifacts/" in error
    assert "belongs to another FRAUDOPS_HOME" in error
    assert f"{copied.home.resolve()}/mlflow/artifacts/" in error
