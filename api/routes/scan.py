"""Checking a text: every passage of it that occurs in the archive, and how faithfully."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from api.conditional import respond_plain
from api.deps import Reader, SessionDep
from api.errors import responses
from api.schemas.scan import QuoteScan, QuoteScanRead
from archive.lookup import scan

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
