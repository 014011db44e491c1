"""MLflow "model from code" for the fraud model bundle (loaded by MLflow, never imported
by fraudops itself): lets generic tools such as ``mlflow models serve`` score our models
on precomputed features, without pickling any Python object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel  # type: ignore[attr-defined]

from fraudops.models.bundle import bundle_digest, load_bundle


class FraudBundleModel(PythonModel):
    def load_context(self, context: Any) -> None:
        folder = Path(context.artifacts["bundle"])
        self.model = load_bundle(folder, bundle_digest(folder))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        x = model_input[self.model.feature_names].to_numpy(dtype=np.float64)
        return pd.DataFrame({"fraud_probability": self.model.predict_proba(x)})


mlflow.models.set_model(FraudBundleModel())
