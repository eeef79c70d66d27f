"""Limits that keep one client from knocking the service over: body size, rate, page size;
and the refusal of URLs that carry a NUL.

All are pure ASGI middleware (no `BaseHTTPMiddleware`, which costs every request a task and
a stream) answering RFC 9457 problem+json before any route runs.

Rate limiting is a fixed window counted in each worker process's memory. The service is
stateless and may run as many workers (or containers) sharing one database, so the counts
are per worker: with N workers a client can get up to N times the limit through before it
is refused. That is deliberate — counting in the database would add a write to every read —
and it is enough to stop a runaway script; a hard global limit belongs in the reverse proxy
in front of the workers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.principal import bearer_token, token_id
from archive.pagination import MAX_LIMIT

EXEMPT_FROM_RATE_LIMIT = ("/v1/health",)
# Not lists: their `limit` is not a page size, and the route checks its own bound (a quote
# lookup answers every occurrence, up to archive.lookup.MAX_MATCHES).
OWN_LIMITS = ("/v1/quotes",)


async def _send_problem(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> None:
    response = errors.problem(status, detail, headers=headers, **extra)
    await response(scope, receive, send)


# --- request bodies -----------------------------------------------------------------------


class BodySizeLimit:
    """413 for a body over `max_bytes`: at once when Content-Length says so, otherwise
    (chunked uploads) as soon as the bytes read so far pass the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def detail(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes (ARCHIVE_MAX_BODY_BYTES)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await _send_problem(scope, receive, send, 413, self.detail())
        received = 0
        exceeded = False
        started = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    # FastAPI re-raises HTTPException from body reading, and the app's
                    # handler turns it into a problem; see also the fallbacks below.
                    raise HTTPException(413, self.detail())
            return message

        async def checked_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the body of a response we replaced
            if message["type"] == "http.response.start":
                started = True
                if exceeded and message["status"] != 413:
                    # Something swallowed the error and answered otherwise: refuse anyway.
                    replaced = True
                    return await _send_problem(scope, receive, send, 413, self.detail())
            await send(message)

        try:
            await self.app(scope, limited_receive, checked_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await _send_problem(scope, receive, send, 413, self.detail())


# --- NUL in the URL -----------------------------------------------------------------------


class RejectNul:
    """400 for a URL whose path or query holds NUL (``%00`` or a raw byte): it cannot be
    stored or searched anywhere, so it is refused before a route sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            raw = scope.get("query_string", b"") + path
            if b"%00" in raw or b"\x00" in raw:
                detail = "the URL contains a NUL character (%00)"
                return await _send_problem(scope, receive, send, 400, detail)
        await self.app(scope, receive, send)


# --- page size ----------------------------------------------------------------------------


class PageSizeLimit:
    """`?limit=` above 100 is a 422 on every list, including any that forgot to say so
    (`OWN_LIMITS` are not lists)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"] not in OWN_LIMITS
        ):
            query = scope.get("query_string", b"").decode("latin-1")
            for name, value in parse_qsl(query, keep_blank_values=True):
                if name == "limit" and value.strip().isdigit() and int(value) > MAX_LIMIT:
                    msg = f"Input should be less than or equal to {MAX_LIMIT}"
                    return await _send_problem(
                        scope,
                        receive,
                        send,
                        422,
                        f"query.limit: {msg}",
                        errors=[{"loc": ["query", "limit"], "msg": msg}],
                    )
        await self.app(scope, receive, send)


# --- rate ---------------------------------------------------------------------------------


class RateLimit:
    """Fixed-window counts per client address and per API key (see the module doc).

    Every request counts against its client address; one with `Authorization: Bearer`
    counts against that key too (by a hash of the token, so a bad token is counted as
    well). A refused request is a 429 with `Retry-After` (seconds to the next window) and
    does not count. `/v1/health` is exempt, for load balancers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_address: int,
        per_key: int,
        window_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.per_address = per_address
        self.per_key = per_key
        self.window = window_seconds
        self.clock = clock
        self.current = -1
        self.counts: dict[tuple[str, str], int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_FROM_RATE_LIMIT:
            return await self.app(scope, receive, send)
        now = self.clock()
        window = int(now // self.window)
        if window != self.current:
            self.current = window
            self.counts.clear()  # the only state: this window's counters
        client = scope.get("client")
        address = client[0] if client else "unknown"
        buckets = []
        if self.per_address:
            buckets.append((("address", address), self.per_address, f"from {address}"))
        token = bearer_token(Headers(scope=scope)) if self.per_key else None
        if token is not None:
            buckets.append((("key", token_id(token)), self.per_key, "with this API key"))
        for bucket, limit, who in buckets:
            if self.counts.get(bucket, 0) >= limit:
                retry = max(1, math.ceil((window + 1) * self.window - now))
                return await _send_problem(
                    scope,
                    receive,
                    send,
                    429,
                    f"too many requests {who}: at most {limit} per {self.window} s; "
                    f"retry in {retry} s",
                    headers={"Retry-After": str(retry)},
                )
        for bucket, _, _ in buckets:
            self.counts[bucket] = self.counts.get(bucket, 0) + 1
        await self.app(scope, receive, send)
