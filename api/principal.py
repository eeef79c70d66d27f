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
    return keys.authenticate(session, token)
