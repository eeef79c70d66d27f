"""Whole archive: export everything as NDJSON, import it in one transaction."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Generator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Send

from api.deps import Admin, Reader, SessionDep
from api.errors import responses
from api.schemas.claims import ImportResult
from archive import transfer
from archive.db import is_sqlite
from archive.errors import InvalidInput

router = APIRouter(prefix="/v1", tags=["archive"])
log = logging.getLogger("archive.api")

NDJSON = "application/x-ndjson"
EXPORT_EXAMPLE = (
    '{"type":"document","id":"fear-backstage","title":"Fear Backstage Before Khrushchev\'s '
    'Secret Speech","kind":"secondary",…,"text":"…"}\n'
    '{"type":"claim","id":"speech-date-25-february","statement":"The speech was delivered on '
    '25 February 1956.",…}\n'
)


def _snapshot_lines(engine: Engine) -> Generator[str, None, None]:
    """Export from a session of its own, opened when the response starts and closed when it
    ends (a request's session may be gone by then), reading one consistent snapshot: a
    write committed meanwhile appears entirely or not at all."""
    with Session(engine) as session:
        if not is_sqlite(engine):
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield from transfer.export_lines(session)


# A send that waits longer than this for the client to take the bytes ends the export: a
# client that stopped reading must not keep a database connection for ever.
SEND_STALL_SECONDS = 30.0
BATCH_BYTES = 64 * 1024  # lines per thread hop, about


class SessionStream(StreamingResponse):
    """A streamed answer read from a generator that holds a database session.

    The generator is advanced in worker threads, a batch of lines at a time, and closed (its
    session with it, giving its connection back) as soon as the stream ends for any reason:
    sent, the client gone (ASGI's disconnect cancels the stream), or a send stalled for
    `SEND_STALL_SECONDS`. Left to itself, a cancelled generator would keep its connection
    until the garbage collector happened to run."""

    def __init__(self, lines: Generator[str, None, None], **kwargs: Any) -> None:
        self._lines = lines
        super().__init__(self._batches(), **kwargs)

    def _next_batch(self) -> str | None:
        batch: list[str] = []
        size = 0
        for line in self._lines:
            batch.append(line)
            size += len(line)
            if size >= BATCH_BYTES:
                break
        return "".join(batch) if batch else None

    async def _batches(self) -> AsyncIterator[str]:
        while (batch := await anyio.to_thread.run_sync(self._next_batch)) is not None:
            yield batch

    async def stream_response(self, send: Send) -> None:
        stall = SEND_STALL_SECONDS

        async def bounded(message: Message) -> None:
            with anyio.fail_after(stall):
                await send(message)

        try:
            await super().stream_response(bounded)
        except TimeoutError:
            log.warning("export: the client took nothing for %g s; the stream is closed", stall)
        finally:
            # (a thread still advancing the generator finishes first: to_thread waits for it)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._lines.close)


@router.get(
    "/export",
    summary="Export the whole archive as NDJSON",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {NDJSON: {"example": EXPORT_EXAMPLE}},
            "description": "One JSON object per line, each with a `type`: documents (with "
            "their text), then citations, spans, claims, evidence",
        },
        **responses(401),
    },
)
def export(request: Request, _: Reader) -> StreamingResponse:
    """Streams every record; `POST /v1/import` (or `archive import`) into an empty archive
    takes it back, and exporting that gives the same bytes."""
    return SessionStream(
        _snapshot_lines(request.app.state.engine),
        media_type=NDJSON,
        headers={"Content-Disposition": 'attachment; filename="archive.ndjson"'},
    )


def _lines(body: bytes) -> list[str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise InvalidInput(f"line {line}: not UTF-8 (byte {exc.start} of the body)") from None
    return transfer.split_lines(text.removeprefix("\ufeff"))


@router.post(
    "/import",
    summary="Import NDJSON in one transaction (admin key)",
    response_model=ImportResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {NDJSON: {"schema": {"type": "string"}, "example": EXPORT_EXAMPLE}},
        }
    },
    responses=responses(401, 403, 413, 422),
)
async def import_archive(request: Request, session: SessionDep, key: Admin) -> Response:
    """Takes what `GET /v1/export` gives (a line without `type` is a document). Every line is
    checked before anything is written: a malformed line is a 422 naming its number, and then
    nothing lands. Ids already in the archive are refused the same way."""
    lines = _lines(await request.body())  # a body over ARCHIVE_MAX_BODY_BYTES: 413 (api.limits)
    counts = await run_in_threadpool(_import, session, lines, key.name)
    return JSONResponse({"imported": counts, "lines": transfer.count_lines(lines)})


def _import(session: Session, lines: list[str], actor: str) -> dict[str, int]:
    try:
        report = transfer.import_lines(session, lines, actor=actor)
        session.flush()
    except (DataError, IntegrityError) as exc:
        # A value the line checks let through but the database cannot hold (a label longer
        # than its column on PostgreSQL, say): the user's data, so a 422, and nothing lands.
        session.rollback()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise InvalidInput(
            f"the database refused the import ({reason}); nothing was imported"
        ) from None
    session.commit()
    return report.counts
