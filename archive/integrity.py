"""`archive check`: every span consistent with its text, every link resolving."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from archive.documents import sha256
from archive.errors import ArchiveError
from archive.models import (
    Citation,
    CitationSpan,
    Claim,
    Document,
    DocumentText,
    Evidence,
    Span,
)


def check(session: Session) -> tuple[list[str], dict[str, int]]:
    """Problems found (empty when all is well) and how many records of each kind were read."""
    problems: list[str] = []
    texts: dict[str, tuple[int, str]] = {}
    rows = session.execute(
        select(Document, DocumentText.text).outerjoin(
            DocumentText,
            (DocumentText.document_id == Document.id)
            & (DocumentText.revision == Document.revision),
        )
    )
    for doc, text in rows:
        if text is None:
            problems.append(f"document {doc.id}: no text for its revision {doc.revision}")
            continue
        if sha256(text) != doc.text_sha256 or len(text) != doc.length:
            problems.append(f"document {doc.id}: text_sha256 or length differ from its text")
        texts[doc.id] = (doc.revision, text)
    spans = list(session.execute(select(Span)).scalars())
    span_ids = {s.id for s in spans}
    for span in spans:
        where = f"span {span.id} ({span.document_id})"
        if span.document_id not in texts:
            problems.append(f"{where}: its document has no text")
            continue
        revision, text = texts[span.document_id]
        if span.anchor_status == "orphaned":
            continue
        if span.revision != revision:
            problems.append(f"{where}: anchored to revision {span.revision}, text is {revision}")
        if not 0 <= span.start < span.end <= len(text):
            problems.append(f"{where}: offsets {span.start}..{span.end} outside the text")
        elif text[span.start : span.end] != span.exact:
            found = text[span.start : span.end]
            problems.append(
                f"{where}: text at {span.start}..{span.end} is {found[:40]!r}, "
                f"not {span.exact[:40]!r}"
            )
        if span.quoted_from is not None and span.quoted_from not in span_ids:
            problems.append(f"{where}: quoted_from {span.quoted_from} does not exist")
    citations = {c.id: c for c in session.execute(select(Citation)).scalars()}
    for citation in citations.values():
        if citation.document_id not in texts:
            problems.append(f"citation {citation.id}: document {citation.document_id} missing")
        elif citation.raw and citation.raw not in texts[citation.document_id][1]:
            problems.append(f"citation {citation.id}: raw text is not in its document")
    for citation in citations.values():
        problems.extend(_citation_problems(citation))
    span_documents = {s.id: s.document_id for s in spans}
    links = session.execute(select(CitationSpan)).scalars().all()
    for link in links:
        if link.citation_id not in citations or link.span_id not in span_ids:
            problems.append(f"citation link {link.citation_id} → {link.span_id} dangles")
        elif span_documents[link.span_id] != citations[link.citation_id].document_id:
            problems.append(
                f"citation link {link.citation_id} → {link.span_id}: the span is in "
                f"{span_documents[link.span_id]}, the citation in "
                f"{citations[link.citation_id].document_id}"
            )
    claims = set(session.execute(select(Claim.id)).scalars())
    evidence = list(session.execute(select(Evidence)).scalars())
    for ev in evidence:
        if ev.claim_id not in claims:
            problems.append(f"evidence {ev.id}: claim {ev.claim_id} missing")
        if ev.span_id not in span_ids:
            problems.append(f"evidence {ev.id}: span {ev.span_id} missing")
    checked = {
        "documents": len(texts),
        "spans": len(spans),
        "citations": len(citations),
        "claims": len(claims),
        "evidence": len(evidence),
    }
    return problems, checked


def _citation_problems(citation: Citation) -> list[str]:
    """A citation's CSL item must be valid CSL-JSON; only a missing note has an empty `raw`."""
    from archive.csl import validate_csl

    problems = []
    try:
        validate_csl(citation.csl)
    except ArchiveError as exc:
        problems.append(f"citation {citation.id}: {exc.detail}")
    if citation.raw == "" and citation.status != "empty":
        problems.append(f"citation {citation.id}: raw is empty but its status is {citation.status}")
    if citation.raw != "" and citation.status == "empty":
        problems.append(f"citation {citation.id}: status is empty but raw is {citation.raw[:40]!r}")
    return problems
