"""Settings: embedded defaults, environment overrides, production refuses default keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fraudops.config import Settings


def test_embedded_defaults_live_under_home(isolated_home: Path) -> None:
    s = Settings()
    assert s.resolved_data_uri == str(isolated_home / "data")
    assert s.resolved_tracking_uri.startswith("sqlite:///")
    assert str(isolated_home.resolve()) in s.resolved_tracking_uri
    assert s.online_store_uri == "memory://"
    assert not isolated_home.exists()  # reading settings creates nothing


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDOPS_DATA_URI", "s3://bucket/prefix")
    monkeypatch.setenv("FRAUDOPS_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("FRAUDOPS_DRIFT_SHARE_THRESHOLD", "0.35")
    s = Settings()
    assert s.resolved_data_uri == "s3://bucket/prefix"
    assert s.storage_options() == {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}
    assert s.drift_share_threshold == 0.35


@pytest.mark.parametrize("key", ["", "dev-api-key", "short"])
def test_production_refuses_default_or_weak_keys(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("FRAUDOPS_ENV", "production")
    monkeypatch.setenv("FRAUDOPS_API_KEY", key)
    monkeypatch.setenv("FRAUDOPS_ADMIN_API_KEY", "a" * 32)
    with pytest.raises(ValidationError, match="FRAUDOPS_API_KEY"):
        Settings()


def test_production_accepts_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDOPS_ENV", "production")
    monkeypatch.setenv("FRAUDOPS_API_KEY", "k" * 24)
    monkeypatch.setenv("FRAUDOPS_ADMIN_API_KEY", "a" * 32)
    assert Settings().api_key.get_secret_value() == "k" * 24


def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDOPS_MAX_BAD_FRACTION", "1.5")
    with pytest.raises(ValidationError, match="max_bad_fraction"):
        Settings()
