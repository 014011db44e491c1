"""Where MLflow tracks runs: the configured server, or the embedded SQLite store."""

from __future__ import annotations

from pathlib import Path

from fraudops.config import Settings


def configure_mlflow(settings: Settings) -> None:
    """Point MLflow at the configured (or embedded SQLite) tracking server."""
    import os

    import mlflow

    # artifact downloads otherwise draw progress bars into our own output
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if settings.resolved_tracking_uri.startswith("sqlite:///"):
        Path(settings.resolved_tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    mlflow.set_tracking_uri(settings.resolved_tracking_uri)
    mlflow.set_registry_uri(settings.resolved_registry_uri)
    if mlflow.get_experiment_by_name(settings.mlflow_experiment) is None:
        mlflow.create_experiment(
            settings.mlflow_experiment, artifact_location=settings.resolved_artifact_uri
        )
    mlflow.set_experiment(settings.mlflow_experiment)
