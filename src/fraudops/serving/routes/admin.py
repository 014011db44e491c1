"""``/admin``: reload the champion now instead of at the next poll; read, replace and
reload the rules the decision policy applies."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from fraudops.serving.deps import AdminKey

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminKey])


@router.post(
    "/reload",
    summary="Reload the champion alias now (the old model serves meanwhile)",
    responses={
        401: {"description": "Missing admin key"},
        403: {"description": "Wrong admin key"},
        409: {"description": "Reload failed; the last good model keeps serving"},
        429: {"description": "Too many wrong keys from this client (Retry-After)"},
    },
)
async def reload(request: Request) -> dict[str, Any]:
    holder = request.app.state.fraudops.holder
    # loading touches the registry and disk: keep it off the event loop
    changed = await asyncio.to_thread(holder.reload)
    if holder.status.last_error and not changed:
        current = holder.current
        serving = f"still serving version {current.version}" if current else "no model is serving"
        # 409, not 5xx: the service is healthy and serving; the registry state is the problem
        raise HTTPException(409, f"reload failed, {serving}: {holder.status.last_error}")
    current = holder.current
    return {"reloaded": changed, "version": current.version if current else None}


def _rules_holder(request: Request) -> Any:
    holder = request.app.state.fraudops.rules
    if holder is None:
        raise HTTPException(503, "the decision policy is not configured in this process")
    return holder


def _rules_view(holder: Any) -> dict[str, Any]:
    compiled = holder.current
    return {
        "status": asdict(holder.status),
        "rules": [rule.as_dict() for rule in compiled.ruleset.rules] if compiled else [],
    }


@router.get("/rules", summary="The rules in force, their version and the last reload error")
async def rules(request: Request) -> dict[str, Any]:
    return _rules_view(_rules_holder(request))


@router.put(
    "/rules",
    summary="Replace the rules file (YAML body); refused with the rule named if invalid",
    responses={422: {"description": "Invalid rules; the set in force is unchanged"}},
)
async def replace_rules(request: Request) -> dict[str, Any]:
    from fraudops.serving.routes.predict import read_body

    holder = _rules_holder(request)
    body = await read_body(request)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(422, "the rules file must be UTF-8 text") from None
    try:
        await asyncio.to_thread(holder.replace, text)
    except ValueError as exc:  # RulesError names the rule and the problem
        raise HTTPException(422, str(exc)) from None
    return _rules_view(holder)


@router.post(
    "/rules/reload",
    summary="Re-read the rules file now",
    responses={409: {"description": "The file was refused; the last good set keeps deciding"}},
)
async def reload_rules(request: Request) -> dict[str, Any]:
    holder = _rules_holder(request)
    changed = await asyncio.to_thread(holder.reload, True)
    if holder.status.last_error:
        raise HTTPException(
            409, f"rules refused, the last good set keeps deciding: {holder.status.last_error}"
        )
    return {"reloaded": changed, **_rules_view(holder)}
