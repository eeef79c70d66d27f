"""Citations: the notes and references of documents, as CSL-JSON, BibTeX or formatted text."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.conditional import etag_of, not_modified, respond
from api.deps import Reader, SessionDep, Writer, public_base
from api.errors import responses
from api.negotiation import preferred
from api.routes.documents import Cursor, DocId, Limit, page_response
from api.schemas.citations import CitationCreate, CitationRead, CitationUpdate
from api.schemas.common import PageOf
from archive import citations, documents
from archive.models import Citation
from archive.transfer import iso

router = APIRouter(prefix="/v1", tags=["citations"])

#: The media type of each output format.
MEDIA_TYPES = {
    "csl-json": "application/vnd.citationstyles.csl+json",
    "bibtex": "application/x-bibtex; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "jsonld": "application/ld+json",
}

CitationId = Annotated[
    str, Path(description="The citation's id", examples=["brief-note-16"], max_length=64)
]
Style = Annotated[
    str | None,
    Query(
        max_length=64,
        description="A CSL style the server ships: chicago-notes-bibliography (default; alias "
        "chicago), chicago-author-date, apa, modern-language-association (alias mla)",
        examples=["apa"],
    ),
]
StatusFilter = Annotated[
    Literal["ok", "broken", "empty", "ibid"] | None,
    Query(description="Only citations with this status"),
]

TROMLY = {
    "id": "brief-note-16",
    "type": "article-journal",
    "author": [{"family": "Tromly", "given": "Benjamin"}],
    "issued": {"date-parts": [[2004]]},
    "title": "The Leningrad affair and Soviet patronage politics, 1949–1950",
    "container-title": "Europe-Asia Studies",
    "volume": "56",
    "issue": "5",
    "page": "707-729",
    "DOI": "10.1080/0966813041000235119",
}
BIBTEX_EXAMPLE = """@article{brief-note-16,
  author = {Tromly, Benjamin},
  title = {{The Leningrad affair and Soviet patronage politics, 1949–1950}},
  journal = {Europe-Asia Studies},
  volume = {56},
  number = {5},
  pages = {707--729},
  year = {2004},
  doi = {10.1080/0966813041000235119},
}
"""
TEXT_EXAMPLE = (
    "Tromly, B. (2004). The Leningrad affair and Soviet patronage politics, 1949–1950. "
    "Europe-Asia Studies, 56(5), 707–729. https://doi.org/10.1080/0966813041000235119\n"
)


def present(citation: Citation, span_ids: list[str]) -> dict[str, Any]:
    return {
        "id": citation.id,
        "document_id": citation.document_id,
        "label": citation.label,
        "raw": citation.raw,
        "csl": citation.csl,
        "status": citation.status,
        "note": citation.note,
        "span_ids": span_ids,
        "created_by": citation.created_by,
        "created_at": iso(citation.created_at),
        "updated_at": iso(citation.updated_at),
    }


def present_one(session: Session, citation: Citation) -> dict[str, Any]:
    return present(citation, citations.span_ids_of(session, [citation.id])[citation.id])


def present_page(session: Session, items: list[Citation]) -> list[dict[str, Any]]:
    links = citations.span_ids_of(session, [c.id for c in items])
    return [present(c, links[c.id]) for c in items]


def negotiate(request: Request, fmt: str | None, offered: tuple[str, ...]) -> str | None:
    """`?format=` wins; else the one of `offered` that `Accept` prefers to JSON, if any
    (`api.negotiation.preferred`: q-values count, `;q=0` refuses).

    Only specific types are offered (never text/plain, which browsers and HTTP libraries
    send by default beside application/json)."""
    if fmt is not None:
        return fmt
    chosen = preferred(request.headers.get("accept", ""), [MEDIA_TYPES[n] for n in offered])
    return None if chosen is None else offered[chosen]


def formatted_response(request: Request, body: str, fmt: str) -> Response:
    """A non-JSON representation with an ETag; 304 when If-None-Match already has it."""
    media_type = MEDIA_TYPES[fmt]
    etag = etag_of({"media_type": media_type, "body": body})
    headers = {"ETag": etag, "Vary": "Accept"}
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body.encode("utf-8"), media_type=media_type, headers=headers)


def format_responses(*formats: str, examples: dict[str, Any]) -> dict[int | str, Any]:
    content: dict[str, Any] = {}
    for name in formats:
        content[MEDIA_TYPES[name].split(";")[0]] = {"example": examples[name]}
    return {200: {"content": content, "description": "The resource in the format asked for"}}


@router.get(
    "/citations",
    summary="List citations",
    response_model=PageOf[CitationRead],
    responses=responses(304, 400, 401, 422),
)
def list_citations(
    request: Request,
    session: SessionDep,
    _: Reader,
    document: Annotated[
        str | None,
        Query(max_length=64, description="Only this document's", examples=["fear-backstage"]),
    ] = None,
    status: StatusFilter = None,
    span: Annotated[
        str | None, Query(max_length=64, description="Only those supporting this span")
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Citations in id order; filters `document`, `status` (ok, broken, empty, ibid), `span`."""
    page = citations.list_citations(
        session, document=document, status=status, span=span, limit=limit, cursor=cursor
    )
    return page_response(request, page, present_page(session, page.items))


@router.get(
    "/documents/{doc_id}/citations",
    summary="List a document's citations",
    response_model=PageOf[CitationRead],
    responses=responses(304, 400, 401, 404, 422),
)
def list_document_citations(
    request: Request,
    session: SessionDep,
    _: Reader,
    doc_id: DocId,
    status: StatusFilter = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Every note and in-text reference of the document, in id order."""
    documents.get_document(session, doc_id)
    page = citations.list_citations(
        session, document=doc_id, status=status, limit=limit, cursor=cursor
    )
    return page_response(request, page, present_page(session, page.items))


@router.post(
    "/citations",
    summary="Create a citation",
    status_code=201,
    response_model=CitationRead,
    responses=responses(401, 403, 409, 422),
)
def create_citation(
    request: Request, session: SessionDep, key: Writer, body: Annotated[CitationCreate, Body()]
) -> Response:
    """Store a note of a document: `raw` exactly as printed, `csl` a CSL-JSON item (checked
    against the CSL-JSON schema; its `id` becomes the citation's), `span_ids` the spans of the
    same document it supports."""
    citation = citations.create_citation(
        session, body.model_dump(exclude_unset=True), actor=key.name
    )
    payload = present_one(session, citation)
    session.commit()
    location = public_base(request) + request.url_for("get_citation", citation_id=citation.id).path
    return respond(request, payload, status_code=201, headers={"Location": location})


@router.get(
    "/citations/{citation_id}",
    summary="Get a citation, or its reference as CSL-JSON, BibTeX or text",
    response_model=CitationRead,
    responses={
        **format_responses(
            "csl-json",
            "bibtex",
            "text",
            examples={"csl-json": [TROMLY], "bibtex": BIBTEX_EXAMPLE, "text": TEXT_EXAMPLE},
        ),
        **responses(304, 401, 404, 422),
    },
)
def get_citation(
    request: Request,
    session: SessionDep,
    _: Reader,
    citation_id: CitationId,
    format: Annotated[
        Literal["json", "csl-json", "bibtex", "text"] | None,
        Query(
            description="`json` (default): the citation; `csl-json`: its item in a CSL-JSON "
            "array; `bibtex`; `text`: the formatted reference in `style`",
            examples=["bibtex"],
        ),
    ] = None,
    style: Style = None,
    form: Annotated[
        Literal["bibliography", "citation"],
        Query(description="For `text`: a bibliography entry, or the note / in-text citation"),
    ] = "bibliography",
) -> Response:
    """The citation as JSON, or its reference: `?format=csl-json` (or `Accept:
    application/vnd.citationstyles.csl+json`), `?format=bibtex` (or `Accept:
    application/x-bibtex`), `?format=text` (`text/plain`) in a shipped CSL style."""
    canonical = citations.check_style(style)
    citation = citations.get_citation(session, citation_id)
    chosen = negotiate(request, format, ("csl-json", "bibtex"))
    if chosen in (None, "json"):
        return respond(request, present_one(session, citation), headers={"Vary": "Accept"})
    body = citations.render([citation.csl], chosen, canonical, form)
    return formatted_response(request, body, chosen)


@router.patch(
    "/citations/{citation_id}",
    summary="Change a citation",
    response_model=CitationRead,
    responses=responses(401, 403, 404, 412, 422),
)
def update_citation(
    request: Request,
    session: SessionDep,
    key: Writer,
    citation_id: CitationId,
    body: Annotated[CitationUpdate, Body()],
) -> Response:
    """Change label, raw, csl, status, note or span_ids (which replaces the links). Send
    `If-Match: <ETag>` to refuse a stale update."""
    citation = citations.update_citation(
        session, citation_id, body.model_dump(exclude_unset=True), actor=key.name
    )
    payload = present_one(session, citation)
    session.commit()
    return respond(request, payload)


@router.delete(
    "/citations/{citation_id}",
    summary="Delete a citation",
    status_code=204,
    responses=responses(401, 403, 404, 412),
)
def delete_citation(session: SessionDep, key: Writer, citation_id: CitationId) -> Response:
    """Deletes the citation and its links to spans; the spans stay."""
    citations.delete_citation(session, citation_id, actor=key.name)
    session.commit()
    return Response(status_code=204)
