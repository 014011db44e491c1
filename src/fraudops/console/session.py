"""Console sessions in a signed cookie, and the CSRF token every form carries.

The cookie holds the user name, role and a random session id, signed (not encrypted:
nothing in it is secret) with ``FRAUDOPS_CONSOLE_SECRET``; it is HttpOnly and
SameSite=Strict. The CSRF token is an HMAC of the session id, so a page of this console
can post and a page elsewhere cannot; the login form's token is signed with a time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "fraudops_console"
SESSION_SECONDS = 8 * 3600
LOGIN_FORM_SECONDS = 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class ConsoleSession:
    username: str
    role: str
    sid: str
    csrf: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class LoginRequiredError(Exception):
    """No valid session: the console answers with a redirect to its login page."""


def _secret(request: Request) -> str:
    return str(request.app.state.fraudops.settings.console_secret.get_secret_value())


def _serializer(request: Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(request), salt=salt)


def csrf_for(secret: str, sid: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()


def new_session_cookie(request: Request, username: str, role: str) -> str:
    payload = {"u": username, "r": role, "sid": secrets.token_urlsafe(16)}
    return _serializer(request, "session").dumps(payload)


def read_session(request: Request) -> ConsoleSession | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data: dict[str, Any] = _serializer(request, "session").loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    sid = str(data["sid"])
    return ConsoleSession(str(data["u"]), str(data["r"]), sid, csrf_for(_secret(request), sid))


async def current_session(request: Request) -> ConsoleSession:
    session = read_session(request)
    if session is None:
        raise LoginRequiredError
    return session


def login_form_token(request: Request) -> str:
    return _serializer(request, "login").dumps(secrets.token_urlsafe(8))


def check_login_form_token(request: Request, token: str) -> None:
    try:
        _serializer(request, "login").loads(token, max_age=LOGIN_FORM_SECONDS)
    except BadSignature:
        raise HTTPException(403, "the login form expired or was not ours; reload it") from None


async def require_csrf(request: Request, session: ConsoleSession) -> None:
    """Every state-changing request carries the session's token (form field or header)."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")
