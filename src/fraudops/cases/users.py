"""Console users: scrypt password hashes (standard library), roles analyst and admin."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fraudops.cases.models import ROLES, ConsoleUser
from fraudops.cases.store import CaseError, CaseStore

# scrypt cost (n=2**14, r=8: 16 MiB and ~50 ms a check): slows guessing, not a login
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 10
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    encode = base64.b64encode
    return (
        f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    computed = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=32,
    )
    return hmac.compare_digest(computed, base64.b64decode(digest))


def add_user(store: CaseStore, username: str, password: str, role: str, now: datetime) -> None:
    """Create a user, or refuse with a message naming the problem."""
    if not username or len(username) > 64 or not set(username) <= USERNAME_CHARS:
        raise CaseError("a username is 1-64 lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise CaseError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CaseError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    try:
        with store.sessions.begin() as session:
            session.add(
                ConsoleUser(
                    username=username,
                    password_hash=hash_password(password),
                    role=role,
                    created_at=now,
                )
            )
    except IntegrityError:
        raise CaseError(f"user {username!r} exists already") from None


def authenticate(store: CaseStore, username: str, password: str) -> ConsoleUser | None:
    """The user when the password is right, else None (same work either way)."""
    with store.sessions() as session:
        user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    if user is None:
        verify_password(password, _dummy_hash())
        return None
    return user if verify_password(password, user.password_hash) else None


# checked against on a login with an unknown name, so both cases take the same time
_dummy: list[str] = []


def _dummy_hash() -> str:
    if not _dummy:
        _dummy.append(hash_password(secrets.token_urlsafe(16)))
    return _dummy[0]


def role_of(store: CaseStore, username: str) -> str | None:
    with store.sessions() as session:
        return session.scalar(select(ConsoleUser.role).where(ConsoleUser.username == username))
