"""API fixtures: settings in an isolated home and a client for each way the API answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fraudops.config import Settings
from fraudops.serving.app import create_app
from fraudops.serving.model_loader import ModelHolder


@pytest.fixture
def settings(isolated_home: Any) -> Settings:
    return Settings(home=isolated_home, reload_interval_seconds=0, max_batch_size=50)


# every API test runs twice: through the plain-ASGI hot path the server uses, and through
# the FastAPI routes that document the same endpoints; both must answer alike
@pytest.fixture(params=[True, False], ids=["hot-path", "fastapi-routes"])
def client(
    settings: Settings, trained_model: Any, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    holder = ModelHolder(settings)
    app = create_app(settings, holder=holder, poll_registry=False, hot_path=request.param)
    with TestClient(app) as c:
        holder.install(trained_model, version=7)
        yield c
