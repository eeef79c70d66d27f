"""Who is asking, for the machinery that runs before a route's own auth dependency.

`api.deps.get_key` raises 401 for a bad key; the idempotency and precondition checks must
not (the route decides what a missing or bad key means), so they look the key up here.
"""

from __future__ import annotations

import hashlib

from fastapi import Request
from sqlmodel import Session

from archive import keys
from archive.models import ApiKey


def bearer_token(headers: dict[str, str] | object) -> str | None:
    """The secret in `Authorization: Bearer <secret>`, or None."""
    header = headers.get("authorization")  # type: ignore[attr-defined]
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def token_id(token: str) -> str:
    """A stable, non-secret name for a token (for rate-limit counters)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def key_of(request: Request, session: Session) -> ApiKey | None:
    """The live API key the request carries, or None (never raises for a bad key)."""
    token = bearer_token(request.headers)
    if token is None:
        return None
    return authenticate(request, session, token)


def remembered_key(request: Request, session: Session, token: str) -> tuple[ApiKey | None] | None:
    """`(key,)` when `authenticate` already looked this token up for the request (the key
    may be None: unknown or revoked), else None; no database work, so callers on the event
    loop need no thread."""
    known = getattr(request.state, "api_key", None)
    if known is not None and known[0] is session and known[1] == token:
        return (known[2],)
    return None


def authenticate(request: Request, session: Session, token: str) -> ApiKey | None:
    """`keys.authenticate`, once per request and session: the idempotency check, the write
    guard and the route's own auth dependency all ask who is writing; all but the first
    are answered from the request's state."""
    known = remembered_key(request, session, token)
    if known is not None:
        return known[0]
    key = keys.authenticate(session, token)
    request.state.api_key = (session, token, key)
    return key
