"""One place for configuration: every setting is a ``FRAUDOPS_*`` environment variable.

With nothing set, fraudops is *embedded*: data, the MLflow registry (SQLite) and the
online store all live in one process under ``FRAUDOPS_HOME`` (default ``./.fraudops``).
Pointing a URI at a real service (``s3://``, ``postgresql://``, ``redis://``, an MLflow
server) moves that part onto it with no code change.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_KEY = "dev-api-key"
DEFAULT_ADMIN_API_KEY = "dev-admin-key"
DEFAULT_CONSOLE_SECRET = "dev-console-secret"  # noqa: S105 - refused in production
MODEL_NAME = "fraud-detector"
# Where a production API serves /metrics when FRAUDOPS_METRICS_PORT is not set.
PRODUCTION_METRICS_PORT = 9464

# The production key rule. It catches mistakes (a placeholder, a repeated character, a
# short word), not a determined choice of a guessable key: generate keys, never type them.
MIN_KEY_LENGTH = 16
MIN_KEY_DISTINCT_CHARACTERS = 10
MIN_KEY_CHARACTER_CLASSES = 2  # of: lower-case letters, upper-case letters, digits, others
KEY_RULE = (
    f"A production key has at least {MIN_KEY_LENGTH} characters, no surrounding whitespace, "
    f"at least {MIN_KEY_DISTINCT_CHARACTERS} different characters and at least "
    f"{MIN_KEY_CHARACTER_CLASSES} of the classes lower-case, upper-case, digit, other; "
    "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
)


def key_weakness(key: str, default: str) -> str | None:
    """Why ``key`` breaks the production key rule (``KEY_RULE``), or None when it holds."""
    if not key.strip():
        return "it is empty or only whitespace"
    if key == default:
        return "it is the development default"
    if key != key.strip():
        # HTTP strips a header value's surrounding whitespace: such a key could never match
        return "it starts or ends with whitespace"
    if len(key) < MIN_KEY_LENGTH:
        return f"it has {len(key)} characters"
    if len(set(key)) < MIN_KEY_DISTINCT_CHARACTERS:
        return f"it has only {len(set(key))} different characters"
    classes = (str.islower, str.isupper, str.isdigit)
    found = {i for c in key for i, test in enumerate(classes) if test(c)}
    found |= {3 for c in key if not any(test(c) for test in classes)}
    if len(found) < MIN_KEY_CHARACTER_CLASSES:
        return "it uses only one class of characters"
    return None


class Settings(BaseSettings):
    """Runtime settings, read from ``FRAUDOPS_*`` variables and an optional ``.env`` file."""

    model_config = SettingsConfigDict(
        env_prefix="FRAUDOPS_", env_file=".env", extra="ignore", validate_default=True
    )

    env: Literal["development", "test", "production"] = Field(
        "development",
        description="Profile; 'production' refuses default, weak or shared keys (see KEY_RULE).",
    )
    home: Path = Field(Path(".fraudops"), description="Folder of the embedded defaults.")
    data_uri: str | None = Field(
        None, description="Root of the data store: a local path or s3://bucket/prefix."
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint (MinIO, moto); empty means AWS."
    )
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; default is SQLite under the home folder."
    )
    mlflow_registry_uri: str | None = Field(
        None, description="MLflow registry URI; default is the tracking URI."
    )
    mlflow_artifact_uri: str | None = Field(
        None, description="Artifact root for new experiments (local folder or s3://)."
    )
    mlflow_experiment: str = Field("fraudops", description="MLflow experiment name.")
    model_name: str = Field(MODEL_NAME, description="Registered model name.")
    online_store_uri: str = Field(
        "memory://", description="Online feature store: memory:// or redis://host:port/db."
    )
    degraded_decision: Literal["model", "approve", "review", "decline"] = Field(
        "model",
        description="While the online store is unreachable: 'model' scores with the context "
        "features (velocity and risk features as for a first-seen card; lists and rules "
        "apply), 'approve' fails open, 'review' or 'decline' fail closed (lists still apply).",
    )
    online_store_timeout_seconds: float = Field(
        0.5,
        gt=0,
        description="The API gives up on an online store call after this long, without "
        "retrying, and answers degraded (CLI commands keep the client's defaults).",
    )
    online_index_buckets: int = Field(
        1024,
        ge=1,
        description="Redis online store: hashes of the transaction-id index's first day "
        "(about one per 64 transactions a day keeps each hash a compact listpack); later "
        "days, and days bulk-loaded, are sized from the volume the index holds.",
    )
    online_store_probe_seconds: float = Field(
        1.0, gt=0, description="How often an unreachable online store is probed."
    )
    online_store_backlog: int = Field(
        100_000,
        ge=0,
        description="Transactions scored while the online store is unreachable, kept in memory "
        "to be written to it when it returns (older ones are dropped beyond this).",
    )
    api_key: SecretStr = Field(
        SecretStr(DEFAULT_API_KEY), description="Key expected in X-API-Key for /v1/*."
    )
    admin_api_key: SecretStr = Field(
        SecretStr(DEFAULT_ADMIN_API_KEY), description="Key expected in X-API-Key for /admin/*."
    )
    auth_failure_limit: int = Field(
        20, ge=1, description="Wrong keys a client may send per window before it gets 429."
    )
    auth_failure_window_seconds: float = Field(
        60.0, gt=0, description="Window of the failed-authentication limit, in seconds."
    )
    auth_failure_max_clients: int = Field(
        10_000, ge=1, description="Clients the failed-authentication table tracks at most."
    )
    max_batch_size: int = Field(1000, ge=1, description="Most transactions per batch request.")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="Largest request body accepted.")
    reload_interval_seconds: float = Field(
        30.0, ge=0, description="How often the API polls the registry (0 disables polling)."
    )
    prediction_log_flush_seconds: float = Field(
        2.0, gt=0, description="How often buffered predictions are written to the store."
    )
    log_journal_seconds: float = Field(
        0.2,
        gt=0,
        description="How often the API appends answered predictions and labels to a local "
        "journal under the home folder (what a crash can lose at most); the journal is written "
        "to the dataset every prediction_log_flush_seconds and replayed at the next start.",
    )
    log_queue_rows: int = Field(
        200_000,
        ge=1,
        description="Rows waiting for the log writer beyond which new rows are dropped (counted "
        "in fraudops_log_dropped_rows_total) rather than the request waiting.",
    )
    max_bad_fraction: float = Field(
        0.05, ge=0, le=1, description="Validation fails a batch with more bad rows than this."
    )
    label_maturity_days: int = Field(
        30, ge=1, description="Days after which a transaction's label is treated as final."
    )
    drift_share_threshold: float = Field(
        0.2, ge=0, le=1, description="Share of drifted features that triggers retraining."
    )
    psi_threshold: float = Field(0.2, ge=0, description="Score PSI that triggers retraining.")
    live_ap_floor: float = Field(
        0.3, ge=0, le=1, description="Live average precision below this triggers retraining."
    )
    promotion_ap_margin: float = Field(
        0.005, description="A challenger must beat the champion's AP by at least this."
    )
    shadow_enabled: bool = Field(
        True,
        description="Score the registry's challenger beside the champion, off the request "
        "path, into the shadow log (it never decides).",
    )
    shadow_queue_size: int = Field(
        1000,
        ge=1,
        description="Scoring calls waiting for the shadow worker at most (a batch request is "
        "one); when full, shadow work is dropped and counted, requests never wait.",
    )
    min_shadow_days: int = Field(
        0,
        ge=0,
        description="Promotion needs this many days of shadow scoring of the challenger "
        "(0: no shadow period required).",
    )
    min_shadow_transactions: int = Field(
        1000,
        ge=1,
        description="With a shadow period: matured shadow-scored transactions promotion needs.",
    )
    min_shadow_frauds: int = Field(
        10,
        ge=1,
        description="With a shadow period: known frauds among them promotion needs.",
    )
    drain_seconds: float = Field(
        20.0,
        ge=0,
        description="After SIGTERM the API keeps serving this long with readiness 503 (longer "
        "than the load balancer's 15 s health-check interval), then stops accepting.",
    )
    keep_alive_seconds: float = Field(
        5.0, gt=0, description="An idle keep-alive connection is closed after this long."
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="A connection that has not sent complete request headers this long after "
        "opening (or after starting a request) is closed.",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Serve /metrics on this port instead of the API port (default: the API "
        f"port in development, {PRODUCTION_METRICS_PORT} in production).",
    )
    log_level: str = Field("INFO", description="Logging level.")
    lists_uri: str | None = Field(
        None,
        description="Allow/block/watch lists: memory://, sqlite:///PATH or redis://; default "
        "the online store's Redis when it is one, else SQLite under the home folder.",
    )
    lists_refresh_seconds: float = Field(
        1.0, gt=0, description="How often the API checks the lists for changes made elsewhere."
    )
    rules_path: Path | None = Field(
        None,
        description="Rules file (YAML) the API decides with; default rules.yaml under the home "
        "folder when it exists (no rules otherwise).",
    )
    cases_url: str | None = Field(
        None,
        description="Case store (SQLAlchemy URL): default SQLite under the home folder; "
        "postgresql+psycopg2://... in the stack.",
    )
    console_secret: SecretStr = Field(
        SecretStr(DEFAULT_CONSOLE_SECRET),
        description="Signs the analyst console's session cookies and CSRF tokens.",
    )
    api_url: str | None = Field(
        None, description="Base URL of the scoring API, told to reload after a promotion."
    )
    engine: Literal["polars", "spark"] = Field(
        "polars",
        description="Engine of the offline steps (features, bulk scoring): polars in this "
        "process, or Spark for data past one machine.",
    )
    spark_master: str = Field(
        "local[*]",
        description="Spark master URL (local[*], spark://host:7077, yarn, ...) for engine=spark.",
    )

    @model_validator(mode="after")
    def _refuse_weak_keys_in_production(self) -> Settings:
        if self.env != "production":
            return self
        for name, default in (
            ("api_key", DEFAULT_API_KEY),
            ("admin_api_key", DEFAULT_ADMIN_API_KEY),
        ):
            problem = key_weakness(getattr(self, name).get_secret_value(), default)
            if problem:
                raise ValueError(
                    f"FRAUDOPS_{name.upper()} is refused in production: {problem}. {KEY_RULE}"
                )
        if self.api_key.get_secret_value() == self.admin_api_key.get_secret_value():
            raise ValueError(
                "FRAUDOPS_API_KEY and FRAUDOPS_ADMIN_API_KEY must differ in production "
                "(with one key, every scoring client could also reload models)"
            )
        problem = key_weakness(self.console_secret.get_secret_value(), DEFAULT_CONSOLE_SECRET)
        if problem:
            raise ValueError(
                f"FRAUDOPS_CONSOLE_SECRET is refused in production: {problem}. {KEY_RULE}"
            )
        return self

    @property
    def resolved_metrics_port(self) -> int | None:
        """The private metrics port, or ``None`` when /metrics is served on the API port."""
        if self.metrics_port is not None:
            return self.metrics_port
        return PRODUCTION_METRICS_PORT if self.env == "production" else None

    # Resolved locations: the embedded defaults hang off the home folder.
    @property
    def resolved_data_uri(self) -> str:
        return self.data_uri or str(self.home / "data")

    # Where each dataset lives inside the data store (one layout for CLI, loop and DAGs).
    def dataset_uri(self, name: str) -> str:
        """``raw``, ``validated`` (clean/ + quarantine/), ``features``, ``predictions``,
        ``label_feed`` or ``monitoring`` under the data URI."""
        return f"{self.resolved_data_uri.rstrip('/')}/{name}"

    @property
    def resolved_lists_uri(self) -> str:
        if self.lists_uri:
            return self.lists_uri
        if self.online_store_uri.startswith(("redis://", "rediss://")):
            return self.online_store_uri
        return f"sqlite:///{(self.home / 'lists.db').resolve()}"

    @property
    def resolved_cases_url(self) -> str:
        return self.cases_url or f"sqlite:///{(self.home / 'cases.db').resolve()}"

    @property
    def resolved_rules_path(self) -> Path:
        return self.rules_path or self.home / "rules.yaml"

    @property
    def resolved_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow' / 'mlflow.db').resolve()}"

    @property
    def resolved_registry_uri(self) -> str:
        return self.mlflow_registry_uri or self.resolved_tracking_uri

    @property
    def resolved_artifact_uri(self) -> str:
        if self.mlflow_artifact_uri:
            return self.mlflow_artifact_uri
        return (self.home / "mlflow" / "artifacts").resolve().as_uri()

    def storage_options(self) -> dict[str, object]:
        """fsspec options for s3:// URIs (endpoint for MinIO or moto)."""
        if self.s3_endpoint_url:
            return {"client_kwargs": {"endpoint_url": self.s3_endpoint_url}}
        return {}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process; tests call ``get_settings.cache_clear()``."""
    return Settings()
