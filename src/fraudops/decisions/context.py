"""What a rule condition can see, defined once for the API and for backtests.

A rule is evaluated against a *context*: one transaction's canonical fields, its online
features, the model's calibrated ``probability`` and 0-999 ``score``, the UTC ``hour`` and
``weekday`` of its timestamp, and list membership flags. The API builds the context as a
mapping per request; a backtest builds the same names as columns of a polars frame.

List membership is one boolean per list and kind, ``list_<list>_<kind>`` (for example
``list_watch_card`` or ``list_block_country``): true when the transaction's field of that
kind is on the list and the entry has not expired. ``allow`` and ``block`` are the lists
the policy reads before any rule; other names (``watch``, ``vip``…) exist for rules.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

from fraudops.features.spec import feature_names
from fraudops.schema import TRANSACTION_FIELDS

ValueType = Literal["str", "float", "int", "bool"]

# the transaction field a list entry of each kind is matched against
LIST_KINDS: dict[str, str] = {
    "card": "card_id",
    "device": "device_id",
    "merchant": "merchant_id",
    "terminal": "terminal_id",
    "country": "country",
}
POLICY_LISTS = ("allow", "block")  # read by the policy itself, in this order
LIST_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
LIST_FLAG = re.compile(r"^list_(?P<list>[a-z][a-z0-9_]{0,31})_(?P<kind>[a-z]+)$")
# fields computed from the transaction for rules (UTC): 0-23 and 0 (Monday) - 6
DERIVED_FIELDS: dict[str, ValueType] = {"hour": "int", "weekday": "int"}
MODEL_FIELDS: dict[str, ValueType] = {"probability": "float", "score": "int"}


@functools.cache  # the request path asks for the same few names on every transaction
def list_flag(list_name: str, kind: str) -> str:
    """The context name of a membership flag: ``list_flag("watch", "card")``."""
    return f"list_{list_name}_{kind}"


def parse_list_flag(name: str) -> tuple[str, str] | None:
    """``"list_watch_card"`` -> ``("watch", "card")``; None when not a membership flag.

    A list name may itself contain underscores, so the kind is the last part."""
    if not name.startswith("list_"):
        return None
    head, _, kind = name[len("list_") :].rpartition("_")
    if kind not in LIST_KINDS or not LIST_NAME.match(head):
        return None
    return head, kind


def field_types() -> dict[str, ValueType]:
    """Every fixed name a condition may use and its type (membership flags aside)."""
    kinds: dict[str, ValueType] = {}
    for field in TRANSACTION_FIELDS:
        if field.kind == "datetime":
            continue  # rules see ``hour`` and ``weekday``, not raw instants
        kinds[field.name] = "float" if field.kind == "float" else "str"
    kinds.update(dict.fromkeys(feature_names(), "float"))
    kinds.update(DERIVED_FIELDS)
    kinds.update(MODEL_FIELDS)
    return kinds


def type_of(name: str) -> ValueType | None:
    """The type of any name a condition may use, or None for an unknown name."""
    if parse_list_flag(name) is not None:
        return "bool"
    return field_types().get(name)
