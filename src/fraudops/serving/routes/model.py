"""``GET /v1/model``: what is serving, its thresholds, features and load status."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from fraudops.features.spec import describe_features, spec_hash
from fraudops.serving.deps import ApiKey

router = APIRouter(prefix="/v1", tags=["model"], dependencies=[ApiKey])


@router.get("/model", summary="Serving model metadata, thresholds, features and load status")
async def model_info(request: Request) -> dict[str, Any]:
    state = request.app.state.fraudops
    loaded = state.holder.current
    body: dict[str, Any] = {
        "name": state.settings.model_name,
        "alias": state.holder.alias,
        "loaded": loaded is not None,
        "load_status": asdict(state.holder.status),
        "feature_spec_hash": spec_hash(),
        "features": describe_features(),
    }
    if loaded is not None:
        meta = loaded.model.metadata
        body.update(
            {
                "version": loaded.version,
                "algorithm": loaded.model.algorithm,
                "loaded_at": loaded.loaded_at,
                "thresholds": loaded.thresholds,
                "dataset_hash": meta.get("dataset_hash"),
                "trained_spec_hash": meta.get("spec_hash"),
                "split": meta.get("split"),
                "test_metrics": meta.get("test_metrics"),
                "calibration": loaded.model.calibrator.method,
            }
        )
    return body
