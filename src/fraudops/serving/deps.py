"""Dependencies shared by the routes: the service state and API-key checks."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from fraudops.config import Settings

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


# async on purpose: FastAPI runs plain `def` dependencies in a thread pool, a thread
# hop per request that cost more than the whole scoring path
async def get_state(request: Request) -> Any:
    return request.app.state.fraudops


def check_api_key(provided: str | None, expected: str) -> None:
    if not provided:
        raise HTTPException(401, "missing X-API-Key header", headers={"WWW-Authenticate": "APIKey"})
    if not hmac.compare_digest(provided.encode(), expected.encode()):
        raise HTTPException(403, "invalid API key")


async def require_api_key(
    request: Request, provided: Annotated[str | None, Security(api_key_header)]
) -> None:
    settings: Settings = request.app.state.fraudops.settings
    check_api_key(provided, settings.api_key.get_secret_value())


async def require_admin_key(
    request: Request, provided: Annotated[str | None, Security(api_key_header)]
) -> None:
    settings: Settings = request.app.state.fraudops.settings
    check_api_key(provided, settings.admin_api_key.get_secret_value())


ApiKey = Depends(require_api_key)
AdminKey = Depends(require_admin_key)
