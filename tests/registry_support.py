"""Registering bundles in a real embedded MLflow registry, without training (the registry,
reload and CLI tests)."""

from __future__ import annotations

from pathlib import Path

import mlflow

from fraudops.config import Settings
from fraudops.models.bundle import FraudModel, save_bundle
from fraudops.models.registry import CHAMPION, Registry
from fraudops.models.tracking import configure_mlflow


def open_registry(settings: Settings) -> Registry:
    configure_mlflow(settings)
    return Registry.from_settings(settings)


def register(
    registry: Registry, model: FraudModel, scratch: Path, tags: dict[str, str] | None = None
) -> int:
    """``model`` logged as a run's bundle artifact and registered as training registers it
    (in the active experiment: call :func:`open_registry` or ``configure_mlflow`` first)."""
    with mlflow.start_run() as run:
        digest = save_bundle(model, scratch / run.info.run_id)
        mlflow.log_artifacts(str(scratch / run.info.run_id), "bundle")
    return registry.register(run.info.run_id, digest, tags or {"algorithm": model.algorithm})


def make_champion(registry: Registry, version: int) -> None:
    registry.client.set_registered_model_alias(registry.model_name, CHAMPION, str(version))


def bundle_folder(registry: Registry, version: int) -> Path:
    uri, _ = registry.bundle_uri(version)
    return Path(uri.removeprefix("file://"))
