"""Training pipeline: features -> time split -> candidates (+ Optuna) -> MLflow -> registry
-> promotion gate. Called by ``fraudops train``, the closed loop and the training DAG."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fraudops.config import Settings
from fraudops.models.evaluate import (
    CostModel,
    average_precision,
    evaluate_scores,
    optimal_thresholds,
)
from fraudops.models.registry import (
    BUNDLE_ARTIFACT,
    CHAMPION,
    GateDecision,
    Registry,
    compare_on_window,
)
from fraudops.models.selection import SelectionResult, select_model
from fraudops.models.tracking import configure_mlflow
from fraudops.models.train import (
    ALGORITHMS,
    TimeSplit,
    cross_validate,
    feature_matrix,
    plan_split,
    rows_between,
    train_calibrated,
)

logger = logging.getLogger(__name__)

Event = Callable[[str, dict[str, Any]], None]
REFERENCE_FILE = "reference.parquet"
REFERENCE_ROWS = 10_000


@dataclass
class TrainingOptions:
    models: tuple[str, ...] = ALGORITHMS
    trials: int = 0
    timeout_seconds: float | None = None
    tune_model: str | None = None  # default: the best by cross-validation
    train_start: datetime | None = None
    train_end: datetime | None = None
    delay_days: int = 7
    test_end: datetime | None = None
    test_days: int = 7
    k: int = 100
    calibration: str = "isotonic"
    resampling: str = "none"
    cost: CostModel = field(default_factory=CostModel)
    seed: int = 0
    n_folds: int = 3
    register: bool = True
    promote: bool = True  # run the gate after registering
    reason: str = "manual"
    # The moment the model is built and deployed ("as of"). A time (the closed loop and
    # the DAGs train as of now): training, the test window and the promotion gate all use
    # the labels reported by then. None (a backtest on settled history): training learns
    # the labels reported by the test start (train_end + delay, when the model would be
    # deployed); the test window and the gate are judged with final labels.
    label_cutoff: datetime | None = None
    # days a label needs before the held-out calibration/selection days may use it
    label_maturity_days: int = 7
    # the held-out days reach back until they hold this many known frauds
    min_selection_frauds: int = 50
    # the MLflow pyfunc flavour (for generic tools such as `mlflow models serve`); the
    # registry and the API load the checksummed bundle either way
    log_pyfunc: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.models) - set(ALGORITHMS)
        if unknown or not self.models:
            raise ValueError(f"unknown model(s) {sorted(unknown)}; choose from {ALGORITHMS}")
        if self.tune_model and self.tune_model not in self.models:
            raise ValueError(f"--tune-model {self.tune_model} is not among --models")


@dataclass
class FeatureData:
    frame: pl.DataFrame
    names: list[str]
    dataset_hash: str
    spec_hash: str
    source_uri: str
    burn_in_days: int = 0


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


@dataclass
class CandidateResult:
    algorithm: str
    model: Any
    params: dict[str, Any]
    cv_scores: list[float]
    test_metrics: dict[str, float]
    thresholds: dict[str, float]
    test_scores: np.ndarray
    holdout_ap: float = float("nan")  # AP of the raw scores on the held-out days
    holdout: pl.DataFrame | None = None  # held-out rows: raw_score, score, known_label

    @property
    def cv_mean(self) -> float:
        finite = [v for v in self.cv_scores if np.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")


def _test_arrays(
    frame: pl.DataFrame, label_cutoff: datetime | None = None
) -> dict[str, np.ndarray]:
    from fraudops.models.train import labels_known_at

    if label_cutoff is None:
        y = frame["is_fraud"].fill_null(0).to_numpy().astype(np.int64)
    else:
        y = labels_known_at(frame, label_cutoff)
    return {
        "y": y,
        "amount": frame["amount"].to_numpy(),
        "day": frame["timestamp"].dt.date().cast(pl.String).to_numpy(),
        "card": frame["card_id"].to_numpy(),
    }


def train_candidates(
    data: FeatureData, options: TrainingOptions, emit: Event | None = None
) -> tuple[TimeSplit, list[CandidateResult], dict[str, int]]:
    """Cross-validate, tune, fit and test every requested algorithm (no I/O)."""
    from fraudops.models.tune import tune

    emit = emit or (lambda _kind, _payload: None)
    ts = data.frame["timestamp"]
    first, last = ts.min(), ts.max()
    assert isinstance(first, datetime)
    assert isinstance(last, datetime)
    split = plan_split(
        first,
        last,
        options.train_start,
        options.train_end,
        options.delay_days,
        options.test_end,
        options.test_days,
        burn_in_days=data.burn_in_days,
        label_cutoff=options.label_cutoff,
    )
    train = rows_between(data.frame, split.train_start, split.train_end)
    test = rows_between(data.frame, split.test_start, split.test_end)
    if train.height == 0 or test.height == 0:
        raise ValueError(f"empty training or test window for split {split.as_dict()}")
    rows = {"train": train.height, "test": test.height}
    emit("split", {**split.as_dict(), **rows})
    cv: dict[str, list[float]] = {}
    for algorithm in options.models:
        cv[algorithm] = cross_validate(
            algorithm,
            data.frame,
            data.names,
            split,
            None,
            options.resampling,
            n_folds=options.n_folds,
        )
        emit("cv", {"algorithm": algorithm, "scores": cv[algorithm]})
    tuned: dict[str, dict[str, Any]] = {}
    if options.trials > 0:
        target = options.tune_model or max(
            options.models,
            key=lambda a: np.nan_to_num(_finite_mean(cv[a]), nan=-1),
        )
        params, best, _ = tune(
            target,
            data.frame,
            data.names,
            split,
            options.trials,
            options.timeout_seconds,
            options.seed,
            options.resampling,
            on_trial=lambda n, v: emit("trial", {"algorithm": target, "trial": n, "value": v}),
        )
        if params and np.isfinite(best) and best > np.nan_to_num(_finite_mean(cv[target]), nan=-1):
            tuned[target] = params
            cv[target] = [best]
        emit("tuned", {"algorithm": target, "params": params, "cv_average_precision": best})
    test_x = feature_matrix(test, data.names)
    arrays = _test_arrays(test, options.label_cutoff)
    results = []
    for algorithm in options.models:
        params = tuned.get(algorithm, {})
        model, calibration_rows = train_calibrated(
            algorithm,
            train,
            data.names,
            split.training_label_cutoff,
            params,
            options.calibration,
            options.resampling,
            seed=options.seed,
            maturity_days=options.label_maturity_days,
            min_holdout_frauds=options.min_selection_frauds,
        )
        chosen = optimal_thresholds(
            calibration_rows["known_label"].to_numpy(),
            calibration_rows["score"].to_numpy(),
            calibration_rows["amount"].to_numpy(),
            options.cost,
        )
        thresholds = {"review": chosen.review, "decline": chosen.decline}
        score = model.predict_proba(test_x)
        metrics = evaluate_scores(
            arrays["y"],
            score,
            arrays["amount"],
            arrays["day"],
            arrays["card"],
            options.k,
            options.cost,
            chosen,
        )
        metrics["cv_average_precision"] = _finite_mean(cv[algorithm])
        model.metadata.update({"thresholds": thresholds, "params": params})
        holdout = average_precision(
            calibration_rows["known_label"].to_numpy(), calibration_rows["raw_score"].to_numpy()
        )
        metrics["holdout_average_precision"] = holdout
        results.append(
            CandidateResult(
                algorithm,
                model,
                params,
                cv[algorithm],
                metrics,
                thresholds,
                score,
                holdout,
                calibration_rows.select("raw_score", "score", "known_label"),
            )
        )
        emit("fitted", {"algorithm": algorithm, "metrics": metrics})
    return split, results, rows


def _finite_mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def pick_best(
    results: list[CandidateResult], seed: int = 0
) -> tuple[CandidateResult, SelectionResult]:
    """Model selection on the held-out recent matured days (every candidate judged on the
    same rows), cross-validation when those hold too few frauds; never the test window."""
    holdouts = [r.holdout for r in results if r.holdout is not None]
    if len(holdouts) == len(results) and len({h.height for h in holdouts}) == 1:
        y = holdouts[0]["known_label"].to_numpy()
        scores = {
            r.algorithm: r.holdout["raw_score"].to_numpy() for r in results if r.holdout is not None
        }
    else:  # candidates held out different rows: no paired comparison
        y, scores = np.zeros(0), {r.algorithm: np.zeros(0) for r in results}
    selection = select_model(
        y, scores, fallback={r.algorithm: r.cv_mean for r in results}, seed=seed
    )
    chosen = next(r for r in results if r.algorithm == selection.chosen)
    return chosen, selection


def _feature_importance(result: CandidateResult, n: int) -> np.ndarray:
    model = result.model
    if result.algorithm == "lgbm":
        return np.asarray(model.estimator.feature_importance(importance_type="gain"), dtype=float)
    if result.algorithm == "xgb":
        scores = model.estimator.get_score(importance_type="gain")
        return np.array([scores.get(f"f{i}", 0.0) for i in range(n)])
    if result.algorithm == "lr":
        return np.abs(model.estimator.coef)
    return np.asarray(model.estimator.feature_importances_, dtype=float)


def _clean_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def log_candidate(
    result: CandidateResult,
    data: FeatureData,
    split: TimeSplit,
    options: TrainingOptions,
    rows: dict[str, int],
    test: pl.DataFrame,
    log_pyfunc: bool,
    reference: pl.DataFrame | None = None,
) -> tuple[str, str, str]:
    """Log one candidate as a nested MLflow run; returns (run id, bundle digest, model URI)."""
    import mlflow
    from mlflow.models import infer_signature

    from fraudops.models.bundle import save_bundle
    from fraudops.models.card import model_card
    from fraudops.models.plots import evaluation_plots

    with (
        mlflow.start_run(run_name=result.algorithm, nested=True) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp)
        result.model.metadata.update(
            {
                "dataset_hash": data.dataset_hash,
                "spec_hash": data.spec_hash,
                "split": split.as_dict(),
                "test_metrics": _clean_metrics(result.test_metrics),
                "k": options.k,
                "cost_model": options.cost.as_dict(),
            }
        )
        if reference is not None:
            # the drift monitor compares live traffic with this sample of training traffic
            (folder / "bundle").mkdir(parents=True, exist_ok=True)
            scored = reference.select("timestamp", *data.names).with_columns(
                pl.Series(
                    "fraud_probability",
                    result.model.predict_proba(feature_matrix(reference, data.names)),
                )
            )
            scored.write_parquet(folder / "bundle" / REFERENCE_FILE)
        digest = save_bundle(result.model, folder / "bundle")
        mlflow.log_params(
            {
                "algorithm": result.algorithm,
                "calibration": options.calibration,
                "resampling": options.resampling,
                "k": options.k,
                **{f"split_{k}": v for k, v in split.as_dict().items()},
                **{f"model_{k}": v for k, v in result.params.items()},
                **{f"cost_{k}": v for k, v in options.cost.as_dict().items()},
            }
        )
        mlflow.set_tags(
            {
                "dataset_hash": data.dataset_hash,
                "feature_spec_hash": data.spec_hash,
                "data_uri": data.source_uri,
                "bundle_digest": digest,
                "trigger": options.reason,
            }
        )
        mlflow.log_metrics({f"test_{k}": v for k, v in _clean_metrics(result.test_metrics).items()})
        for i, value in enumerate(result.cv_scores):
            if np.isfinite(value):
                mlflow.log_metric("cv_average_precision", value, step=i)
        arrays = _test_arrays(test, options.label_cutoff)
        evaluation_plots(
            folder / "plots",
            arrays["y"],
            result.test_scores,
            arrays["amount"],
            data.names,
            _feature_importance(result, len(data.names)),
            options.cost,
            (result.thresholds["review"], result.thresholds["decline"]),
            f"{result.algorithm} · test {split.test_start:%Y-%m-%d}..{split.test_end:%Y-%m-%d}",
        )
        card = model_card(
            result.algorithm,
            split.as_dict(),
            _clean_metrics(result.test_metrics),
            result.thresholds,
            data.dataset_hash,
            data.spec_hash,
            result.params or {"defaults": "yes"},
            rows,
            options.cost.as_dict(),
            options.k,
        )
        (folder / "model_card.md").write_text(card)
        mlflow.log_artifacts(str(folder / "plots"), "plots")
        mlflow.log_artifact(str(folder / "model_card.md"))
        mlflow.log_artifacts(str(folder / "bundle"), "bundle")
        if log_pyfunc:
            example = test.select(data.names).head(3).to_pandas()
            signature = infer_signature(
                example, result.model.predict_proba(example.to_numpy(dtype=np.float64))
            )
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(Path(__file__).parent.parent / "models" / "pyfunc_model.py"),
                artifacts={"bundle": str(folder / "bundle")},
                signature=signature,
                input_example=example,
                pip_requirements=["fraudops"],
            )
            # MLflow 3 keeps logged models apart from run artifacts: register that URI
            return run.info.run_id, digest, info.model_uri
        return run.info.run_id, digest, f"runs:/{run.info.run_id}/{BUNDLE_ARTIFACT}"


def gate(
    registry: Registry,
    challenger: int,
    window: pl.DataFrame,
    names: list[str],
    k: int,
    ap_margin: float,
    challenger_model: Any | None = None,
    label_cutoff: datetime | None = None,
) -> GateDecision:
    """Promote ``challenger`` to champion only if it beats the champion on ``window``."""
    champion_version = registry.version_by_alias(CHAMPION)
    champion = registry.load(champion_version) if champion_version is not None else None
    model = challenger_model or registry.load(challenger)
    arrays = _test_arrays(window, label_cutoff)
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
    emit("features", {"rows": data.frame.height, "features": len(data.names)})
    split, results, rows = train_candidates(data, options, emit)
    best, selection = pick_best(results, options.seed)
    emit("selected", selection.as_dict())
    test = rows_between(data.frame, split.test_start, split.test_end)
    configure_mlflow(settings)
    summary: dict[str, Any] = {
        "models": {r.algorithm: _clean_metrics(r.test_metrics) for r in results},
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
    )
