"""Checking a text: every passage of it that occurs in the archive, and how faithfully."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from api.conditional import respond_plain
from api.deps import Reader, SessionDep
from api.errors import responses
from api.routes.documents import Cursor, DocId, Limit, page_response
from api.routes.spans import SpanId
from api.schemas.common import PageOf
from api.schemas.quotes import MIN_SCORE_RULE
from api.schemas.scan import DocumentQuotationsRead, QuoteScan, QuoteScanRead, QuotingPlace
from archive.lookup import lineage, scan
from archive.lookup.scan import MAX_MIN_WORDS, MIN_WORDS
from archive.pagination import DEFAULT_LIMIT
from archive.text.alignment import DEFAULT_MIN_SCORE

router = APIRouter(prefix="/v1")


@router.post(
    "/quotes/scan",
    tags=["quotes"],
    summary="Check a text: the passages of it that occur in the archive",
    response_model=QuoteScanRead,
    responses=responses(401, 422),
)
def post_scan(
    request: Request, session: SessionDep, _: Reader, body: Annotated[QuoteScan, Body()]
) -> Response:
    """Every passage of the text (an essay, a textbook chapter, a new secondary source) that
    occurs in the archive, in text order, with offsets into the text you sent: the places in
    the archive it occurs (`matches`, as a quote lookup answers them) and the closest source
    (`best`) with a fidelity verdict (`exact`, `normalized`, `elided`, `altered`) and the word
    diff. Passages that overlap or touch are one; a quotation split by an ellipsis or a
    bracket maps to one passage of its source. Copies that are retyped, slightly damaged or
    abridged are found; the writer's own sentences match nothing. It changes nothing."""
    result = scan.scan(
        session,
        body.text,
        documents=body.documents,
        kind=body.kind,
        min_score=body.min_score,
        min_words=body.min_words,
    )
    return respond_plain(request, result)


@router.get(
    "/spans/{span_id}/quoted-by",
    tags=["spans"],
    summary="Where a span's words are quoted, in publication order",
    response_model=PageOf[QuotingPlace],
    responses=responses(304, 400, 401, 404, 422),
)
def get_quoted_by(
    request: Request,
    session: SessionDep,
    _: Reader,
    span_id: SpanId,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Every place in other documents where the span's words occur, found by the passage
    index (a later text that quotes part of the span, abridges or alters it is found too),
    ordered by the quoting document's `published` date (undated last), each with its
    `fidelity` against the span: how a quotation drifted through later texts. Spans that name
    this one as `quoted_from` are included and marked `curated`."""
    page = lineage.quoted_by(session, span_id, limit=limit, cursor=cursor)
    return page_response(request, page, page.items)


@router.get(
    "/documents/{document_id}/quotations",
    tags=["documents"],
    summary="The document's passages that occur in other documents",
    response_model=DocumentQuotationsRead,
    responses=responses(304, 401, 404, 422),
)
def get_quotations(
    request: Request,
    session: SessionDep,
    _: Reader,
    document_id: DocId,
    min_score: Annotated[float, Query(ge=0, le=1, description=MIN_SCORE_RULE)] = DEFAULT_MIN_SCORE,
    min_words: Annotated[
        int, Query(ge=1, le=MAX_MIN_WORDS, description="The shortest passage reported, in words")
    ] = MIN_WORDS,
) -> Response:
    """The passages of the document's current text that occur in other documents, as a scan
    answers them: for a curator linking a new secondary source to its primaries, each
    `best` match is where to point a span's `quoted_from` (create the span with the
    passage's `start` and `end`, one request each)."""
    result = scan.quotations(session, document_id, min_score=min_score, min_words=min_words)
    return respond_plain(request, result)
