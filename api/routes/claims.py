"""Claims: statements about the past, the evidence for and against them, and their provenance."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.conditional import check_if_match, respond
from api.deps import Reader, SessionDep, SettingsDep, Writer, public_base
from api.errors import responses
from api.routes.citations import (
    BIBTEX_EXAMPLE,
    TROMLY,
    Style,
    format_responses,
    formatted_response,
    negotiate,
)
from api.routes.documents import Cursor, Limit, page_response
from api.schemas.claims import (
    ClaimCreate,
    ClaimRead,
    ClaimUpdate,
    EvidenceCreate,
    EvidenceRead,
    EvidenceUpdate,
    ProvenanceRead,
)
from api.schemas.common import PageOf
from archive import citations, claims, provenance
from archive.transfer import iso

router = APIRouter(prefix="/v1", tags=["claims"])

ClaimId = Annotated[
    str, Path(description="The claim's id", examples=["speech-date-25-february"], max_length=64)
]
EvidenceId = Annotated[
    str,
    Path(
        description="The evidence's id",
        examples=["speech-date-25-february--siegelbaum"],
        max_length=64,
    ),
]

JSONLD_EXAMPLE = {
    "@context": {"prov": "http://www.w3.org/ns/prov#"},
    "@id": "http://localhost:8000/v1/claims/speech-date-25-february",
    "prov:wasDerivedFrom": [{"@id": "http://localhost:8000/v1/spans/siegelbaum-february-24"}],
}


def present_evidence(view: claims.EvidenceView) -> dict[str, Any]:
    ev = view.evidence
    return {
        "id": ev.id,
        "claim_id": ev.claim_id,
        "span_id": ev.span_id,
        "document_id": view.document_id,
        "stance": ev.stance,
        "note": ev.note,
        "recorded_by": ev.recorded_by,
        "recorded_at": iso(ev.recorded_at),
    }


def present_claim(session: Session, claim_id: str) -> dict[str, Any]:
    return provenance.present_claim(claims.get_claim(session, claim_id))


@router.get(
    "/claims",
    summary="List claims",
    response_model=PageOf[ClaimRead],
    responses=responses(304, 400, 401, 422),
)
def list_claims(
    request: Request,
    session: SessionDep,
    _: Reader,
    status: Annotated[
        Literal["corroborated", "single-source", "contested", "unsupported"] | None,
        Query(description="Only claims with this (derived) status", examples=["contested"]),
    ] = None,
    document: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only claims with evidence in this document",
            examples=["siegelbaum-secret-speech"],
        ),
    ] = None,
    tag: Annotated[
        str | None, Query(max_length=64, description="Only claims with this tag", examples=["date"])
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Words that must all be in the statement",
            examples=["Hungarian"],
        ),
    ] = None,
    disputed: Annotated[
        bool | None,
        Query(
            description="true: only claims that some anchored evidence contradicts or "
            "qualifies (the sources disagree); false: only the others",
            examples=[True],
        ),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Claims in id order, each with its derived status, whether the sources disagree on it
    (`disputed`) and its evidence counts."""
    page = claims.list_claims(
        session,
        status=status,
        document=document,
        tag=tag,
        q=q,
        disputed=disputed,
        limit=limit,
        cursor=cursor,
    )
    return page_response(request, page, [provenance.present_claim(v) for v in page.items])


@router.post(
    "/claims",
    summary="Create a claim",
    status_code=201,
    response_model=ClaimRead,
    responses=responses(401, 403, 409, 422),
)
def create_claim(
    request: Request, session: SessionDep, key: Writer, body: Annotated[ClaimCreate, Body()]
) -> Response:
    """A new claim starts `unsupported`; add evidence with POST /v1/claims/{id}/evidence."""
    claim = claims.create_claim(session, body.model_dump(exclude_unset=True), actor=key.name)
    payload = present_claim(session, claim.id)
    session.commit()
    location = public_base(request) + request.url_for("get_claim", claim_id=claim.id).path
    return respond(request, payload, status_code=201, headers={"Location": location})


@router.get(
    "/claims/{claim_id}",
    summary="Get a claim",
    response_model=ClaimRead,
    responses=responses(304, 401, 404),
)
def get_claim(request: Request, session: SessionDep, _: Reader, claim_id: ClaimId) -> Response:
    """The claim with its status, derived from the evidence as it is now."""
    return respond(request, present_claim(session, claim_id))


@router.patch(
    "/claims/{claim_id}",
    summary="Change a claim",
    response_model=ClaimRead,
    responses=responses(401, 403, 404, 412, 422),
)
def update_claim(
    request: Request,
    session: SessionDep,
    key: Writer,
    claim_id: ClaimId,
    body: Annotated[ClaimUpdate, Body()],
) -> Response:
    """Change the statement, tags or note. Send `If-Match: <ETag>` to refuse a stale update."""
    view = claims.update_claim(
        session, claim_id, body.model_dump(exclude_unset=True), actor=key.name
    )
    payload = provenance.present_claim(view)
    session.commit()
    return respond(request, payload)


@router.delete(
    "/claims/{claim_id}",
    summary="Delete a claim",
    status_code=204,
    responses=responses(401, 403, 404, 412),
)
def delete_claim(session: SessionDep, key: Writer, claim_id: ClaimId) -> Response:
    """Deletes the claim and its evidence; the spans stay."""
    claims.delete_claim(session, claim_id, actor=key.name)
    session.commit()
    return Response(status_code=204)


@router.get(
    "/claims/{claim_id}/evidence",
    summary="List a claim's evidence",
    response_model=PageOf[EvidenceRead],
    responses=responses(304, 400, 401, 404, 422),
)
def list_evidence(
    request: Request,
    session: SessionDep,
    _: Reader,
    claim_id: ClaimId,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Supports, then contradicts, then qualifies; each in document and text order. Pages
    like every list: `?limit=` (default 20, at most 100), then `?cursor=<next_cursor>`."""
    page = claims.evidence_page(session, claim_id, limit=limit, cursor=cursor)
    return page_response(request, page, [present_evidence(v) for v in page.items])


@router.post(
    "/claims/{claim_id}/evidence",
    summary="Add evidence to a claim",
    status_code=201,
    response_model=EvidenceRead,
    responses=responses(401, 403, 404, 409, 422),
)
def add_evidence(
    request: Request,
    session: SessionDep,
    key: Writer,
    claim_id: ClaimId,
    body: Annotated[EvidenceCreate, Body()],
) -> Response:
    """Link a span to the claim with a stance and a note; `recorded_by` is your key's name.
    The claim's status follows at once. A span is evidence for a claim at most once (409)."""
    view = claims.add_evidence(
        session, claim_id, body.model_dump(exclude_unset=True), actor=key.name
    )
    payload = present_evidence(view)
    session.commit()
    location = (
        public_base(request)
        + request.url_for("get_evidence", claim_id=claim_id, evidence_id=view.evidence.id).path
    )
    return respond(request, payload, status_code=201, headers={"Location": location})


@router.get(
    "/claims/{claim_id}/evidence/{evidence_id}",
    summary="Get one piece of evidence",
    response_model=EvidenceRead,
    responses=responses(304, 401, 404),
)
def get_evidence(
    request: Request, session: SessionDep, _: Reader, claim_id: ClaimId, evidence_id: EvidenceId
) -> Response:
    """Which span, with which stance and note, recorded by whom and when."""
    return respond(request, present_evidence(claims.get_evidence(session, claim_id, evidence_id)))


@router.patch(
    "/claims/{claim_id}/evidence/{evidence_id}",
    summary="Change the stance or note of evidence",
    response_model=EvidenceRead,
    responses=responses(401, 403, 404, 412, 422),
)
def update_evidence(
    request: Request,
    session: SessionDep,
    key: Writer,
    claim_id: ClaimId,
    evidence_id: EvidenceId,
    body: Annotated[EvidenceUpdate, Body()],
) -> Response:
    """The span stays; to point at other words, delete this and add new evidence."""
    check_if_match(request, present_evidence(claims.get_evidence(session, claim_id, evidence_id)))
    view = claims.update_evidence(
        session, claim_id, evidence_id, body.model_dump(exclude_unset=True), actor=key.name
    )
    payload = present_evidence(view)
    session.commit()
    return respond(request, payload)


@router.delete(
    "/claims/{claim_id}/evidence/{evidence_id}",
    summary="Remove evidence from a claim",
    status_code=204,
    responses=responses(401, 403, 404, 412),
)
def delete_evidence(
    request: Request,
    session: SessionDep,
    key: Writer,
    claim_id: ClaimId,
    evidence_id: EvidenceId,
) -> Response:
    """The span stays; the claim's status follows at once."""
    check_if_match(request, present_evidence(claims.get_evidence(session, claim_id, evidence_id)))
    claims.delete_evidence(session, claim_id, evidence_id, actor=key.name)
    session.commit()
    return Response(status_code=204)


@router.get(
    "/claims/{claim_id}/provenance",
    summary="Trace a claim to the exact words of its sources",
    response_model=ProvenanceRead,
    responses={
        **format_responses(
            "jsonld",
            "csl-json",
            "bibtex",
            "text",
            examples={
                "jsonld": JSONLD_EXAMPLE,
                "csl-json": [TROMLY],
                "bibtex": BIBTEX_EXAMPLE,
                "text": "Siegelbaum, Lewis. “Khrushchev’s Secret Speech.” n.d.\n",
            },
        ),
        **responses(304, 401, 404, 422),
    },
)
def get_provenance(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
    claim_id: ClaimId,
    format: Annotated[
        Literal["json", "jsonld", "csl-json", "bibtex", "text"] | None,
        Query(
            description="`json` (default): the chain; `jsonld`: W3C PROV-O JSON-LD; "
            "`csl-json`, `bibtex`, `text`: the bibliography of every document and citation "
            "the provenance lists",
            examples=["jsonld"],
        ),
    ] = None,
    style: Style = None,
) -> Response:
    """Every piece of evidence with its stance, the exact words (`span.exact` is
    `text[start:end]` of the document), the document, and the citations printed for those
    words; `documents` counts the distinct documents; `conflicts` pairs each supporting piece
    of evidence with each contradicting one, and `tensions` with each contradicting or
    qualifying one, naming its stance. Evidence whose span is orphaned (`span.anchor_status`)
    is listed but counts toward neither, nor toward `status` and `disputed`."""
    canonical = citations.check_style(style)
    chain = provenance.provenance(session, claim_id, style=canonical)
    chosen = negotiate(request, format, ("jsonld", "csl-json", "bibtex"))
    if chosen in (None, "json"):
        return respond(request, chain, headers={"Vary": "Accept"})
    if chosen == "jsonld":
        from archive.jsonld import provenance_jsonld

        base = public_base(request)
        document = provenance_jsonld(chain, base)
        return respond(
            request, document, headers={"Vary": "Accept"}, media_type="application/ld+json"
        )
    body = citations.render(provenance.bibliography(chain), chosen, canonical)
    return formatted_response(request, body, chosen)
