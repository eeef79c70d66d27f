"""`archive check`: every span consistent with its text (offsets, words and context), every
link resolving."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from archive.anchoring import context
from archive.documents import sha256
from archive.errors import ArchiveError
from archive.lookup import index as passage_index
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
        problem = span_problem(text, span.start, span.end, span.exact, span.prefix, span.suffix)
        if problem is not None:
            problems.append(f"{where}: {problem}")
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
    problems.extend(passage_index.check(session))
    checked = {
        "documents": len(texts),
        "spans": len(spans),
        "citations": len(citations),
        "claims": len(claims),
        "evidence": len(evidence),
    }
    return problems, checked


def span_problem(
    text: str, start: int, end: int, exact: str, prefix: str, suffix: str
) -> str | None:
    """What is wrong with a span's position and quote in `text`, or None when nothing is.

    The invariant every span that is not orphaned keeps in the text of the revision it names
    (the import checks records by it too): `start` and `end` lie within the text, `exact` is
    `text[start:end]`, and `prefix` and `suffix` are the context `anchoring.context` takes
    there, as every write of a span stores them.
    """
    if not 0 <= start < end <= len(text):
        return f"offsets {start}..{end} lie outside the text, which has {len(text)} characters"
    found = text[start:end]
    if found != exact:
        return f"text at {start}..{end} is {found[:40]!r}, not {exact[:40]!r}"
    before, after = context(text, start, end)
    if prefix != before:
        return f"prefix {prefix[-40:]!r} is not what the text has before {start} ({before[-40:]!r})"
    if suffix != after:
        return f"suffix {suffix[:40]!r} is not what the text has after {end} ({after[:40]!r})"
    return None


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
