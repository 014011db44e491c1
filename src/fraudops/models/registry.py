"""MLflow model registry with aliases (``challenger``, ``champion``) and a promotion gate.

Registry state lives in MLflow only: the champion history used by rollback is a tag on
the registered model, each version carries its bundle digest and its gate decisions.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fraudops.config import Settings
from fraudops.models.bundle import BundleIntegrityError, FraudModel, load_bundle

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"
DIGEST_TAG = "bundle_digest"
BUNDLE_ARTIFACT = "bundle"
EMBEDDED_ARTIFACTS = "artifacts"  # beside the embedded mlflow.db (config.resolved_artifact_uri)


class RegistryError(Exception):
    """The registry cannot do what was asked (no such version, nothing to roll back to…)."""


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    challenger_version: int
    champion_version: int | None
    reason: str
    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Registry:
    """A thin, typed layer over ``MlflowClient`` for one registered model."""

    def __init__(self, tracking_uri: str, registry_uri: str, model_name: str) -> None:
        import os

        from mlflow import MlflowClient

        # artifact downloads otherwise draw progress bars into logs and CLI output
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self.model_name = model_name
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)

    @classmethod
    def from_settings(cls, settings: Settings, model_name: str | None = None) -> Registry:
        """The registry the settings name (``model_name`` overrides the configured model)."""
        return cls(
            settings.resolved_tracking_uri,
            settings.resolved_registry_uri,
            model_name or settings.model_name,
        )

    # -- reading ---------------------------------------------------------------------
    def version_by_alias(self, alias: str) -> int | None:
        from mlflow.exceptions import MlflowException

        try:
            return int(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException:
            return None

    def versions(self) -> list[int]:
        found = self.client.search_model_versions(f"name='{self.model_name}'")
        return sorted(int(v.version) for v in found)

    def version_tags(self, version: int) -> dict[str, str]:
        return dict(self.client.get_model_version(self.model_name, str(version)).tags)

    def bundle_uri(self, version: int) -> tuple[str, str]:
        """Where a version's bundle is read from, and the digest recorded at registration."""
        model_version = self.client.get_model_version(self.model_name, str(version))
        digest = model_version.tags.get(DIGEST_TAG)
        if not digest:
            raise RegistryError(f"version {version} has no {DIGEST_TAG} tag; refusing to load it")
        if not model_version.run_id:
            raise RegistryError(f"version {version} was registered without a run")
        recorded = self.client.get_run(model_version.run_id).info.artifact_uri
        return self._in_this_home(f"{recorded.rstrip('/')}/{BUNDLE_ARTIFACT}"), digest

    def _in_this_home(self, uri: str) -> str:
        """An embedded store's artifact URI, read from this home even if it was moved.

        MLflow records absolute artifact locations, so a copied or moved ``FRAUDOPS_HOME``
        would still read (and silently serve) the old location's files. The embedded layout
        is fixed (``<home>/mlflow/mlflow.db`` beside ``<home>/mlflow/artifacts``), so a
        location recorded under another home's ``mlflow/artifacts`` is looked for under this
        one's; when it is not there, loading fails saying so.
        """
        local = uri.startswith("file:///") or uri.startswith("/")
        if not (self.tracking_uri.startswith("sqlite:///") and local):
            return uri  # a tracking server or remote artifacts: locations are not local paths
        recorded = Path(uri.removeprefix("file://"))
        root = Path(self.tracking_uri.removeprefix("sqlite:///")).parent / EMBEDDED_ARTIFACTS
        if recorded.is_relative_to(root):
            return uri
        parts = recorded.parts
        marker = ("mlflow", EMBEDDED_ARTIFACTS)
        starts = [i for i in range(len(parts) - 1) if parts[i : i + 2] == marker]
        if not starts:
            return uri  # artifacts configured outside the home on purpose
        relocated = root.joinpath(*parts[starts[-1] + 2 :])
        if not relocated.exists():
            raise RegistryError(
                f"artifact recorded at {recorded} belongs to another FRAUDOPS_HOME and is not "
                f"in this one at {relocated}; a moved or copied home needs its whole "
                "mlflow/ folder (database and artifacts) — refusing to read the old location"
            )
        return relocated.as_uri()

    def download_bundle(self, version: int, destination: Path) -> tuple[Path, str]:
        """Fetch a version's bundle; returns its folder and the digest recorded at registration."""
        import mlflow

        uri, digest = self.bundle_uri(version)
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(destination), tracking_uri=self.tracking_uri
        )
        return Path(path), digest

    def load(self, version: int) -> FraudModel:
        """Download, verify (SHA-256) and load a version. Errors name the registered
        version and its artifact, never the temporary folder it was downloaded to."""
        where = f"{self.model_name} version {version}"
        try:
            uri, _ = self.bundle_uri(version)
        except Exception as exc:
            raise RegistryError(f"{where}: {exc}") from exc
        with tempfile.TemporaryDirectory() as folder:
            try:
                path, digest = self.download_bundle(version, Path(folder))
                model = load_bundle(path, digest)
            except Exception as exc:
                reason = str(exc).replace(str(Path(folder) / BUNDLE_ARTIFACT), uri)
                reason = reason.replace(folder, uri)
                error = (
                    BundleIntegrityError if isinstance(exc, BundleIntegrityError) else RegistryError
                )
                raise error(f"{where} (artifact {uri}): {reason}") from exc
        model.metadata["registry_version"] = version
        return model

    # -- writing ---------------------------------------------------------------------
    def register(
        self, run_id: str, digest: str, tags: dict[str, str], source: str | None = None
    ) -> int:
        """Register the run's logged model as a new version and make it the challenger."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.model_name)
        except MlflowException:
            self.client.create_registered_model(
                self.model_name, description="Payment-card fraud detector (fraudops)."
            )
        recorded = self.client.get_run(run_id).info.artifact_uri
        try:
            self._in_this_home(recorded)
        except RegistryError:
            # the experiment was created while the home lived elsewhere and still writes there
            raise RegistryError(
                f"run {run_id} wrote its artifacts to {recorded}, outside this FRAUDOPS_HOME; "
                "its experiment was created before the home moved: set "
                "FRAUDOPS_MLFLOW_EXPERIMENT to a new name and train again"
            ) from None
        source = source or f"runs:/{run_id}/{BUNDLE_ARTIFACT}"
        # a tracking server accepts a logged-model source only with the model's id
        model_id = source.removeprefix("models:/") if source.startswith("models:/") else None
        created = self.client.create_model_version(
            self.model_name,
            source,
            run_id=run_id,
            tags={DIGEST_TAG: digest, **tags},
            model_id=model_id,
        )
        version = int(created.version)
        self.client.set_registered_model_alias(self.model_name, CHALLENGER, str(version))
        return version

    def _history(self) -> list[int]:
        tags = self.client.get_registered_model(self.model_name).tags
        return [int(v) for v in json.loads(tags.get(HISTORY_TAG, "[]"))]

    def set_champion(self, version: int, reason: str) -> None:
        if version not in self.versions():
            raise RegistryError(f"{self.model_name} has no version {version}")
        history = [v for v in self._history() if v != version] + [version]
        self.client.set_registered_model_alias(self.model_name, CHAMPION, str(version))
        self.client.set_registered_model_tag(self.model_name, HISTORY_TAG, json.dumps(history))
        self.client.set_model_version_tag(self.model_name, str(version), "promotion", reason)
        if self.version_by_alias(CHALLENGER) == version:
            self.client.delete_registered_model_alias(self.model_name, CHALLENGER)
        logger.info("champion -> version %s (%s)", version, reason)

    def rollback(self) -> tuple[int, int]:
        """Move ``champion`` back to the previous champion; returns (from, to)."""
        current = self.version_by_alias(CHAMPION)  # None also when nothing is registered
        history = self._history() if current is not None else []
        if current is None or len(history) < 2:
            raise RegistryError("there is no previous champion to roll back to")
        history = [v for v in history if v != current]
        previous = history[-1]
        self.client.set_registered_model_alias(self.model_name, CHAMPION, str(previous))
        self.client.set_registered_model_tag(self.model_name, HISTORY_TAG, json.dumps(history))
        self.client.set_model_version_tag(
            self.model_name, str(current), "rolled_back", f"replaced by version {previous}"
        )
        return current, previous


def compare_on_window(
    challenger: FraudModel,
    champion: FraudModel | None,
    x: np.ndarray,
    y: np.ndarray,
    day: np.ndarray,
    card: np.ndarray,
    k: int,
    ap_margin: float,
) -> tuple[bool, str, dict[str, float], dict[str, float]]:
    """The gate's rule: beat the champion's AP by ``ap_margin`` on the same labelled window
    and do not lose card precision@k. Pure, so it can be tested without a registry."""
    from fraudops.models.evaluate import average_precision, card_precision_at_k_per_day

    def measure(model: FraudModel) -> dict[str, float]:
        score = model.predict_proba(x)
        return {
            "average_precision": average_precision(y, score),
            "card_precision_at_k": card_precision_at_k_per_day(day, card, y, score, k),
        }

    new = measure(challenger)
    if champion is None:
        return True, "no champion yet", new, {}
    old = measure(champion)
    if not np.isfinite(new["average_precision"]):
        return False, "the gate window has no labelled fraud to compare on", new, old
    ap_gain = new["average_precision"] - old["average_precision"]
    if ap_gain < ap_margin:
        return (
            False,
            f"average precision {new['average_precision']:.4f} does not beat the champion's "
            f"{old['average_precision']:.4f} by {ap_margin:g}",
            new,
            old,
        )
    if new["card_precision_at_k"] + 1e-12 < old["card_precision_at_k"]:
        return (
            False,
            f"card precision@k {new['card_precision_at_k']:.4f} is worse than the champion's "
            f"{old['card_precision_at_k']:.4f}",
            new,
            old,
        )
    return (
        True,
        f"average precision +{ap_gain:.4f} ({old['average_precision']:.4f} -> "
        f"{new['average_precision']:.4f}), card precision@k "
        f"{old['card_precision_at_k']:.4f} -> {new['card_precision_at_k']:.4f}",
        new,
        old,
    )
