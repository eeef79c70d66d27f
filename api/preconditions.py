"""Conditional requests on every route, including routes that do nothing about them.

- `ETagMiddleware`: a GET answered 200 without an ETag gets one (a hash of the body bytes),
  and `If-None-Match` then gives 304. Routes that use `api.conditional.respond` already do
  both; this covers the others. Streamed bodies (no Content-Length) are left alone.
- `guard_writes` (app-wide): a PATCH, PUT or DELETE with `If-Match` is refused with
  412 — before the route runs, so nothing changes — unless the tag is the current ETag of
  the resource, i.e. of what a GET of the same path answers right now, or of a resource it
  belongs to (a GET of an enclosing path: the document's ETag for its /text; a claim's
  passes here for its evidence, but the evidence routes insist on the evidence's own). This
  is the only If-Match check the other routes have. The GET is made in-process through the
  router, on the write's own session and after the write has taken its lock (SQLite's
  write lock; on PostgreSQL an advisory lock per resource that every PATCH/PUT/DELETE of
  that resource takes), so no other write can slip in between the check and the change.
  On PostgreSQL creates (POST) are serialized too, as SQLite serializes every write: routes
  choose free ids (slugs) from what is committed, and concurrent creates would collide.
  On SQLite, writes queue first come first served in the process (see `guard_writes`).
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

from fastapi import Request
from sqlalchemy import text
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.conditional import body_etag, check_entity_tags, if_match, none_match
from api.deps import READ_ONLY_POSTS, SHARED_SESSION, SessionDep
from api.principal import key_of
from archive import keys
from archive.changes import LOCK_NAMESPACE
from archive.db import is_sqlite
from archive.errors import PreconditionFailed, Unavailable

CONDITIONAL_WRITES = ("PATCH", "PUT", "DELETE")
WRITES = ("POST", *CONDITIONAL_WRITES)
RESOURCE_LOCK_NAMESPACE = LOCK_NAMESPACE + 1
CREATE_LOCK = 0  # in RESOURCE_LOCK_NAMESPACE; resource keys are hashes, 0 is as good as any
# Not a resource: liveness must never be a 304. (The export is left alone as a stream.)
NO_ETAG_PATHS = ("/v1/health",)


# --- ETags for GET responses that lack one ------------------------------------------------


class ETagMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"  # a HEAD has no body to hash
            or not scope["path"].startswith("/v1/")
            or scope["path"] in NO_ETAG_PATHS
        ):
            return await self.app(scope, receive, send)
        condition = Headers(scope=scope).get("if-none-match")
        start: Message | None = None
        chunks: list[bytes] = []

        async def add_etag(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                if message["status"] != 200 or "etag" in headers or "content-length" not in headers:
                    start = None
                    return await send(message)
                start = message
                return None
            if start is None:
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return None
            body = b"".join(chunks)
            etag = body_etag(body)
            if condition and none_match(condition, etag):
                kept = [
                    (k, v)
                    for k, v in start["headers"]
                    if k not in (b"content-length", b"content-type")
                ]
                await send(
                    {
                        "type": "http.response.start",
                        "status": 304,
                        "headers": [*kept, (b"etag", etag.encode())],
                    }
                )
                return await send({"type": "http.response.body", "body": b""})
            await send({**start, "headers": [*start["headers"], (b"etag", etag.encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, add_etag)


# --- If-Match on every PATCH, PUT and DELETE ----------------------------------------------


def guard_paths(request: Request, path: str) -> list[str]:
    """Paths whose GET represents what this write changes: the path itself if it has a GET
    route, then each enclosing path (down to /v1/<collection>/<id>) that has one."""
    segments = path.rstrip("/").split("/")
    found = []
    for n in range(len(segments), 3, -1):
        candidate = "/".join(segments[:n])
        probe = {"type": "http", "path": candidate, "root_path": "", "method": "GET"}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            found.append(candidate)
    return found


def _lock_key(path: str) -> int:
    """A 32-bit signed key for /v1/<collection>/<id>, shared by all writes under it."""
    top = "/".join(path.split("/")[:4])
    return struct.unpack(">i", hashlib.sha256(top.encode()).digest()[:4])[0]


def _hold(session: Session, key: int) -> None:
    """Begin the write's transaction now (SQLite: BEGIN IMMEDIATE, the write lock) and, on
    PostgreSQL, take the advisory lock `key` until commit: `CREATE_LOCK` for creates (routes
    pick free ids, slugs of titles, "-2", "-3" …, from what is committed, so two concurrent
    creates would pick the same one), `_lock_key(path)` for a resource's writes."""
    connection = session.connection()
    if not is_sqlite(connection.engine):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :key)"),
            {"ns": RESOURCE_LOCK_NAMESPACE, "key": key},
        )


async def current_etag(request: Request, path: str, session: Session) -> str | None:
    """The ETag a GET of `path` answers now, or None when that GET is not a 200."""
    status, headers, body = await current_get(request, path, session)
    if status != 200:
        return None
    return headers.get("etag") or body_etag(body)


async def current_get(
    request: Request, path: str, session: Session
) -> tuple[int, dict[str, str], bytes]:
    """What a GET of `path` answers now (status, headers, body), made in-process through
    the router on `session`."""
    scope: dict[str, Any] = {
        key: value
        for key, value in request.scope.items()
        if key in ("asgi", "http_version", "scheme", "server", "client", "root_path", "app")
    }
    scope.update(
        type="http",
        method="GET",
        path=path,
        raw_path=path.encode(),
        query_string=b"",
        headers=[(k, v) for k, v in request.scope["headers"] if k in (b"authorization", b"host")],
        state={},
    )
    for key in ("starlette.exception_handlers", "router"):
        if key in request.scope:
            scope[key] = request.scope[key]
    scope[SHARED_SESSION] = session
    status = 0
    headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def capture(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update(Headers(raw=message["headers"]).items())
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    async with AsyncExitStack() as stack:
        scope["fastapi_middleware_astack"] = stack
        await request.app.router(scope, receive, capture)
    return status, headers, b"".join(chunks)


async def guard_writes(request: Request, session: SessionDep) -> AsyncIterator[None]:
    """Locks for every authenticated write, then the If-Match check for PATCH/PUT/DELETE.

    On SQLite, write requests also queue in this process, first come first served, before
    SQLite's own write lock: its busy handler lets newcomers overtake writers that have
    been waiting (they poll it ever more slowly), and under load some waited seconds."""
    if request.method not in WRITES or request.url.path in READ_ONLY_POSTS:
        yield  # a read-only POST (a lookup) takes no lock: it waits for no write
        return
    if request.method in CONDITIONAL_WRITES:
        check_entity_tags("If-Match", request.headers.get("if-match"))
    # The whole body first: a client sending it slowly must not hold the lock meanwhile.
    await request.body()
    # Queue before the first statement: that statement takes SQLite's write lock.
    queue: asyncio.Lock | None = getattr(request.app.state, "sqlite_writers", None)
    if queue is not None:
        await _enqueue(request, queue)
    try:
        key = await run_in_threadpool(key_of, request, session)
        if key is not None and keys.allows(key, "write"):
            await _check(request, session)
        # else: the route answers 401/403 as it does without any header
        yield
    finally:
        if queue is not None:
            queue.release()


async def _enqueue(request: Request, queue: asyncio.Lock) -> None:
    """Wait for this process's earlier writes, at most SQLite's busy timeout (then 503)."""
    timeout = request.app.state.settings.sqlite_busy_timeout_ms / 1000
    try:
        await asyncio.wait_for(queue.acquire(), timeout)
    except TimeoutError:
        raise Unavailable(
            f"the archive is busy with other writes (waited {timeout:g} s); try again shortly"
        ) from None


async def _check(request: Request, session: Session) -> None:
    path = request.url.path
    if request.method == "POST":
        await run_in_threadpool(_hold, session, CREATE_LOCK)
        return
    await run_in_threadpool(_hold, session, _lock_key(path))
    header = request.headers.get("if-match")
    if not header:
        return
    nearest: tuple[str, str] | None = None
    for guard in guard_paths(request, path):
        etag = await current_etag(request, guard, session)
        if etag is None:
            continue
        if if_match(header, etag):
            return
        nearest = nearest or (guard, etag)
    if nearest is None:
        return  # no current representation: the route answers (404) as it would anyway
    guard, etag = nearest
    where = "" if guard == path else f" (the ETag of {guard})"
    raise PreconditionFailed(
        f"If-Match: the resource has changed; its current ETag{where} is {etag}. "
        "Fetch it again and retry; nothing was changed"
    )
