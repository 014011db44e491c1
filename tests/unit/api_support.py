"""Constants and helpers shared by the API tests (fixtures live in ``conftest.py``)."""

from __future__ import annotations

from typing import Any

from fraudops.serving.schemas import EXAMPLE_TRANSACTION

KEY = {"X-API-Key": "dev-api-key"}
ADMIN = {"X-API-Key": "dev-admin-key"}


def tx(**overrides: Any) -> dict[str, Any]:
    return {**EXAMPLE_TRANSACTION, **overrides}


def label(**overrides: Any) -> dict[str, Any]:
    body = {"transaction_id": "tx-1", "label": "chargeback", "reported_at": "2026-03-12T09:00:00Z"}
    return {**body, **overrides}
