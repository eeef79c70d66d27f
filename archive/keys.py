"""API keys. The secret is shown once, at creation; only its SHA-256 is stored.

Keys are 256-bit random tokens, so an unsalted hash is enough: there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlmodel import Session

from archive.errors import Conflict, InvalidInput, NotFound
from archive.models import SCOPES, ApiKey, utcnow

KEY_PREFIX = "ak_"
SCOPE_RANK = {"read": 0, "write": 1, "admin": 2}


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(session: Session, name: str, scope: str) -> tuple[ApiKey, str]:
    """A new key named `name`; returns the row and the secret (never stored)."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope: must be one of {', '.join(SCOPES)}")
    if not name or len(name) > 64:
        raise InvalidInput("name: give a name of 1 to 64 characters")
    if session.execute(select(ApiKey).where(ApiKey.name == name)).first():
        raise Conflict(f"a key named {name!r} already exists")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, scope=scope, key_hash=hash_secret(secret), prefix=secret[:10])
    session.add(key)
    session.flush()
    return key, secret


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.execute(select(ApiKey).order_by(ApiKey.name)).scalars())


def revoke_key(session: Session, name: str) -> ApiKey:
    key = session.execute(select(ApiKey).where(ApiKey.name == name)).scalar_one_or_none()
    if key is None:
        raise NotFound(f"no key named {name!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.flush()
    return key


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """The live key with this secret, or None."""
    key = session.execute(
        select(ApiKey).where(ApiKey.key_hash == hash_secret(secret))
    ).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    return key


def allows(key: ApiKey, needed: str) -> bool:
    return SCOPE_RANK[key.scope] >= SCOPE_RANK[needed]
