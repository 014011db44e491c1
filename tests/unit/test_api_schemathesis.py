"""Property-based API testing from the OpenAPI spec: whatever schemathesis sends, the API
never answers 5xx and every response matches its documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
)

from fraudops.config import Settings
from fraudops.serving.app import create_app, start_state, stop_state
from fraudops.serving.model_loader import ModelHolder


@pytest.fixture
def api_schema(isolated_home: Any, trained_model: Any) -> Iterator[Any]:
    app_settings = Settings(home=isolated_home, reload_interval_seconds=0)
    holder = ModelHolder(app_settings)
    app = create_app(app_settings, holder=holder, poll_registry=False)
    state = app.state.fraudops
    start_state(state, poll_registry=False)
    holder.install(trained_model, version=1)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    stop_state(state)


def test_no_server_errors_and_documented_responses(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/predict", "/v1/predict/batch", "/v1/labels"}
    for operation in operations:
        # /admin/reload takes no body and talks to the registry; tests/unit/test_api.py and
        # the integration tier cover it
        if not operation.path.startswith("/admin"):
            _fuzz(operation)


def _fuzz(operation: Any) -> None:
    key = "dev-api-key"

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(
            headers={"X-API-Key": key},
            checks=[not_a_server_error, response_schema_conformance, negative_data_rejection],
        )

    check()
