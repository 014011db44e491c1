"""``POST /admin/reload``: load the champion now instead of at the next poll."""

from __future__ import annotations

import asyncio
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
