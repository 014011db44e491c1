"""Fraud features: one declarative spec, an offline (batch) and an online (streaming) engine."""

from fraudops.features.definition import FeatureDef, Filter
from fraudops.features.spec import FEATURES, describe_features, feature_names, spec_hash

__all__ = [
    "FEATURES",
    "FeatureDef",
    "Filter",
    "describe_features",
    "feature_names",
    "spec_hash",
]
