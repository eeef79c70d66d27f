"""Text revisions: replace a document's text (every span is re-anchored to the new one), list
the stored revisions, and restore an earlier one."""

from __future__ import annotations

import codecs
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from api.conditional import etag_of
from api.deps import Reader, SessionDep, Writer
from api.errors import PROBLEM, PROBLEM_SCHEMA, responses
from api.routes.documents import Cursor, DocId, Limit, page_response
from api.schemas.common import PageOf
from api.schemas.documents import RevisionInfoRead
from api.schemas.spans import RevisionRead
from archive import documents, revisions
from archive.errors import InvalidInput
from archive.transfer import iso

router = APIRouter(prefix="/v1", tags=["documents"])

EXAMPLE_TEXT = "“The things that were said…God knows what we’re supposed to think!”\n\n…"


async def raw_body(request: Request) -> bytes:
    return await request.body()


def _text_of(request: Request, body: bytes) -> Any:
    """The new text from a text/plain body (any charset Python knows; UTF-8 by default) or
    from JSON `{"text": "..."}`."""
    content_type = request.headers.get("content-type", "text/plain").lower()
    media, _, params = content_type.partition(";")
    media = media.strip()
    if media.startswith("multipart/"):
        raise HTTPException(415, 'send the text as text/plain, or JSON {"text": "..."}')
    if media == "application/json" or media.endswith("+json"):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise InvalidInput(f"body: not JSON ({exc})") from None
        except RecursionError:
            raise InvalidInput("body: not JSON this service reads: nested too deeply") from None
        if not isinstance(data, dict) or set(data) != {"text"}:
            raise InvalidInput('body: expected a JSON object {"text": "..."} and nothing else')
        return data["text"]
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip() == "charset" and value.strip():
            charset = value.strip().strip('"')
    try:
        codecs.lookup(charset)
    except LookupError:
        raise HTTPException(415, f"charset {charset!r} is unknown; send UTF-8") from None
    try:
        return body.decode(charset)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"body: not {charset} text ({exc.reason} at byte {exc.start})") from None


def _text_etag(sha256: str) -> str:
    """The ETag GET /v1/documents/{id}/text gives for the whole text."""
    return etag_of({"sha256": sha256, "start": None, "end": None})


@router.put(
    "/documents/{doc_id}/text",
    summary="Replace a document's text (a new revision)",
    response_model=RevisionRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/plain": {"schema": {"type": "string"}, "example": EXAMPLE_TEXT},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["text"],
                        "properties": {"text": {"type": "string", "minLength": 1}},
                        "additionalProperties": False,
                    },
                    "example": {"text": EXAMPLE_TEXT},
                },
            },
        }
    },
    responses={
        **responses(401, 403, 404, 412, 422),
        415: {
            "description": "A body that is not text (multipart) or in an unknown charset",
            "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}},
        },
    },
)
def replace_text(
    request: Request,
    session: SessionDep,
    key: Writer,
    doc_id: DocId,
    body: Annotated[bytes, Depends(raw_body)],
) -> Response:
    """Stores the body as the next revision of the text (`text/plain; charset=utf-8`, or
    JSON `{"text": ...}`) and finds every span again: by position and quote (`exact`), by
    quote alone (`moved`), approximately (`fuzzy`); a span that cannot be found is kept and
    marked `orphaned`, never dropped. Answers the new revision and how many spans fared how.
    The text sent being the current one changes nothing. `If-Match` takes the ETag of the
    document or of its text."""
    documents.get_document(session, doc_id)  # 404 before the body is read
    text = _text_of(request, body)
    result = revisions.replace_text(session, doc_id, text, actor=key.name)
    session.commit()
    return _revision_response(result, text)


def _revision_response(result: revisions.Revision, text: str) -> Response:
    payload = {
        "document_id": result.document_id,
        "revision": result.revision,
        "changed": result.changed,
        "anchoring": result.anchoring,
    }
    return JSONResponse(
        payload,
        headers={
            "ETag": _text_etag(documents.sha256(text)),  # the text stored is the text sent
            "X-Text-Revision": str(result.revision),
        },
    )


RevisionNumber = Annotated[
    int, Path(ge=1, le=2**31 - 1, description="A revision of the text", examples=[1])
]


@router.get(
    "/documents/{doc_id}/revisions",
    summary="List the revisions of a document's text",
    response_model=PageOf[RevisionInfoRead],
    responses=responses(304, 400, 401, 404, 422),
)
def list_revisions(
    request: Request,
    session: SessionDep,
    _: Reader,
    doc_id: DocId,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Every stored revision of the text, newest first: its number, length, SHA-256, when
    and by which key it was stored. `GET /v1/documents/{id}/text?revision=N` gives its text;
    `POST /v1/documents/{id}/revisions/{n}/restore` makes it current again."""
    page = revisions.list_revisions(session, doc_id, limit=limit, cursor=cursor)
    items = [
        {
            "revision": r.revision,
            "length": r.length,
            "text_sha256": r.text_sha256,
            "created_at": iso(r.created_at),
            "created_by": r.created_by,
        }
        for r in page.items
    ]
    return page_response(request, page, items)


@router.post(
    "/documents/{doc_id}/revisions/{revision}/restore",
    summary="Restore an earlier revision of a document's text",
    response_model=RevisionRead,
    responses=responses(401, 403, 404, 409, 422),
)
def restore_revision(
    session: SessionDep, key: Writer, doc_id: DocId, revision: RevisionNumber
) -> Response:
    """Stores revision `revision`'s text as a new revision (earlier revisions are never
    changed) and finds every span again, as `PUT .../text` does: spans that a mistaken text
    orphaned are anchored again. Answers like `PUT .../text`; restoring the text that is
    already current changes nothing (`changed: false`). Takes no body."""
    result = revisions.restore(session, doc_id, revision, actor=key.name)
    session.commit()
    text = revisions.revision_text(session, doc_id, result.revision).text
    return _revision_response(result, text)
