"""CodeDeploy lifecycle hook: run ``fraudops smoke`` as an ECS task and report the result.

CodeDeploy invokes one function per hook of the AppSpec (deployment/aws/codedeploy/
appspec.yaml): ``AfterAllowTestTraffic`` smoke-tests the green task set through the test
listener before any production traffic reaches it, ``AfterAllowTraffic`` smoke-tests the
production URL once all traffic is on green. A failed hook fails the deployment, and the
deployment group's automatic rollback puts production traffic back on blue.

The check itself is the project's own ``fraudops smoke`` (liveness, readiness, one
prediction, model version), run by the service's latest task definition revision (the one
being deployed) with its container command overridden; the API key comes from the task
definition's secrets (FRAUDOPS_API_KEY). The function only starts the task, waits for it
and passes the container's exit code on. Standard library and boto3 only (the Lambda
Python runtime ships boto3). The pure pieces are tested in tests/infra.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

SUCCEEDED, FAILED = "Succeeded", "Failed"
# Poll the task every 10 s for up to 13 minutes: inside the function's 15-minute limit.
WAIT = {"Delay": 10, "MaxAttempts": 78}


def smoke_command(url: str, timeout_seconds: int) -> list[str]:
    """Arguments of the container (its entry point is ``fraudops``)."""
    return ["smoke", "--url", url, "--timeout", str(timeout_seconds)]


def run_task_request(env: Mapping[str, str], deployment_id: str) -> dict[str, Any]:
    """The ``ecs.run_task`` request for the smoke task, from the function's environment."""
    missing = [
        key
        for key in (
            "CLUSTER",
            "TASK_DEFINITION_FAMILY",
            "CONTAINER_NAME",
            "SUBNET_IDS",
            "SMOKE_URL",
        )
        if not env.get(key)
    ]
    if missing:
        raise ValueError(f"smoke hook misconfigured: {', '.join(missing)} not set")
    container = env["CONTAINER_NAME"]
    timeout = int(env.get("SMOKE_TIMEOUT_SECONDS", "120"))
    return {
        "cluster": env["CLUSTER"],
        # A family name runs its latest ACTIVE revision: the one CD registered for green.
        "taskDefinition": env["TASK_DEFINITION_FAMILY"],
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": f"codedeploy-{deployment_id}"[:128],
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": _split(env["SUBNET_IDS"]),
                "securityGroups": _split(env.get("SECURITY_GROUP_IDS", "")),
                "assignPublicIp": "DISABLED",
            }
        },
        "overrides": {
            "containerOverrides": [
                {"name": container, "command": smoke_command(env["SMOKE_URL"], timeout)}
            ]
        },
    }


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def task_outcome(task: Mapping[str, Any], container_name: str) -> tuple[str, str]:
    """Succeeded only when the smoke container exited 0; the reason says why otherwise."""
    if task.get("lastStatus") != "STOPPED":
        return FAILED, f"smoke task still {task.get('lastStatus', 'unknown')} at the deadline"
    for container in task.get("containers", []):
        if container.get("name") != container_name:
            continue
        code = container.get("exitCode")
        if code == 0:
            return SUCCEEDED, "fraudops smoke passed"
        if code is None:
            reason = container.get("reason") or task.get("stoppedReason") or "no exit code"
            return FAILED, f"smoke task did not run: {reason}"
        return FAILED, f"fraudops smoke exited {code} (see the task's log stream)"
    return FAILED, f"no container {container_name!r} in the smoke task"


def run_smoke(ecs: Any, env: Mapping[str, str], deployment_id: str) -> tuple[str, str]:
    """Start the smoke task, wait until it stops, and judge it."""
    started = ecs.run_task(**run_task_request(env, deployment_id))
    if not started.get("tasks"):
        failures = started.get("failures") or [{"reason": "no task started"}]
        return FAILED, f"smoke task not started: {failures[0].get('reason')}"
    task_arn = started["tasks"][0]["taskArn"]
    LOG.info("smoke task %s against %s", task_arn, env["SMOKE_URL"])
    try:
        ecs.get_waiter("tasks_stopped").wait(
            cluster=env["CLUSTER"], tasks=[task_arn], WaiterConfig=WAIT
        )
    except Exception as error:  # the waiter's timeout: judged below from the task's state
        LOG.warning("waiting for %s: %s", task_arn, error)
    described = ecs.describe_tasks(cluster=env["CLUSTER"], tasks=[task_arn])["tasks"]
    return task_outcome(described[0] if described else {}, env["CONTAINER_NAME"])


def handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    """Entry point. Always reports a status, so a broken hook fails the deployment at once
    instead of holding it until CodeDeploy's one-hour hook timeout."""
    import boto3

    deployment_id = event["DeploymentId"]
    try:
        status, reason = run_smoke(boto3.client("ecs"), os.environ, deployment_id)
    except Exception as error:  # any failure of the hook is a failed smoke test
        LOG.exception("smoke hook failed")
        status, reason = FAILED, f"{type(error).__name__}: {error}"
    LOG.info("deployment %s: %s (%s)", deployment_id, status, reason)
    boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id,
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return {"status": status, "reason": reason}
