"""Shared helpers of the deployment checks: paths, external tools, PromQL metric names.

The container stack cannot run here (no Docker engine), so these tests check it
statically: schemas, linters, cross-references between files, and the metric names
dashboards and alerts use against the ones the API exports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from deployment_support import DEPLOYMENT, load_script

from skip_policy import require_executable

COMPOSE_FILE = DEPLOYMENT / "docker-compose.yml"
_PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "and", "or", "unless", "atan2", "inf", "nan", "start", "end",
}  # fmt: skip


def load_yaml(path: Path) -> Any:
    with path.open() as handle:
        return yaml.safe_load(handle)


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords, labels left out).

    Grafana variables ($__rate_interval, $instance, ${datasource}) are tolerated.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", text):
        token = match.group(0)
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function call
        if token.lower() in _PROMQL_KEYWORDS:
            continue
        names.add(token)
    return names


def api_metric_families() -> dict[str, set[str]]:
    """Each metric family of fraudops.serving.metrics.ServiceMetrics -> series names.

    Labelled metrics export no sample until used, so names come from the family type:
    counters expose <name>_total, histograms <name>_bucket/_sum/_count, gauges <name>.
    """
    from fraudops.console import register_case_metrics
    from fraudops.serving.metrics import ServiceMetrics

    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "gauge": ("",),
        "info": ("_info",),
        "stateset": ("",),
        "enum": ("",),
        "unknown": ("",),
    }
    families = {}
    registry = ServiceMetrics().registry
    register_case_metrics(registry, store=None)  # added by the API when its case store opens
    for family in registry.collect():
        families[family.name] = {family.name + suffix for suffix in suffixes[family.type]}
    return families


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="session")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="session")
def metric_families() -> dict[str, set[str]]:
    return api_metric_families()


@pytest.fixture(scope="session")
def exported_series(metric_families: dict[str, set[str]]) -> set[str]:
    return set().union(*metric_families.values())


@pytest.fixture(scope="session")
def promql_names() -> Callable[[str], set[str]]:
    return promql_metric_names


@pytest.fixture(scope="session")
def tool() -> Callable[[str, str], str]:
    """``tool(name, hint)``: path of an executable, else skip (fail under CI)."""
    return require_executable


@pytest.fixture(scope="session")
def stack_check() -> ModuleType:
    return load_script("stack_check")


@pytest.fixture(scope="session")
def stack_env() -> ModuleType:
    return load_script("stack_env")
