"""MLflow logging of training candidates: each one a nested run with its parameters, metrics,
plots, model card, checksummed bundle (with the drift reference sample) and pyfunc model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import polars as pl

from fraudops.models.registry import BUNDLE_ARTIFACT, DIGEST_TAG
from fraudops.models.train import TimeSplit, feature_matrix
from fraudops.pipelines.candidates import (
    CandidateResult,
    FeatureData,
    TrainingOptions,
    window_arrays,
)

REFERENCE_FILE = "reference.parquet"  # beside the bundle: the drift monitor's reference sample


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


def clean_metrics(metrics: dict[str, float]) -> dict[str, float]:
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
                "test_metrics": clean_metrics(result.test_metrics),
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
        mlflow.log_metrics({f"test_{k}": v for k, v in clean_metrics(result.test_metrics).items()})
        for i, value in enumerate(result.cv_scores):
            if np.isfinite(value):
                mlflow.log_metric("cv_average_precision", value, step=i)
        arrays = window_arrays(test, options.label_cutoff)
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
            clean_metrics(result.test_metrics),
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
                model_config={DIGEST_TAG: digest},  # what loading verifies the bundle against
                signature=signature,
                input_example=example,
                pip_requirements=["fraudops"],
            )
            # MLflow 3 keeps logged models apart from run artifacts: register that URI
            return run.info.run_id, digest, info.model_uri
        return run.info.run_id, digest, f"runs:/{run.info.run_id}/{BUNDLE_ARTIFACT}"
