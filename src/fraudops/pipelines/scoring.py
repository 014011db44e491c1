"""Bulk scoring outside the API: stored transactions -> offline features -> champion.

Writes the same fields as ``POST /v1/predict``, partitioned by date, for backtests,
re-scoring after a model change and daily batch jobs. Reasons cost more than the score
itself, so by default only the rows an analyst will look at (review, decline) get them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from fraudops.config import Settings
from fraudops.data import store
from fraudops.models.bundle import FraudModel
from fraudops.models.decision import decision_expr, score_points_array
from fraudops.models.reasons import TOP_REASONS, ReasonWriter

if TYPE_CHECKING:  # MLflow is imported when a registry is opened, not with this module
    from fraudops.models.registry import Registry

REASON_MODES = ("flagged", "all", "none")
COMPILE_MIN_ROWS = 500_000  # below this, a first compile (~10 s) costs more than it saves


def check_reason_mode(reasons: str) -> None:
    if reasons not in REASON_MODES:
        raise ValueError(f"reasons must be one of {', '.join(REASON_MODES)}, not {reasons!r}")


def is_feature_table(uri: str, storage_options: dict[str, Any] | None = None) -> bool:
    """Whether ``uri`` is what ``fraudops features build`` wrote (scored as it is) rather
    than transactions (whose features are computed first)."""
    from fraudops.pipelines.features import FEATURE_LIST_NAME

    return store.exists(store.join_uri(uri, FEATURE_LIST_NAME), storage_options)


def score_frame(
    model: FraudModel,
    features: pl.DataFrame,
    version: int | None,
    name: str,
    alias: str,
    reasons: str = "flagged",
) -> pl.DataFrame:
    """Vectorised scoring of a feature table (one row per transaction).

    ``reasons``: ``flagged`` explains the rows an analyst will see (review and decline),
    ``all`` every row, ``none`` no row; rows left unexplained have null ``reasons``.
    Probabilities, scores and decisions are the same in every mode.
    """
    check_reason_mode(reasons)
    # row-major: what the tree engines read (polars transposes faster than numpy)
    x = features.select(model.feature_names).cast(pl.Float64).to_numpy(order="c")
    probability = model.predict_proba(x)
    thresholds = model.decision_thresholds
    if reasons == "all":
        explained = np.arange(x.shape[0])
    elif reasons == "flagged":
        explained = np.flatnonzero(probability >= thresholds.review)
    else:
        explained = np.empty(0, dtype=np.int64)
    p = pl.col("fraud_probability")
    scored = features.select("transaction_id", "timestamp", "card_id", "amount").with_columns(
        pl.Series("fraud_probability", probability),
        pl.Series("score", score_points_array(probability)),
    )
    scored = scored.with_columns(
        # the API's rule on the unrounded probability
        decision_expr(p, thresholds).alias("decision"),
        p.round(6),
        pl.lit(name).alias("model_name"),
        pl.lit(version).alias("model_version"),
        pl.lit(alias).alias("model_alias"),
    )
    explanations = _reason_lists(model, x, explained)
    return (
        scored.with_row_index("__row")
        .join(explanations, on="__row", how="left")
        .select(*scored.columns[:7], "reasons", *scored.columns[7:])
    )


def _reason_lists(model: FraudModel, x: np.ndarray, rows: np.ndarray) -> pl.DataFrame:
    """``__row`` and ``reasons`` (top contributions, as the API returns them) for ``rows``."""
    reason = pl.Struct(
        {"feature": pl.String, "value": pl.Float64, "contribution": pl.Float64, "text": pl.String}
    )
    if rows.size == 0 or not x.shape[1]:
        return pl.DataFrame(
            schema={"__row": pl.UInt32, "reasons": pl.List(reason)},
        )
    values = x[rows]
    _, contributions = model.score_and_explain(values)
    top = np.argsort(-contributions, axis=1)[:, :TOP_REASONS]
    writer = ReasonWriter(model.feature_names)  # the API's wording
    names = np.array(model.feature_names)
    within = np.arange(rows.size)
    columns = []
    for j in range(top.shape[1]):
        feature = top[:, j]
        value = values[within, feature]
        columns.append(
            pl.DataFrame(
                {
                    "feature": names[feature],
                    "value": value,
                    "contribution": np.round(contributions[within, feature], 6),
                    "text": [
                        writer.text(f, v)
                        for f, v in zip(feature.tolist(), value.tolist(), strict=True)
                    ],
                }
            ).to_struct(f"r{j}")
        )
    return pl.DataFrame({"__row": rows.astype(np.uint32)}).with_columns(
        pl.concat_list(columns).alias("reasons")
    )


def registered_version(settings: Settings, alias: str) -> tuple[Registry, int]:
    """The registry and the version ``alias`` names; an error says how to get one."""
    from fraudops.models.registry import Registry, RegistryError
    from fraudops.models.tracking import configure_mlflow

    configure_mlflow(settings)
    registry = Registry.from_settings(settings)
    version = registry.version_by_alias(alias)
    if version is None:
        raise RegistryError(f"no {alias!r} model registered yet; run `fraudops train` first")
    return registry, version


def score_dataset(
    settings: Settings,
    input_uri: str,
    out_uri: str,
    alias: str = "champion",
    reasons: str = "flagged",
    compiled: bool | None = None,
) -> dict[str, Any]:
    """Score stored transactions, or a feature table, with a registered model; writes
    ``out_uri``.

    ``compiled``: score LightGBM models through native code (``fraudops[compiled]``);
    ``None`` decides: yes when it is installed and the compile pays off (a cached build
    of this model, or at least ``COMPILE_MIN_ROWS`` rows).
    """
    from fraudops.data.store import resolve_transactions_uri
    from fraudops.features.offline import build_offline_features

    check_reason_mode(reasons)  # before any work is done
    registry, version = registered_version(settings, alias)
    model = registry.load(version)
    model.threads = 0  # a batch job owns the machine: every core
    options = settings.storage_options()
    if is_feature_table(input_uri, options):  # what `features build` wrote, either engine
        features = store.read_dataset(input_uri, storage_options=options)
        missing = sorted(set(model.feature_names) - set(features.columns))
        if features.height and missing:
            raise ValueError(f"{input_uri} lacks columns the model needs: {missing[:8]}")
    else:
        transactions = store.read_dataset(
            resolve_transactions_uri(input_uri, options), storage_options=options
        )
        features = build_offline_features(transactions)
    if features.height == 0:
        raise FileNotFoundError(f"no transactions found under {input_uri}")
    engine = _choose_engine(model, settings, features.height, compiled)
    started = time.perf_counter()
    scored = score_frame(model, features, version, settings.model_name, alias, reasons)
    model_seconds = time.perf_counter() - started
    infos = store.write_dataset(out_uri, scored, storage_options=options)
    counts = scored["decision"].value_counts()
    return {
        "rows": scored.height,
        "partitions": len(infos),
        "model_version": version,
        "model_seconds": round(model_seconds, 3),
        "engine": engine,
        "decisions": dict(
            zip(counts["decision"].to_list(), counts["count"].to_list(), strict=True)
        ),
        "out": out_uri,
    }


def _choose_engine(model: FraudModel, settings: Settings, rows: int, compiled: bool | None) -> str:
    """Attach the compiled predictor when asked or worth it; returns the engine's name."""
    from fraudops.models import compiled as native

    if model.algorithm != "lgbm" or compiled is False:
        return model.algorithm
    cache_dir = settings.home / "cache" / "compiled"
    if not native.available():
        if compiled:
            raise ValueError(
                "--compiled needs the optional extra: pip install 'fraudops[compiled]'"
            )
        return model.algorithm
    worth_it = rows >= COMPILE_MIN_ROWS or native.cache_file(model.estimator, cache_dir).exists()
    if compiled or worth_it:
        model.compiled_predict = native.compile_booster(model.estimator, cache_dir)
        return "lgbm-compiled"
    return model.algorithm
