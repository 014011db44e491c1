"""Unit-tier fixtures: an embedded home (SQLite MLflow, parquet data) with registered models
that need no training, for the CLI's registry commands and the served API; API settings in
an isolated home and a client for each way the API answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fraudops.config import Settings
from fraudops.serving.app import create_app
from fraudops.serving.model_loader import ModelHolder
from linear_models import linear_fraud_model
from registry_support import open_registry, register

DATA_START = date(2026, 3, 1)
DATA_DAYS = 10
TEST_DAYS = 4


@dataclass(frozen=True)
class EmbeddedRegistry:
    home: Path
    raw: str  # stored transactions the versions were "trained" on

    @property
    def settings(self) -> Settings:
        return Settings(home=self.home, _env_file=None)  # type: ignore[call-arg]

    def registry(self) -> Any:
        from fraudops.models.registry import Registry

        return Registry.from_settings(self.settings)

    def aliases(self) -> dict[str, int | None]:
        registry = self.registry()
        return {alias: registry.version_by_alias(alias) for alias in ("champion", "challenger")}


def register_linear_versions(home: Path, versions: int, champion: int | None) -> EmbeddedRegistry:
    """Stored transactions under ``home`` and ``versions`` identical linear models
    registered as training registers them (bundle artifact, digest and test-window tags);
    ``champion`` gets the alias, the last version stays challenger."""
    from fraudops.data import store
    from fraudops.data.generate import SimulationConfig, generate

    embedded = EmbeddedRegistry(home, str(home / "data" / "raw"))
    settings = embedded.settings
    config = SimulationConfig(
        customers=400, days=DATA_DAYS, start=DATA_START, seed=5, fraud_rate=0.03
    )
    store.write_dataset(embedded.raw, generate(config))
    test_end = datetime.combine(DATA_START, datetime.min.time(), UTC) + timedelta(days=DATA_DAYS)
    test_start = test_end - timedelta(days=TEST_DAYS)

    registry = open_registry(settings)
    tags = {
        "algorithm": "lr",
        "data_uri": embedded.raw,
        "test_start": test_start.isoformat(),
        "test_end": test_end.isoformat(),
    }
    for number in range(1, versions + 1):
        assert register(registry, linear_fraud_model(), home / "bundles", tags) == number
        if number == champion:
            registry.set_champion(number, "test fixture")
    return embedded


@pytest.fixture(scope="session")
def linear_model() -> Any:
    return linear_fraud_model()


@pytest.fixture(scope="session")
def linear_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., EmbeddedRegistry]:
    """Factory: ``linear_registry(versions=2, champion=1)`` builds a fresh embedded home."""

    def make(versions: int = 2, champion: int | None = 1) -> EmbeddedRegistry:
        home = tmp_path_factory.mktemp("registry") / "home"
        return register_linear_versions(home, versions, champion)

    return make


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
