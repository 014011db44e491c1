"""Lists, defaults and look-backs are derived from the schema and the feature spec, not
restated: the API's request model, ingestion and the warm-up follow them."""

from __future__ import annotations

import json
from datetime import timedelta

from fraudops.features import spec
from fraudops.features.online import WARM_UP_DAYS, warm_up_days
from fraudops.schema import CHANNELS, ENTRY_MODES, FALLBACKS, FIELDS_BY_NAME
from fraudops.serving.routes.predict import _to_dicts
from fraudops.serving.schemas import EXAMPLE_TRANSACTION, TransactionIn


def test_request_model_takes_allowed_values_and_defaults_from_the_schema() -> None:
    properties = TransactionIn.model_json_schema()["properties"]
    for name, allowed in (("channel", CHANNELS), ("entry_mode", ENTRY_MODES)):
        assert tuple(properties[name]["enum"]) == allowed == FIELDS_BY_NAME[name].allowed
        assert properties[name]["default"] == FIELDS_BY_NAME[name].default


def test_missing_identifiers_fall_back_as_the_schema_says() -> None:
    assert FALLBACKS == {"customer_id": "card_id", "terminal_id": "merchant_id"}
    assert spec.COLUMN_FALLBACKS == FALLBACKS  # the feature engines read the same rule
    body = {k: v for k, v in EXAMPLE_TRANSACTION.items() if k not in FALLBACKS}
    (row,) = _to_dicts([TransactionIn.model_validate_json(json.dumps(body))])
    for name, source in FALLBACKS.items():
        assert row[name] == row[source] == EXAMPLE_TRANSACTION[source]


def test_warm_up_covers_the_longest_feature_look_back() -> None:
    assert timedelta(days=WARM_UP_DAYS) >= spec.max_retention()
    assert timedelta(days=WARM_UP_DAYS - 1) < spec.max_retention()
    week = tuple(f for f in spec.FEATURES if f.retention <= timedelta(days=7))
    assert warm_up_days(week) == 7
