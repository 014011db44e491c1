"""Settings: embedded defaults, environment overrides, production refuses default keys."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from fraudops.config import Settings, key_weakness


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


API_KEY = "k7-Qx2mZp9-Lw4vRt8Ns"
ADMIN_KEY = "a3_Hd8Jf2Kq6Wn1Yb5Ce"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty or only whitespace"),
        (" " * 16, "empty or only whitespace"),
        ("dev-api-key", "development default"),
        ("short-Key-1", "has 11 characters"),
        ("a" * 16, "only 1 different characters"),
        ("abababab12121212", "only 4 different characters"),
        ("abcdefghijklmnopqrst", "only one class of characters"),
        (f" {API_KEY} ", "starts or ends with whitespace"),
    ],
)
def test_production_refuses_default_or_weak_keys(
    monkeypatch: pytest.MonkeyPatch, key: str, reason: str
) -> None:
    monkeypatch.setenv("FRAUDOPS_ENV", "production")
    monkeypatch.setenv("FRAUDOPS_API_KEY", key)
    monkeypatch.setenv("FRAUDOPS_ADMIN_API_KEY", ADMIN_KEY)
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert "FRAUDOPS_API_KEY is refused in production" in message
    assert reason in message
    assert "secrets.token_urlsafe" in message  # the rule and how to meet it
    assert key.strip() == "" or key.strip() not in message  # the secret is not echoed


def test_production_refuses_a_weak_admin_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDOPS_ENV", "production")
    monkeypatch.setenv("FRAUDOPS_API_KEY", API_KEY)
    monkeypatch.setenv("FRAUDOPS_ADMIN_API_KEY", "dev-admin-key")
    with pytest.raises(ValidationError, match="FRAUDOPS_ADMIN_API_KEY is refused"):
        Settings()


def test_production_refuses_one_key_for_scoring_and_admin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRAUDOPS_ENV", "production")
    monkeypatch.setenv("FRAUDOPS_API_KEY", API_KEY)
    monkeypatch.setenv("FRAUDOPS_ADMIN_API_KEY", API_KEY)
    with pytest.raises(ValidationError, match="FRAUDOPS_API_KEY and FRAUDOPS_ADMIN_API_KEY"):
        Settings()


@pytest.mark.parametrize("generated", [secrets.token_urlsafe(32), secrets.token_hex(32)])
def test_production_accepts_real_keys(monkeypatch: pytest.MonkeyPatch, generated: str) -> None:
    monkeypatch.setenv("FRAUDOPS_ENV", "production")
    monkeypatch.setenv("FRAUDOPS_API_KEY", generated)
    monkeypatch.setenv("FRAUDOPS_ADMIN_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("FRAUDOPS_CONSOLE_SECRET", secrets.token_urlsafe(32))
    assert Settings().api_key.get_secret_value() == generated


def test_the_keys_the_repository_sets_for_production_meet_the_rule() -> None:
    """Fixed keys in benchmarks and the integration tier run with FRAUDOPS_ENV=production."""
    fixed = {
        "bench-api-key-0123456789",  # benchmarks/bench_serving.py
        "integration-api-key-0123456789",  # tests/integration/conftest.py
        "integration-admin-key-0123456789",
        "integration-console-secret-0123456789",
    }
    assert {key: key_weakness(key, "") for key in fixed} == dict.fromkeys(fixed)


def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDOPS_MAX_BAD_FRACTION", "1.5")
    with pytest.raises(ValidationError, match="max_bad_fraction"):
        Settings()
