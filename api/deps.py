"""Dependencies shared by the routes, as `Annotated` aliases.

Those that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the thread
pool, a hop that costs more than most of them do. Only the database work (a key look-up,
the routes themselves) goes to a thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from anyio import CapacityLimiter
from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.principal import authenticate, bearer_token, remembered_key
from archive import keys
from archive.db import READ_DEADLINE, is_sqlite, writer
from archive.errors import Forbidden, Unauthorized, brief
from archive.models import ApiKey
from archive.settings import Settings

log = logging.getLogger("archive.api")

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# POSTs that only read (a lookup with a body too large for a URL): no write lock for them.
READ_ONLY_POSTS = {"/v1/quotes/lookup"}


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


# Where api/preconditions puts a write's session for the in-process GET it makes to check
# If-Match, so that the GET reads through the write's own transaction and lock.
SHARED_SESSION = "archive.shared_session"


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request; writes take SQLite's write lock at BEGIN. Routes commit.

    Making it does no I/O (the connection is checked out by the first statement, in the
    route's thread), so it is made here on the event loop; the routes, plain `def`s, then
    use it from the thread pool (SQLite's connections are opened with
    check_same_thread=False, archive/db.make_engine). Closing returns the connection to the
    pool after a rollback: inline on SQLite, where that is a local call of microseconds; on
    PostgreSQL, a round trip to the server, in a worker thread of its own so that a close
    never waits behind requests that are themselves waiting for a pooled connection (the
    same precaution FastAPI takes for sync generator dependencies).

    Closing never raises: when the database went away during the request, the rollback on
    close fails, and an exception at that point (the response already sent or being sent)
    would make the server drop the connection instead of delivering its 503.
    """
    shared = request.scope.get(SHARED_SESSION)
    if shared is not None:
        yield shared
        return
    engine = get_engine(request)
    read = request.method not in WRITE_METHODS or request.url.path in READ_ONLY_POSTS
    if not read:
        engine = writer(engine)
    session = Session(engine, expire_on_commit=False)
    budget = request.app.state.settings.read_budget_ms
    if read and budget and request.url.path not in UNBUDGETED:
        _budget(session, engine, budget)
    try:
        yield session
    finally:
        if is_sqlite(engine):
            _close(session)
        else:
            await anyio.to_thread.run_sync(_close, session, limiter=CapacityLimiter(1))


# Reads bounded otherwise: the export, by its client (api/routes/transfer.SessionStream)
UNBUDGETED = {"/v1/export"}


def _budget(session: Session, engine: Engine, budget_ms: int) -> None:
    """Give this read `budget_ms` of database time: on SQLite through the progress handler
    (archive/db.READ_DEADLINE, inherited by the route's worker thread), on PostgreSQL as the
    transaction's statement_timeout. A read past it is stopped: 504 (api/errors.py)."""
    READ_DEADLINE.set(time.monotonic() + budget_ms / 1000)
    if is_sqlite(engine):
        return

    @event.listens_for(session, "after_begin")
    def _timeout(_session: Session, _transaction: object, connection: Connection) -> None:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(budget_ms)}")


def _close(session: Session) -> None:
    try:
        session.close()
    except SQLAlchemyError as exc:
        log.warning("closing a session whose database went away: %s", brief(exc))
        session.invalidate()


def public_base(request: Request) -> str:
    """The service's public URL, for JSON-LD ids and `Link` headers: `ARCHIVE_BASE_URL`, else
    the address the server listens on. Never the request's Host header, which any client
    may set to anything (and which would then be published as the archive's ids)."""
    configured = request.app.state.settings.base_url
    if configured:
        return configured.rstrip("/")
    server = request.scope.get("server")
    if not server:
        return "http://localhost"
    host, port = server[0], server[1]
    if port is None:
        return f"{request.url.scheme}://{host}"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(request.url.scheme)
    return f"{request.url.scheme}://{host}" + ("" if port == default else f":{port}")


def public_url(request: Request, **query: str) -> str:
    """This request's URL under `public_base`, with `query` replacing parameters."""
    url = request.url.include_query_params(**query)
    return public_base(request) + url.path + (f"?{url.query}" if url.query else "")


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


async def get_key(request: Request, session: SessionDep) -> ApiKey | None:
    """The key in `Authorization: Bearer <key>`, None when there is none; 401 when invalid.

    Only a request that carries a key costs a database look-up (in the thread pool); the
    rest, every anonymous read, is answered on the event loop.
    """
    if not request.headers.get("authorization"):
        return None
    secret = bearer_token(request.headers)
    if secret is None:
        raise Unauthorized("Authorization: expected `Bearer <key>`")
    known = remembered_key(request, session, secret)
    key = known[0] if known else await run_in_threadpool(authenticate, request, session, secret)
    if key is None:
        raise Unauthorized("the API key is unknown or revoked")
    request.state.key_name = key.name
    return key


KeyDep = Annotated[ApiKey | None, Depends(get_key)]


def require(scope: str):  # noqa: ANN201 - a FastAPI dependency
    async def dependency(key: KeyDep) -> ApiKey:
        if key is None:
            raise Unauthorized(f"this operation needs an API key with scope {scope!r}")
        if not keys.allows(key, scope):
            raise Forbidden(f"the key {key.name!r} has scope {key.scope!r}; this needs {scope!r}")
        return key

    return dependency


async def readable(key: KeyDep, settings: SettingsDep) -> ApiKey | None:
    """Reads are public unless ARCHIVE_PUBLIC_READS=false, then any live key may read."""
    if not settings.public_reads and key is None:
        raise Unauthorized("reads need an API key on this server")
    return key


Writer = Annotated[ApiKey, Depends(require("write"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
Reader = Annotated[ApiKey | None, Depends(readable)]
