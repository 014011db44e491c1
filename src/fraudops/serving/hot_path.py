"""The scoring endpoints as plain ASGI, in front of FastAPI.

``POST /v1/predict`` is the request a payment authorisation waits on. FastAPI's
per-request machinery (routing, ``Request`` objects, dependency resolution, response
classes) costs more there than the scoring itself on a one-core server, so this layer
answers the scoring requests directly: it checks the key, reads the body, calls the same
functions as the FastAPI routes (``routes.predict.score_one`` / ``score_many``) and
writes the JSON. Everything else — docs, health, labels, admin, wrong methods — passes
through to FastAPI, which still declares the scoring routes for the OpenAPI schema.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import HTTPException

from fraudops.serving.auth import authenticate
from fraudops.serving.deps import client_address
from fraudops.serving.routes.predict import check_body, receive_body, score_many, score_one
from fraudops.serving.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

Handler = Callable[[Any, bytes, float], bytes]
ROUTES: dict[str, Handler] = {"/v1/predict": score_one, "/v1/predict/batch": score_many}
ENDPOINT_KEY = "fraudops.endpoint"  # read by the metrics middleware for its labels
_JSON = (b"content-type", b"application/json")


class HotPath:
    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope[ENDPOINT_KEY] = scope["path"]
        settings = self.state.settings
        headers: list[tuple[bytes, bytes]] = [_JSON]
        try:
            provided = None
            for name, value in scope["headers"]:
                if name == b"x-api-key":
                    provided = value.decode("latin-1")
                    break
            address = client_address(scope.get("client"))
            expected = settings.api_key.get_secret_value()
            authenticate(self.state.auth_limiter, address, provided, expected)
            limit = settings.max_body_bytes
            body = check_body(await receive_body(receive, limit), limit)
            status, content = 200, handler(self.state, body, started)
        except HTTPException as exc:
            status, content = exc.status_code, _detail(exc.detail)
            headers += [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
        except Exception:
            logger.exception("unexpected error")
            status, content = 500, b'{"detail":"internal error"}'
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def _detail(detail: Any) -> bytes:
    return orjson.dumps({"detail": detail})
