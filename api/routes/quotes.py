"""Quote lookup: where does a quotation occur, who is quoted, and which claims rest on it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from api.conditional import respond_plain
from api.deps import Reader, SessionDep
from api.errors import responses
from api.params import require_documents
from api.schemas.quotes import KIND_RULE, MIN_SCORE_RULE, QuoteLookup, QuoteLookupRead
from archive.lookup import run as lookup
from archive.lookup.run import MAX_DOCUMENTS, MAX_MATCHES, MAX_QUERY
from archive.text.alignment import DEFAULT_MIN_SCORE

router = APIRouter(prefix="/v1", tags=["quotes"])

HOW = """Every occurrence in every document, best first, with offsets into the original text,
the curated spans each one overlaps (who is quoted) and the claims resting on them. The
quotation may be retyped: straight or curly quotes and apostrophes, dashes, `...` or `…`, line
breaks, case, editorial brackets, footnote digits glued to words (`19563`), contractions
(`we are` for `we’re`), a dropped or changed word, a typo. `match` says how it was found:
`exact` (score 1), `normalized` (0.99: the same words once all that is set aside) or `fuzzy`
(at most 0.98)."""


@router.get(
    "/quotes",
    summary="Look up a quotation",
    description=HOW,
    response_model=QuoteLookupRead,
    responses=responses(304, 400, 401, 422),
)
def get_quotes(
    request: Request,
    session: SessionDep,
    _: Reader,
    # `limit` first: a request with a bad limit and no text is told about the limit first
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_MATCHES,
            description=f"At most this many matches (up to {MAX_MATCHES}: a lookup answers "
            "every occurrence, not a page)",
        ),
    ] = 20,
    *,
    text: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY,
            description="The quotation, as you have it",
            examples=["God knows what we are supposed to think"],
        ),
    ],
    documents: Annotated[
        list[str] | None,
        Query(
            max_length=MAX_DOCUMENTS,
            description="Only these documents (repeat the parameter, or separate ids by commas)",
            examples=[["secret-speech-brief"]],
        ),
    ] = None,
    kind: Annotated[Literal["primary", "secondary"] | None, Query(description=KIND_RULE)] = None,
    min_score: Annotated[float, Query(ge=0, le=1, description=MIN_SCORE_RULE)] = DEFAULT_MIN_SCORE,
) -> Response:
    ids = None
    if documents is not None:
        ids = [part.strip() for value in documents for part in value.split(",") if part.strip()]
    result = lookup.lookup(
        session, text, documents=ids, kind=kind, min_score=min_score, limit=limit
    )
    return respond_plain(request, result)


@router.post(
    "/quotes/lookup",
    summary="Look up a quotation (JSON body)",
    response_model=QuoteLookupRead,
    responses=responses(401, 422),
)
def post_lookup(
    request: Request, session: SessionDep, _: Reader, body: Annotated[QuoteLookup, Body()]
) -> Response:
    """As GET /v1/quotes, for quotations too long or awkward for a URL. It changes nothing."""
    if body.documents is not None:
        require_documents(session, body.documents, "documents")
    result = lookup.lookup(
        session,
        body.text,
        documents=body.documents,
        kind=body.kind,
        min_score=body.min_score,
        limit=body.limit,
    )
    return respond_plain(request, result)
