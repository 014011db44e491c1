"""A trained model as a self-describing, checksummed bundle of native files.

A bundle is a folder::

    bundle.json        algorithm, feature order, spec hash, thresholds, calibration, metrics
    model.txt          LightGBM booster (native text)       | lgbm
    model.json         XGBoost booster (native JSON)        | xgb
    linear.json        imputer, scaler and coefficients     | lr (plain numbers, no pickle)
    model.joblib       scikit-learn forest                  | rf (pickle: loaded only after
                                                            |     its checksum is verified)

``bundle_digest`` hashes every file; the registry stores that digest as a tag when the
model is registered, and ``load_bundle`` refuses a folder whose digest differs — pickle
and MLflow deserialisation have a history of remote-code CVEs (CVE-2024-37052..37060).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fraudops.models.decision import DecisionThresholds

BUNDLE_FILE = "bundle.json"
NATIVE_FILES = {"lgbm": "model.txt", "xgb": "model.json", "lr": "linear.json", "rf": "model.joblib"}


class BundleIntegrityError(Exception):
    """A bundle's files do not match the digest recorded at registration."""


@dataclass
class Calibrator:
    """Maps raw model scores to calibrated fraud probabilities (isotonic or Platt)."""

    method: str = "none"  # "isotonic" | "platt" | "none"
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0

    def __post_init__(self) -> None:
        self._x = np.asarray(self.x, dtype=np.float64)
        self._y = np.asarray(self.y, dtype=np.float64)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "isotonic" and self._x.size:
            return np.interp(raw, self._x, self._y)
        if self.method == "platt":
            logit = np.log(np.clip(raw, 1e-9, 1 - 1e-9) / np.clip(1 - raw, 1e-9, 1))
            return 1.0 / (1.0 + np.exp(-(self.a * logit + self.b)))
        return raw

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": self.x, "y": self.y, "a": self.a, "b": self.b}


@dataclass
class LinearModel:
    """Standardised logistic regression as plain arrays (fast, no pickle)."""

    fill: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def z(self, x: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(x), self.fill, x)
        return (filled - self.mean) / self.scale

    def predict(self, x: np.ndarray) -> np.ndarray:
        result: np.ndarray = 1.0 / (1.0 + np.exp(-(self.z(x) @ self.coef + self.intercept)))
        return result

    def contributions(self, x: np.ndarray) -> np.ndarray:
        result: np.ndarray = self.z(x) * self.coef
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "fill": self.fill.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearModel:
        return cls(
            fill=np.asarray(data["fill"]),
            mean=np.asarray(data["mean"]),
            scale=np.asarray(data["scale"]),
            coef=np.asarray(data["coef"]),
            intercept=float(data["intercept"]),
        )


@dataclass
class FraudModel:
    """A fitted model behind one small interface: probabilities and per-feature reasons."""

    algorithm: str
    estimator: Any
    feature_names: list[str]
    calibrator: Calibrator = field(default_factory=Calibrator)
    metadata: dict[str, Any] = field(default_factory=dict)
    # RF has no fast exact attributions: reasons use importance x standardised deviation
    reference_mean: np.ndarray | None = None
    reference_scale: np.ndarray | None = None
    # a scored sample of training traffic, the baseline of drift monitoring
    reference: Any = None
    _paths: Any = field(default=None, repr=False)  # per-leaf tables for fast reasons
    # threads for tree models: 1 in the API (one core per worker, no OpenMP hand-offs for
    # a single row); bulk scoring sets 0, i.e. every core
    threads: int = 1
    # bulk scoring may swap LightGBM's predict for the same trees compiled to native code
    # (``models.compiled``): same probabilities, several times faster
    compiled_predict: Any = field(default=None, repr=False)

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.algorithm == "lgbm" and self.compiled_predict is not None:
            out = self.compiled_predict(x)
        elif self.algorithm == "lgbm":
            out = self.estimator.predict(x, num_threads=self.threads)
        elif self.algorithm == "xgb":
            out = self.estimator.inplace_predict(x)
        elif self.algorithm == "lr":
            out = self.estimator.predict(x)
        else:
            out = self.estimator.predict_proba(np.where(np.isnan(x), -1.0, x))[:, 1]
        return np.asarray(out, dtype=np.float64)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated fraud probability per row of ``x`` (features in ``feature_names`` order)."""
        return np.clip(self.calibrator(self.raw_scores(x)), 0.0, 1.0)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature contribution to each row's score (log-odds scale where exact)."""
        x = np.asarray(x, dtype=np.float64)
        if self.algorithm == "lgbm":
            contrib = self.estimator.predict(x, pred_contrib=True, num_threads=self.threads)
            return np.asarray(contrib)[:, :-1]
        if self.algorithm == "xgb":
            import xgboost as xgb

            contrib = self.estimator.predict(xgb.DMatrix(x), pred_contribs=True)
            return np.asarray(contrib)[:, :-1]
        if self.algorithm == "lr":
            return np.asarray(self.estimator.contributions(x))
        importance = np.asarray(self.estimator.feature_importances_)
        assert self.reference_mean is not None
        assert self.reference_scale is not None
        filled = np.where(np.isnan(x), self.reference_mean, x)
        return np.asarray(importance * (filled - self.reference_mean) / self.reference_scale)

    def score_and_explain(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and contributions in one pass: for LightGBM (path
        attribution over per-leaf tables) and the linear model the contributions sum
        to the raw log-odds, so no second model call is needed."""
        x = np.asarray(x, dtype=np.float64)
        if self.algorithm == "lgbm":
            if self._paths is None:
                from fraudops.models.attribution import TreePaths

                self._paths = TreePaths(self.estimator)
            raw, contributions = self._paths.explain(x, self.threads)
            probability = 1.0 / (1.0 + np.exp(-raw))
            return np.clip(self.calibrator(probability), 0.0, 1.0), contributions
        if self.algorithm == "lr":
            contributions = self.estimator.contributions(x)
            logit = contributions.sum(axis=1) + self.estimator.intercept
            raw = 1.0 / (1.0 + np.exp(-logit))
            return np.clip(self.calibrator(raw), 0.0, 1.0), contributions
        return self.predict_proba(x), self.contributions(x)

    @property
    def decision_thresholds(self) -> DecisionThresholds:
        """The thresholds chosen at training (an error when the model has none)."""
        return DecisionThresholds.from_mapping(
            self.metadata.get("thresholds"), f"the {self.algorithm} model"
        )

    @property
    def thresholds(self) -> dict[str, float]:
        return self.decision_thresholds.as_dict()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bundle_digest(folder: Path) -> str:
    """One SHA-256 over every file of the bundle (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder).as_posix()}:{_sha256(path)}\n".encode())
    return digest.hexdigest()


def save_bundle(model: FraudModel, folder: Path) -> str:
    """Write ``model`` as native files plus ``bundle.json``; returns the bundle digest."""
    folder.mkdir(parents=True, exist_ok=True)
    native = folder / NATIVE_FILES[model.algorithm]
    if model.algorithm in {"lgbm", "xgb"}:
        model.estimator.save_model(str(native))
    elif model.algorithm == "lr":
        native.write_text(json.dumps(model.estimator.to_json()))
    else:
        import joblib

        joblib.dump(model.estimator, native)
    meta = {
        "algorithm": model.algorithm,
        "feature_names": model.feature_names,
        "calibration": model.calibrator.as_dict(),
        "native_file": native.name,
        "reference_mean": None if model.reference_mean is None else model.reference_mean.tolist(),
        "reference_scale": None
        if model.reference_scale is None
        else model.reference_scale.tolist(),
        **model.metadata,
    }
    (folder / BUNDLE_FILE).write_text(json.dumps(meta, indent=1, default=str))
    return bundle_digest(folder)


def load_bundle(folder: Path, expected_digest: str | None) -> FraudModel:
    """Load a bundle after checking its digest (``None`` skips the check: local use only)."""
    folder = Path(folder)
    if expected_digest is not None:
        actual = bundle_digest(folder)
        if actual != expected_digest:
            raise BundleIntegrityError(
                f"bundle {folder} has digest {actual[:12]}…, expected {expected_digest[:12]}…; "
                "refusing to load a modified model"
            )
    meta = json.loads((folder / BUNDLE_FILE).read_text())
    algorithm = meta["algorithm"]
    # a model that cannot decide is refused here, not at its first request
    DecisionThresholds.from_mapping(meta.get("thresholds"), f"the {algorithm} bundle")
    native = folder / meta["native_file"]
    estimator: Any
    if algorithm == "lgbm":
        import lightgbm as lgb

        estimator = lgb.Booster(model_file=str(native))
    elif algorithm == "xgb":
        import xgboost as xgb

        estimator = xgb.Booster()
        estimator.load_model(str(native))
        estimator.set_param({"nthread": 1})
    elif algorithm == "lr":
        estimator = LinearModel.from_json(json.loads(native.read_text()))
    elif algorithm == "rf":
        import joblib

        estimator = joblib.load(native)
        estimator.n_jobs = 1
    else:
        raise BundleIntegrityError(f"unknown algorithm {algorithm!r} in {folder}")
    reference = None
    if (folder / "reference.parquet").exists():
        import polars as pl

        reference = pl.read_parquet(folder / "reference.parquet")
    known = {"algorithm", "feature_names", "calibration", "native_file"}
    known |= {"reference_mean", "reference_scale"}
    return FraudModel(
        algorithm=algorithm,
        estimator=estimator,
        feature_names=list(meta["feature_names"]),
        calibrator=Calibrator(**meta["calibration"]),
        metadata={k: v for k, v in meta.items() if k not in known},
        reference_mean=None
        if meta.get("reference_mean") is None
        else np.asarray(meta["reference_mean"]),
        reference_scale=None
        if meta.get("reference_scale") is None
        else np.asarray(meta["reference_scale"]),
        reference=reference,
    )
