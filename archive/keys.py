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
    """A new key named `name`; returns the row and the secret (never stored). The name of a
    revoked key may be given again: the key is issued anew."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope: must be one of {', '.join(SCOPES)}")
    if not name or len(name) > 64:
        raise InvalidInput("name: give a name of 1 to 64 characters")
    existing = _named(session, name)
    if existing is not None and existing.revoked_at is None:
        raise Conflict(
            f"a key named {name!r} already exists; `archive keys rotate {name}` gives it a "
            "new secret"
        )
    return _issue(session, existing, name, scope)


def rotate_key(session: Session, name: str, scope: str | None = None) -> tuple[ApiKey, str]:
    """A new secret for the key `name` (live again if it was revoked; its scope kept unless
    `scope` is given); the old secret stops working at once. A key that does not exist is
    created (with `scope`, default write), so running the same line twice is safe."""
    if scope is not None and scope not in SCOPES:
        raise InvalidInput(f"scope: must be one of {', '.join(SCOPES)}")
    if not name or len(name) > 64:
        raise InvalidInput("name: give a name of 1 to 64 characters")
    existing = _named(session, name)
    scope = scope or (existing.scope if existing is not None else "write")
    return _issue(session, existing, name, scope)


def delete_key(session: Session, name: str) -> None:
    """Forget the key `name` altogether (revoking keeps it listed, as revoked)."""
    key = _named(session, name)
    if key is None:
        raise NotFound(f"no key named {name!r}")
    session.delete(key)
    session.flush()


def _named(session: Session, name: str) -> ApiKey | None:
    return session.execute(select(ApiKey).where(ApiKey.name == name)).scalar_one_or_none()


def _issue(session: Session, key: ApiKey | None, name: str, scope: str) -> tuple[ApiKey, str]:
    """A fresh secret for `key` (re-used row: the name is unique), or a new key."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    if key is None:
        key = ApiKey(name=name, scope=scope, key_hash=hash_secret(secret), prefix=secret[:10])
    else:
        key.scope = scope
        key.key_hash = hash_secret(secret)
        key.prefix = secret[:10]
        key.created_at = utcnow()
        key.revoked_at = None
    session.add(key)
    session.flush()
    return key, secret


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.execute(select(ApiKey).order_by(ApiKey.name)).scalars())


def revoke_key(session: Session, name: str) -> ApiKey:
    key = _named(session, name)
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
