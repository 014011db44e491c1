"""The API's drain on SIGTERM fits what the deployments allow: longer than the load
balancer's health-check interval, shorter than the time before SIGKILL."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from fraudops.config import Settings
from fraudops.serving.server import GRACEFUL_SHUTDOWN_SECONDS

DEPLOYMENT = Path(__file__).resolve().parents[2] / "deployment"
COMPOSE_FILE = DEPLOYMENT / "docker-compose.yml"
TERRAFORM = DEPLOYMENT / "aws" / "terraform"


def shutdown_seconds(settings: Settings) -> float:
    """SIGTERM to exit at most: drain, connections just accepted, requests in flight."""
    return settings.drain_seconds + settings.header_timeout_seconds + GRACEFUL_SHUTDOWN_SECONDS


def api_module_block() -> str:
    text = (TERRAFORM / "main.tf").read_text()
    start = text.index('module "api_service" {')
    return text[start : text.index("\n}\n", start)]


def test_the_drain_outlasts_the_load_balancer_health_check_interval() -> None:
    alb = (TERRAFORM / "modules" / "alb" / "main.tf").read_text()
    intervals = {int(value) for value in re.findall(r"\n\s*interval\s*=\s*(\d+)", alb)}
    assert intervals, "no health-check interval in the ALB module"
    assert Settings(_env_file=None).drain_seconds > max(intervals)  # type: ignore[call-arg]


def test_ecs_and_compose_wait_for_the_whole_drain_before_killing() -> None:
    needed = shutdown_seconds(Settings(_env_file=None))  # type: ignore[call-arg]
    stop_timeout = re.search(r"\n\s*stop_timeout\s*=\s*(\d+)", api_module_block())
    assert stop_timeout, "the API service sets no stop_timeout (ECS default: 30 s)"
    assert int(stop_timeout.group(1)) >= needed
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    grace = compose["services"]["api"].get("stop_grace_period", "10s")
    assert grace.endswith("s")
    assert float(grace.removesuffix("s")) >= needed


def test_keep_alive_outlives_the_load_balancer_idle_timeout() -> None:
    block = api_module_block()
    assert "local.api_environment" in block
    main = (TERRAFORM / "main.tf").read_text()
    assert "FRAUDOPS_KEEP_ALIVE_SECONDS = tostring(var.alb_idle_timeout_seconds + 5)" in main
