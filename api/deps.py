"""Dependencies shared by the routes, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from archive import keys
from archive.db import writer
from archive.errors import Forbidden, Unauthorized
from archive.models import ApiKey
from archive.settings import Settings

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# POSTs that only read (a lookup with a body too large for a URL): no write lock for them.
READ_ONLY_POSTS = {"/v1/quotes/lookup"}


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; writes take SQLite's write lock at BEGIN. Routes commit."""
    engine = get_engine(request)
    if request.method in WRITE_METHODS and request.url.path not in READ_ONLY_POSTS:
        engine = writer(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_key(request: Request, session: SessionDep) -> ApiKey | None:
    """The key in `Authorization: Bearer <key>`, None when there is none; 401 when invalid."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("Authorization: expected `Bearer <key>`")
    key = keys.authenticate(session, secret.strip())
    if key is None:
        raise Unauthorized("the API key is unknown or revoked")
    request.state.key_name = key.name
    return key


KeyDep = Annotated[ApiKey | None, Depends(get_key)]


def require(scope: str):  # noqa: ANN201 - a FastAPI dependency
    def dependency(key: KeyDep) -> ApiKey:
        if key is None:
            raise Unauthorized(f"this operation needs an API key with scope {scope!r}")
        if not keys.allows(key, scope):
            raise Forbidden(f"the key {key.name!r} has scope {key.scope!r}; this needs {scope!r}")
        return key

    return dependency


def readable(key: KeyDep, settings: SettingsDep) -> ApiKey | None:
    """Reads are public unless ARCHIVE_PUBLIC_READS=false, then any live key may read."""
    if not settings.public_reads and key is None:
        raise Unauthorized("reads need an API key on this server")
    return key


Writer = Annotated[ApiKey, Depends(require("write"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
Reader = Annotated[ApiKey | None, Depends(readable)]
