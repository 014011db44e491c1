"""Dependencies shared by the routes: the service state and API-key checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from fraudops.serving.auth import authenticate

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


# async on purpose: FastAPI runs plain `def` dependencies in a thread pool, a thread
# hop per request that cost more than the whole scoring path
async def get_state(request: Request) -> Any:
    return request.app.state.fraudops


def client_address(client: tuple[str, int] | Any | None) -> str:
    """The ASGI ``client`` (host, port) as the key of the failed-attempt limit."""
    return str(client[0]) if client else "unknown"


async def require_api_key(
    request: Request, provided: Annotated[str | None, Security(api_key_header)]
) -> None:
    state = request.app.state.fraudops
    address = client_address(request.scope.get("client"))
    authenticate(state.auth_limiter, address, provided, state.settings.api_key.get_secret_value())


async def require_admin_key(
    request: Request, provided: Annotated[str | None, Security(api_key_header)]
) -> None:
    state = request.app.state.fraudops
    address = client_address(request.scope.get("client"))
    expected = state.settings.admin_api_key.get_secret_value()
    authenticate(state.auth_limiter, address, provided, expected)


ApiKey = Depends(require_api_key)
AdminKey = Depends(require_admin_key)
