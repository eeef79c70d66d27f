"""Quote spans: the passages of a text that are quoted, cited or used as evidence."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.conditional import respond
from api.deps import Reader, SessionDep, SettingsDep, Writer, public_base
from api.errors import responses
from api.negotiation import preferred
from api.routes.documents import Cursor, DocId, Limit, page_response
from api.routes.documents import present_one as present_document
from api.schemas.common import PageOf
from api.schemas.spans import FidelityRead, SpanCreate, SpanRead, SpanUpdate
from archive import documents, spans
from archive.models import Span
from archive.transfer import iso

router = APIRouter(prefix="/v1", tags=["spans"])

JSONLD = "application/ld+json"
SpanId = Annotated[
    str,
    Path(description="The span's id", examples=["fear-mikoyan-went-to-khrushchev"], max_length=64),
]
KindFilter = Annotated[
    Literal["quote", "passage", "note"] | None, Query(description="Only spans of this kind")
]
SpeakerFilter = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Part of the speaker's name, any case (`mikoyan`)",
        examples=["Mikoyan"],
    ),
]
StatusFilter = Annotated[
    Literal["exact", "moved", "fuzzy", "orphaned"] | None,
    Query(description="Only spans anchored this way (`orphaned`: lost by a text revision)"),
]

ANNOTATION_EXAMPLE = {
    "@context": "http://www.w3.org/ns/anno.jsonld",
    "id": "http://localhost:8000/v1/spans/fear-mikoyan-went-to-khrushchev",
    "type": "Annotation",
    "motivation": "identifying",
    "body": {
        "type": "TextualBody",
        "value": "Anastas Mikoyan",
        "format": "text/plain",
        "purpose": "identifying",
    },
    "target": {
        "type": "SpecificResource",
        "source": "http://localhost:8000/v1/documents/fear-backstage",
        "selector": [
            {
                "type": "TextQuoteSelector",
                "exact": "I went to Nikita Sergeyevich and one on one began telling him ... "
                "We have to report what happened, […] for the crimes that were committed.",
                "prefix": 'on changed radically. Mikoyan: "',
                "suffix": ' ..." The prospect of such a con',
            },
            {"type": "TextPositionSelector", "start": 999, "end": 1442},
        ],
    },
}


def present(span: Span, citation_ids: list[str]) -> dict[str, Any]:
    return {
        "id": span.id,
        "document_id": span.document_id,
        "start": span.start,
        "end": span.end,
        "exact": span.exact,
        "prefix": span.prefix,
        "suffix": span.suffix,
        "kind": span.kind,
        "speaker": span.speaker,
        "quoted_from": span.quoted_from,
        "note": span.note,
        "tags": span.tags,
        "citation_ids": citation_ids,
        "anchor_status": span.anchor_status,
        "revision": span.revision,
        "created_by": span.created_by,
        "created_at": iso(span.created_at),
        "updated_at": iso(span.updated_at),
    }


def present_one(session: Session, span: Span) -> dict[str, Any]:
    return present(span, spans.citation_ids_of(session, [span.id])[span.id])


def _present_page(session: Session, items: list[Span]) -> list[dict[str, Any]]:
    links = spans.citation_ids_of(session, [s.id for s in items])
    return [present(s, links[s.id]) for s in items]


def _wants_jsonld(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "jsonld"
    return preferred(request.headers.get("accept", ""), [JSONLD]) is not None


@router.post(
    "/documents/{doc_id}/spans",
    summary="Create a span",
    status_code=201,
    response_model=SpanRead,
    responses=responses(401, 403, 404, 409, 422),
)
def create_span(
    request: Request,
    session: SessionDep,
    key: Writer,
    doc_id: DocId,
    body: Annotated[SpanCreate, Body()],
) -> Response:
    """From `start` and `end`, or from `exact`: the server finds the words in the current
    text. A quote that occurs more than once is a 409 listing every occurrence as
    `candidates` (offsets, prefix, suffix) unless `prefix` or `suffix` decides; one that does
    not occur is a 422 with the closest passages as `suggestions`. Offsets outside the text,
    or that split a character, are a 422."""
    span = spans.create_span(session, doc_id, body.model_dump(exclude_unset=True), actor=key.name)
    payload = present_one(session, span)
    session.commit()
    location = public_base(request) + request.url_for("get_span", span_id=span.id).path
    return respond(request, payload, status_code=201, headers={"Location": location})


@router.get(
    "/documents/{doc_id}/spans",
    summary="List a document's spans",
    response_model=PageOf[SpanRead],
    responses=responses(304, 400, 401, 404, 422),
)
def list_document_spans(
    request: Request,
    session: SessionDep,
    _: Reader,
    doc_id: DocId,
    kind: KindFilter = None,
    speaker: SpeakerFilter = None,
    anchor_status: StatusFilter = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """In text order (start, then end)."""
    documents.get_document(session, doc_id)  # 404 for a document that does not exist
    return list_spans(request, session, _, doc_id, kind, speaker, anchor_status, limit, cursor)


@router.get(
    "/spans",
    summary="List spans across documents",
    response_model=PageOf[SpanRead],
    responses=responses(304, 400, 401, 422),
)
def list_spans(
    request: Request,
    session: SessionDep,
    _: Reader,
    document: Annotated[
        str | None,
        Query(max_length=64, description="Only this document's", examples=["fear-backstage"]),
    ] = None,
    kind: KindFilter = None,
    speaker: SpeakerFilter = None,
    anchor_status: StatusFilter = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """By document, then in text order. `?speaker=mikoyan&kind=quote` gives everything
    Mikoyan is quoted as saying."""
    page = spans.list_spans(
        session,
        document=document,
        kind=kind,
        speaker=speaker,
        anchor_status=anchor_status,
        limit=limit,
        cursor=cursor,
    )
    return page_response(request, page, _present_page(session, page.items))


@router.get(
    "/spans/{span_id}",
    summary="Get a span (JSON, or a W3C Web Annotation)",
    response_model=SpanRead,
    responses={
        200: {
            "content": {JSONLD: {"example": ANNOTATION_EXAMPLE}},
            "description": "The span; as a W3C Web Annotation with `?format=jsonld` or "
            "`Accept: application/ld+json`",
        },
        **responses(304, 401, 404, 422),
    },
)
def get_span(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
    span_id: SpanId,
    format: Annotated[
        Literal["json", "jsonld"] | None,
        Query(
            description="`jsonld`: a W3C Web Annotation (as `Accept: application/ld+json`)",
            examples=["jsonld"],
        ),
    ] = None,
) -> Response:
    """`?format=jsonld` or `Accept: application/ld+json` gives the span as a W3C Web
    Annotation (content type `application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"`)
    whose target is the document, selected by a TextQuoteSelector and a TextPositionSelector.
    """
    span = spans.get_span(session, span_id)
    payload = present_one(session, span)
    if not _wants_jsonld(request, format):
        return respond(request, payload, headers={"Vary": "Accept"})
    from archive.jsonld import ANNOTATION_PROFILE, span_annotation

    document = present_document(session, documents.get_document(session, span.document_id))
    base = public_base(request)
    annotation = span_annotation(payload, document, base)
    return respond(request, annotation, headers={"Vary": "Accept"}, media_type=ANNOTATION_PROFILE)


@router.patch(
    "/spans/{span_id}",
    summary="Change a span",
    response_model=SpanRead,
    responses=responses(401, 403, 404, 409, 412, 422),
)
def update_span(
    request: Request,
    session: SessionDep,
    key: Writer,
    span_id: SpanId,
    body: Annotated[SpanUpdate, Body()],
) -> Response:
    """Change kind, speaker, quoted_from, note, tags or citation_ids; send `start`/`end` or
    `exact` (+ `prefix`/`suffix`) to re-target it in the current text, as on create. Send
    `If-Match: <ETag>` to refuse a stale update."""
    span = spans.update_span(session, span_id, body.model_dump(exclude_unset=True), actor=key.name)
    payload = present_one(session, span)
    session.commit()
    return respond(request, payload)


@router.delete(
    "/spans/{span_id}",
    summary="Delete a span",
    status_code=204,
    responses=responses(401, 403, 404, 409, 412),
)
def delete_span(session: SessionDep, key: Writer, span_id: SpanId) -> Response:
    """Refused (409, naming them in `claims`) while the span is evidence for claims: remove
    that evidence first. Spans that quote this one lose their `quoted_from`."""
    spans.delete_span(session, span_id, actor=key.name)
    session.commit()
    return Response(status_code=204)


@router.get(
    "/spans/{span_id}/fidelity",
    summary="How faithfully a span quotes its source",
    response_model=FidelityRead,
    responses=responses(304, 401, 404, 409),
)
def get_fidelity(request: Request, session: SessionDep, _: Reader, span_id: SpanId) -> Response:
    """Compares the span with the span it is `quoted_from`, word by word after normalization:
    verdict `exact`, `normalized`, `elided` or `altered`, a score and the word diff;
    `truncated` when it stops short of its source's sentence (or starts after its beginning)
    and `punctuation` when its punctuation differs from the source's. A span
    whose `quoted_from` is not set is a 409: nothing is wrong with the request, but there is
    nothing to compare until `quoted_from` is set (PATCH it)."""
    result = spans.span_fidelity(session, span_id)
    return respond(
        request,
        {
            "span_id": result.span_id,
            "quoted_from": result.quoted_from,
            "quote": result.quote,
            "source": result.source,
            "verdict": result.verdict,
            "score": result.score,
            "diff": result.diff,
            "truncated": result.truncated,
            "punctuation": result.punctuation,
        },
    )
