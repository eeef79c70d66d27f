"""Documents: list, read, create, change metadata, delete, and their texts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.conditional import etag_of, not_modified, respond
from api.deps import Reader, SessionDep, Writer, public_base, public_url
from api.errors import responses
from api.params import Cursor, tie_cursor
from api.schemas import DocumentCreate, DocumentRead, DocumentUpdate, PageOf
from archive import documents, revisions
from archive.models import Document
from archive.pagination import MAX_LIMIT, Page
from archive.transfer import iso

router = APIRouter(prefix="/v1", tags=["documents"])

DocId = Annotated[
    str, Path(description="The document's id", examples=["figes-secret-speech"], max_length=64)
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (at most 100)")]
Offset = Annotated[int | None, Query(le=2**31 - 1, ge=-(2**31))]


def present(doc: Document, counts: documents.Counts) -> dict[str, Any]:
    return {
        "id": doc.id,
        "title": doc.title,
        "kind": doc.kind,
        "creators": doc.creators,
        "published": doc.published,
        "publisher": doc.publisher,
        "source_url": doc.source_url,
        "language": doc.language,
        "rights": doc.rights,
        "description": doc.description,
        "length": doc.length,
        "text_sha256": doc.text_sha256,
        "revision": doc.revision,
        "created_at": iso(doc.created_at),
        "updated_at": iso(doc.updated_at),
        "counts": {
            "spans": counts.spans,
            "citations": counts.citations,
            "claims": counts.claims,
        },
    }


def present_one(session: Session, doc: Document) -> dict[str, Any]:
    return present(doc, documents.counts(session, [doc.id])[doc.id])


def page_response(request: Request, page: Page[Any], items: list[Any]) -> Response:
    """A list body with a `Link: rel="next"` header when there is a next page."""
    headers = {}
    next_cursor = tie_cursor(request, page.next_cursor)  # see api/params.py
    if next_cursor:
        headers["Link"] = f'<{public_url(request, cursor=next_cursor)}>; rel="next"'
    body = {"items": items, "total": page.total, "next_cursor": next_cursor, **page.extra}
    return respond(request, body, headers=headers)


@router.get(
    "/documents",
    summary="List documents",
    response_model=PageOf[DocumentRead],
    responses=responses(304, 400, 401, 422),
)
def list_documents(
    request: Request,
    session: SessionDep,
    _: Reader,
    kind: Annotated[str | None, Query(pattern="^(primary|secondary)$")] = None,
    creator: Annotated[
        str | None, Query(max_length=200, description="Part of a creator's name")
    ] = None,
    published_from: Annotated[
        str | None, Query(max_length=10, description="YYYY, YYYY-MM or YYYY-MM-DD")
    ] = None,
    published_to: Annotated[str | None, Query(max_length=10, examples=["1999"])] = None,
    q: Annotated[
        str | None, Query(max_length=500, description="Words that must all be in the title")
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Documents in id order. A document with a partial date (`1956`) matches every range
    it overlaps."""
    page = documents.list_documents(
        session,
        kind=kind,
        creator=creator,
        published_from=published_from,
        published_to=published_to,
        q=q,
        limit=limit,
        cursor=cursor,
    )
    counts = documents.counts(session, [d.id for d in page.items])
    return page_response(request, page, [present(d, counts[d.id]) for d in page.items])


@router.post(
    "/documents",
    summary="Create a document",
    status_code=201,
    response_model=DocumentRead,
    responses=responses(401, 403, 409, 422),
)
def create_document(
    request: Request, session: SessionDep, key: Writer, body: Annotated[DocumentCreate, Body()]
) -> Response:
    """Store a new document; its id is yours to choose (a slug) or made from the title."""
    doc = documents.create_document(session, body.model_dump(exclude_unset=True), actor=key.name)
    payload = present_one(session, doc)
    session.commit()
    location = public_base(request) + request.url_for("get_document", doc_id=doc.id).path
    return respond(request, payload, status_code=201, headers={"Location": location})


@router.get(
    "/documents/{doc_id}",
    summary="Get a document",
    response_model=DocumentRead,
    responses=responses(304, 401, 404),
)
def get_document(request: Request, session: SessionDep, _: Reader, doc_id: DocId) -> Response:
    """One document's metadata and counts; the text is at /text."""
    return respond(request, present_one(session, documents.get_document(session, doc_id)))


@router.patch(
    "/documents/{doc_id}",
    summary="Change a document's metadata",
    response_model=DocumentRead,
    responses=responses(401, 403, 404, 412, 422),
)
def update_document(
    request: Request,
    session: SessionDep,
    key: Writer,
    doc_id: DocId,
    body: Annotated[DocumentUpdate, Body()],
) -> Response:
    """Metadata only, never the text. Send `If-Match: <ETag>` to refuse a stale update."""
    doc = documents.update_document(
        session, doc_id, body.model_dump(exclude_unset=True), actor=key.name
    )
    payload = present_one(session, doc)
    session.commit()
    return respond(request, payload)


@router.delete(
    "/documents/{doc_id}",
    summary="Delete a document",
    status_code=204,
    responses=responses(401, 403, 404, 409, 412),
)
def delete_document(
    session: SessionDep,
    key: Writer,
    doc_id: DocId,
    cascade: Annotated[
        bool, Query(description="Also delete evidence that rests on this document's spans")
    ] = False,
) -> Response:
    """Deletes the document, its texts, spans and citations. Refused (409) while its spans
    are evidence for claims, unless `cascade=true`."""
    documents.delete_document(session, doc_id, cascade=cascade, actor=key.name)
    session.commit()
    return Response(status_code=204)


@router.get(
    "/documents/{doc_id}/text",
    summary="Get a document's text",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"example": "The Secret Speech"}},
            "description": "The text (or the slice asked for), exactly as stored",
        },
        **responses(304, 400, 401, 404),
    },
)
def get_text(
    request: Request,
    session: SessionDep,
    _: Reader,
    doc_id: DocId,
    start: Annotated[Offset, Query(description="First code point (inclusive)")] = None,
    end: Annotated[Offset, Query(description="Last code point (exclusive)", examples=[17])] = None,
    revision: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**31 - 1,
            description="An earlier revision's text (default: the current one); "
            "`/revisions` lists them",
            examples=[1],
        ),
    ] = None,
) -> Response:
    """`text/plain; charset=utf-8`, byte for byte as stored. Offsets count Unicode code
    points, as spans do. `X-Text-Revision` says which revision it is."""
    doc = documents.get_document(session, doc_id)
    if revision is None:
        full, digest, number = documents.get_text(session, doc), doc.text_sha256, doc.revision
    else:
        stored = revisions.revision_text(session, doc_id, revision)
        full, digest, number = stored.text, stored.sha256, stored.revision
    text = documents.slice_text(full, start, end)
    etag = etag_of({"sha256": digest, "start": start, "end": end})
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(
        text.encode("utf-8"),
        media_type="text/plain; charset=utf-8",
        headers={"ETag": etag, "X-Text-Revision": str(number)},
    )
