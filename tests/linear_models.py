"""A registered-model stand-in that needs no training, shared by the tiers that serve one
(``tests/unit`` and ``tests/integration``): import it as ``linear_models``."""

from __future__ import annotations

from typing import Any

# Two features carry the score, so predictions show them in their reasons (with values).
LINEAR_FEATURES = {"card_tx_count_24h": 0.6, "terminal_fraud_rate_1d": 3.0}


def linear_fraud_model() -> Any:
    """A logistic model over the served feature spec, weighted on two features whose
    contributions are always positive (mean -1), so they always lead the reasons."""
    import numpy as np

    from fraudops.features.spec import feature_names
    from fraudops.models.bundle import FraudModel, LinearModel

    names = feature_names()
    coef = np.array([LINEAR_FEATURES.get(name, 0.0) for name in names])
    mean = np.array([-1.0 if name in LINEAR_FEATURES else 0.0 for name in names])
    estimator = LinearModel(
        fill=np.zeros(len(names)), mean=mean, scale=np.ones(len(names)), coef=coef, intercept=-5.0
    )
    return FraudModel(
        "lr", estimator, names, metadata={"thresholds": {"review": 0.3, "decline": 0.8}}
    )
