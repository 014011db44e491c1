"""MLflow "model from code" for the fraud model bundle (loaded by MLflow, never imported
by fraudops itself): lets generic tools such as ``mlflow models serve`` score our models
on precomputed features, without pickling any Python object.

The bundle's digest is recorded when the model is logged (the pyfunc ``model_config``,
key ``bundle_digest``); loading verifies the logged bundle against it, so a bundle changed
after logging is refused instead of scored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel  # type: ignore[attr-defined]

from fraudops.models.bundle import BundleIntegrityError, load_bundle
from fraudops.models.registry import DIGEST_TAG


class FraudBundleModel(PythonModel):
    def load_context(self, context: Any) -> None:
        folder = Path(context.artifacts["bundle"])
        expected = (context.model_config or {}).get(DIGEST_TAG)
        if not expected:
            raise BundleIntegrityError(
                f"this pyfunc model records no {DIGEST_TAG} in its model_config (it was "
                "logged without one); refusing to load an unverifiable bundle"
            )
        self.model = load_bundle(folder, expected)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        x = model_input[self.model.feature_names].to_numpy(dtype=np.float64)
        return pd.DataFrame({"fraud_probability": self.model.predict_proba(x)})


mlflow.models.set_model(FraudBundleModel())
