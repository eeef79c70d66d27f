"""`Idempotency-Key` on every POST: a retried create returns the first result, not a duplicate.

Two halves, both generic, so every POST route gets them without doing anything:

- `IdempotencyMiddleware` (ASGI) notices the header, leaves a context in the request scope,
  and holds the route's successful response until it has been stored;
- `idempotency` (an app-wide dependency, so it shares the route's own session) looks the
  key up: a finished record is replayed (same status, body, Location and ETag, plus
  `Idempotent-Replayed: true`); a record made by a different request is a 422; otherwise it
  inserts a *pending* record in the route's transaction, so the record and whatever the
  route creates commit together. A concurrent retry waits on that row (PostgreSQL's unique
  index, SQLite's write lock) and then replays the first response: it never creates a second
  resource.

Keys are scoped per API key (principal). POSTs without a valid key (public lookups) ignore
the header: they change nothing, so repeating them is harmless anyway.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import SessionDep, public_base
from api.principal import key_of
from archive import idempotency
from archive.errors import Conflict, InvalidInput, brief
from archive.models import Citation, Claim, Document, Evidence, IdempotencyRecord, Span

log = logging.getLogger("archive.api")

HEADER = b"idempotency-key"
SCOPE_KEY = "archive.idempotency"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
WAIT_FOR_FIRST_SECONDS = 5.0  # how long a retry waits for a concurrent first request
LOST_AFTER_SECONDS = 60  # a pending record this old lost its response (a crashed worker)


@dataclass
class Context:
    """What the middleware and the dependency share about one request."""

    key: str
    principal: str | None = None
    session: Session | None = None
    pending: bool = False  # a pending record was inserted for this request


class IdempotentReplay(Exception):  # noqa: N818 - not an error: a response to send again
    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.record = record


class LostResponse(Exception):  # noqa: N818 - a signal from the thread to the event loop
    """The first request committed its create, but its response was never stored."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


# The resource a POST to a collection creates, by the collection's name (the last segment)
CREATED_BY_COLLECTION = {
    "documents": (Document, lambda o: f"/v1/documents/{o.id}"),
    "spans": (Span, lambda o: f"/v1/spans/{o.id}"),
    "citations": (Citation, lambda o: f"/v1/citations/{o.id}"),
    "claims": (Claim, lambda o: f"/v1/claims/{o.id}"),
    "evidence": (Evidence, lambda o: f"/v1/claims/{o.claim_id}/evidence/{o.id}"),
}


def _note_what_is_created(request: Request, session: Session, context: Context) -> None:
    """Write the created resource's path into the pending record, in the route's own
    transaction (just before it commits), so that the record says what the request did
    even if its response is lost."""
    kind = CREATED_BY_COLLECTION.get(request.url.path.rstrip("/").rsplit("/", 1)[-1])
    if kind is None:
        return
    model, location = kind
    created: list[str] = []

    @event.listens_for(session, "after_flush")
    def _collect(flushed: Session, _context: object) -> None:
        created.extend(location(obj) for obj in flushed.new if isinstance(obj, model))

    @event.listens_for(session, "before_commit")
    def _note(committing: Session) -> None:
        if created and context.pending and context.principal:
            idempotency.note_created(committing, context.principal, context.key, created[0])
            created.clear()


async def replay_handler(request: Request, exc: IdempotentReplay) -> Response:
    record = exc.record
    headers = {**idempotency.stored_headers(record), "Idempotent-Replayed": "true"}
    media_type = headers.pop("content-type", None)
    return Response(
        idempotency.stored_body(record),
        status_code=record.status_code,
        headers=headers,
        media_type=media_type,
    )


def parse_key(raw: str) -> str:
    """A key as a bare token or an RFC 8941 string (`"…"`), 1–255 visible ASCII characters."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _VALID_KEY.match(value):
        raise InvalidInput(
            "Idempotency-Key: must be 1 to 255 visible ASCII characters, e.g. a UUID"
        )
    return value


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        raw = next((v for k, v in scope["headers"] if k == HEADER), None)
        if raw is None:
            return await self.app(scope, receive, send)
        context = Context(key=raw.decode("latin-1"))
        scope[SCOPE_KEY] = context
        held: list[Message] = []

        async def hold_until_stored(message: Message) -> None:
            if not context.pending:
                return await send(message)
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                start = held[0]
                body = b"".join(m.get("body", b"") for m in held[1:])
                await run_in_threadpool(_finish, context, start, body)
                for m in held:
                    await send(m)

        await self.app(scope, receive, hold_until_stored)


def _finish(context: Context, start: Message, body: bytes) -> None:
    """Store a success (committing the pending record if the route did not); forget a
    failure so that the retry runs again."""
    session, principal = context.session, context.principal
    context.pending = False
    if session is None or principal is None:
        return
    status = int(start["status"])
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
    try:
        if 200 <= status < 300:
            idempotency.complete(session, principal, context.key, status, headers, body)
        else:
            session.rollback()
            idempotency.forget(session, principal, context.key)
        session.commit()
    except SQLAlchemyError as exc:
        # The create itself committed; only its record is incomplete. A retry is told so
        # (409) rather than creating the resource again.
        log.error("could not store the response for an Idempotency-Key: %s", brief(exc))
        session.rollback()


async def idempotency_dependency(request: Request, session: SessionDep) -> None:
    """Cheap for every request without the header (no thread hop, no query)."""
    context: Context | None = request.scope.get(SCOPE_KEY)
    if context is None:
        return
    body = await request.body()
    fingerprint = idempotency.fingerprint(request.method, request.url.path, request.url.query, body)
    try:
        await run_in_threadpool(_look_up, request, session, context, fingerprint)
    except LostResponse as lost:
        raise IdempotentReplay(await _replayed_from(request, session, lost.location)) from None
    if context.pending:
        _note_what_is_created(request, session, context)


async def _replayed_from(request: Request, session: Session, location: str) -> IdempotencyRecord:
    """The answer to a retry whose first response was lost: 201, the resource as it is now
    (a GET of it), its Location and ETag."""
    from api.preconditions import current_get  # (preconditions imports this module's deps)

    status, headers, body = await current_get(request, location, session)
    if status != 200:
        raise Conflict(
            "the first request with this Idempotency-Key was carried out, but its response "
            f"was lost and what it created ({location}) is gone; nothing was done now"
        )
    kept = {k: v for k, v in headers.items() if k in ("content-type", "etag")}
    return IdempotencyRecord(
        principal="",
        key="",
        method="POST",
        path=request.url.path,
        request_hash="",
        status_code=201,
        headers={**kept, "location": public_base(request) + location},
        body=body.decode("utf-8"),
    )


def _look_up(request: Request, session: Session, context: Context, fingerprint: str) -> None:
    context.key = parse_key(context.key)
    key = key_of(request, session)
    if key is None:
        return  # anonymous: nothing to scope the key to; the route decides about auth
    settings = request.app.state.settings
    # Plain strings from here on: after a rollback the session's objects are expired, and
    # touching one would begin a new transaction (on SQLite: take the write lock again).
    principal = context.principal = key.name
    context.session = session
    record = idempotency.find(session, principal, context.key)
    if record is not None and idempotency.expired(record, settings.idempotency_ttl_seconds):
        record = None
    if record is None:
        try:
            idempotency.begin(
                session,
                principal,
                context.key,
                method=request.method,
                path=request.url.path,
                request_hash=fingerprint,
                ttl_seconds=settings.idempotency_ttl_seconds,
            )
            context.pending = True
            return
        except IntegrityError:
            session.rollback()  # another request with this key got there first
            record = _wait_for_first(request, principal, context.key)
    elif record.status_code == idempotency.PENDING:
        session.rollback()  # let the first request store its response (SQLite's lock)
        record = _wait_for_first(request, principal, context.key)
    _answer_from(record, fingerprint)


def _wait_for_first(request: Request, principal: str, key: str) -> IdempotencyRecord | None:
    """Poll for the first request's stored response. Reads go through a plain (not write)
    session of their own: on SQLite, polling with the write session would take the write
    lock that the first request needs to store its response."""
    deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
    while True:
        with Session(request.app.state.engine, expire_on_commit=False) as reader:
            record = idempotency.find(reader, principal, key)
        if record is None or record.status_code != idempotency.PENDING:
            return record
        if time.monotonic() > deadline:
            return record
        time.sleep(0.05)


def _answer_from(record: IdempotencyRecord | None, fingerprint: str) -> None:
    if record is None:
        raise Conflict(
            "a request with this Idempotency-Key failed while this one waited for it; "
            "retry with the same key"
        )
    if record.request_hash != fingerprint:
        raise InvalidInput(
            f"Idempotency-Key: {record.key!r} was already used for a different request "
            f"({record.method} {record.path} with another body); use a new key for a new "
            "request"
        )
    if record.status_code == idempotency.PENDING:
        location = idempotency.created_location(record)
        if location is not None:  # committed with what it created: answer from that
            raise LostResponse(location)
        if idempotency.expired(record, LOST_AFTER_SECONDS):
            raise Conflict(
                "the first request with this Idempotency-Key was carried out, but its "
                "response was lost; look the resource up instead of retrying"
            )
        raise Conflict(
            "a request with this Idempotency-Key is still being processed; retry shortly"
        )
    raise IdempotentReplay(record)
