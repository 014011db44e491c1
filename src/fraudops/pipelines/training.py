"""Training pipeline: features -> time split -> candidates (+ Optuna) -> MLflow -> registry
-> promotion gate. Called by ``fraudops train``, the closed loop and the training DAG."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import polars as pl

from fraudops.config import Settings
from fraudops.models.labels import with_label_feed
from fraudops.models.registry import CHAMPION, GateDecision, Registry, compare_on_window
from fraudops.models.tracking import configure_mlflow
from fraudops.models.train import feature_matrix, rows_between
from fraudops.pipelines.candidates import (
    CandidateResult,
    Event,
    FeatureData,
    TrainingOptions,
    pick_best,
    train_candidates,
    window_arrays,
)
from fraudops.pipelines.shadow import ShadowGate
from fraudops.pipelines.tracking import clean_metrics, log_candidate

__all__ = [
    "CandidateResult",
    "FeatureData",
    "TrainingOptions",
    "gate",
    "load_features",
    "pick_best",
    "promote_version",
    "run_training",
    "train_candidates",
]

logger = logging.getLogger(__name__)

REFERENCE_ROWS = 10_000


def load_features(data_uri: str, storage_options: dict[str, Any] | None = None) -> FeatureData:
    """Features for training from either a feature table or raw/validated transactions."""
    from fraudops.data import store
    from fraudops.data.store import resolve_transactions_uri
    from fraudops.features.offline import build_offline_features
    from fraudops.features.spec import feature_names, max_retention, spec_hash

    if store.exists(store.join_uri(data_uri, "feature_list.json"), storage_options):
        frame = store.read_dataset(data_uri, storage_options=storage_options)
        manifest = store.read_manifest(data_uri, storage_options)
    else:
        uri = resolve_transactions_uri(data_uri, storage_options)
        transactions = store.read_dataset(uri, storage_options=storage_options)
        if transactions.height == 0:
            raise FileNotFoundError(f"no transactions found under {data_uri}")
        frame = build_offline_features(transactions)
        manifest = store.read_manifest(uri, storage_options)
    if frame.height == 0:
        raise FileNotFoundError(f"no feature rows found under {data_uri}")
    return FeatureData(
        frame=frame.sort("timestamp", "transaction_id"),
        names=feature_names(),
        dataset_hash=str(manifest.get("dataset_hash") or "unknown"),
        spec_hash=spec_hash(),
        source_uri=data_uri,
        burn_in_days=max_retention().days,
    )


def read_label_feed(settings: Settings) -> pl.DataFrame | None:
    """The label feed the API and the loop write (chargebacks and analyst verdicts)."""
    from fraudops.data import store

    feed = store.read_chunks(
        settings.dataset_uri("label_feed"), None, None, settings.storage_options()
    )
    return feed if feed.height and "reported_at" in feed.columns else None


def gate(
    registry: Registry,
    challenger: int,
    window: pl.DataFrame,
    names: list[str],
    k: int,
    ap_margin: float,
    challenger_model: Any | None = None,
    label_cutoff: datetime | None = None,
    shadow: ShadowGate | None = None,
) -> GateDecision:
    """Promote ``challenger`` to champion only if it beats the champion on ``window`` (and,
    with ``shadow``, only after a long enough shadow period it did not lose)."""
    champion_version = registry.version_by_alias(CHAMPION)
    champion = registry.load(champion_version) if champion_version is not None else None
    model = challenger_model or registry.load(challenger)
    arrays = window_arrays(window, label_cutoff)
    promoted, reason, new, old = compare_on_window(
        model,
        champion,
        feature_matrix(window, names),
        arrays["y"],
        arrays["day"],
        arrays["card"],
        k,
        ap_margin,
    )
    if promoted and champion is not None and shadow is not None:
        check = shadow.check(challenger, ap_margin, k)
        new, old = new | check.challenger_metrics, old | check.champion_metrics
        promoted, reason = check.failure is None, check.failure or f"{reason}; {check.summary}"
    decision = GateDecision(promoted, challenger, champion_version, reason, new, old)
    registry.client.set_model_version_tag(
        registry.model_name,
        str(challenger),
        "gate_decision",
        json.dumps({"promoted": promoted, "reason": reason}),
    )
    if promoted:
        registry.set_champion(challenger, reason)
    return decision


def run_training(
    settings: Settings,
    data_uri: str,
    options: TrainingOptions,
    emit: Event | None = None,
) -> dict[str, Any]:
    """Train, log every candidate, register the best as challenger, run the gate."""
    import mlflow

    emit = emit or (lambda _kind, _payload: None)
    data = load_features(data_uri, settings.storage_options())
    data.frame = with_label_feed(data.frame, read_label_feed(settings))
    emit("features", {"rows": data.frame.height, "features": len(data.names)})
    split, results, rows = train_candidates(data, options, emit)
    best, selection = pick_best(results, options.seed)
    emit("selected", selection.as_dict())
    test = rows_between(data.frame, split.test_start, split.test_end)
    configure_mlflow(settings)
    summary: dict[str, Any] = {
        "models": {r.algorithm: clean_metrics(r.test_metrics) for r in results},
        "best": best.algorithm,
        "selection": selection.as_dict(),
        "split": split.as_dict(),
        "dataset_hash": data.dataset_hash,
        "feature_spec_hash": data.spec_hash,
        "registered_version": None,
        "promotion": None,
    }
    with mlflow.start_run(run_name=f"train-{options.reason}") as parent:
        mlflow.set_tags({"trigger": options.reason, "dataset_hash": data.dataset_hash})
        run_ids = {}
        # out-of-sample traffic: on its own training rows a model scores lower than on
        # anything new, and that difference would read as score drift on day one
        reference = test.sample(min(REFERENCE_ROWS, test.height), seed=options.seed)
        for result in results:
            run_id, digest, model_uri = log_candidate(
                result,
                data,
                split,
                options,
                rows,
                test,
                options.log_pyfunc and result is best,
                reference,
            )
            run_ids[result.algorithm] = (run_id, digest, model_uri)
        mlflow.log_dict(summary["models"], "comparison.json")
        mlflow.log_dict(selection.as_dict(), "selection.json")
        mlflow.set_tag("best_algorithm", best.algorithm)
        if options.register:
            registry = Registry.from_settings(settings)
            run_id, digest, model_uri = run_ids[best.algorithm]
            version = registry.register(
                run_id,
                digest,
                {
                    "algorithm": best.algorithm,
                    "dataset_hash": data.dataset_hash,
                    "feature_spec_hash": data.spec_hash,
                    "test_start": split.test_start.isoformat(),
                    "test_end": split.test_end.isoformat(),
                    "data_uri": data.source_uri,
                    "trigger": options.reason,
                },
                source=model_uri,
            )
            summary["registered_version"] = version
            emit("registered", {"version": version, "algorithm": best.algorithm})
            if options.promote:
                decision = gate(
                    registry,
                    version,
                    test,
                    data.names,
                    options.k,
                    settings.promotion_ap_margin,
                    best.model,
                    label_cutoff=options.label_cutoff,
                    shadow=ShadowGate.from_settings(settings, options.label_cutoff or _now()),
                )
                summary["promotion"] = decision.as_dict()
                mlflow.log_dict(decision.as_dict(), "promotion_gate.json")
                mlflow.set_tag("promoted", str(decision.promoted))
                emit("gate", decision.as_dict())
        summary["run_id"] = parent.info.run_id
    return summary


def promote_version(
    settings: Settings,
    version: int | None = None,
    k: int = 100,
    label_cutoff: datetime | None = None,
) -> GateDecision:
    """``fraudops promote``: gate a version (default: the challenger) on its test window."""
    from datetime import datetime as dt

    from fraudops.models.registry import CHALLENGER, RegistryError

    configure_mlflow(settings)
    registry = Registry.from_settings(settings)
    version = version or registry.version_by_alias(CHALLENGER)
    if version is None:
        raise RegistryError("no --version given and no challenger alias to promote")
    if version not in registry.versions():
        raise RegistryError(f"{settings.model_name} has no version {version}")
    tags = registry.version_tags(version)
    data = load_features(tags["data_uri"], settings.storage_options())
    window = rows_between(
        data.frame, dt.fromisoformat(tags["test_start"]), dt.fromisoformat(tags["test_end"])
    )
    return gate(
        registry,
        version,
        window,
        data.names,
        k,
        settings.promotion_ap_margin,
        label_cutoff=label_cutoff,
        shadow=ShadowGate.from_settings(settings, label_cutoff or _now()),
    )


def _now() -> datetime:
    """The gate's as-of time when no label cutoff is given: now, at the edge."""
    return datetime.now(UTC)
