"""Occurrences of a quotation: aligning the stretches the index proposed, and what rests on
each occurrence (the curated spans it overlaps, the claims those spans are evidence for)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from archive.anchoring import context
from archive.lookup.candidates import Stretch
from archive.models import Evidence, Span
from archive.text import alignment


@dataclass
class Occurrence:
    document_id: str
    document_title: str
    start: int
    end: int
    exact: str
    prefix: str
    suffix: str
    score: float
    match: str
    spans: list[dict[str, Any]] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)


def align(
    query: str, stretch: Stretch, where: list[tuple[int, int]], min_score: float
) -> list[Occurrence]:
    """Every occurrence of `query` in the parts `where` ([start, end) offsets into the
    stretch) of a stretch of text, at offsets into its document."""
    found: list[Occurrence] = []
    seen: set[tuple[int, int]] = set()
    body = stretch.text
    for lo, hi in where:
        for m in alignment.find_in_text(query, body[lo:hi], min_score=min_score):
            start, end = m.start + lo, m.end + lo
            if (start, end) in seen:
                continue
            seen.add((start, end))
            prefix, suffix = context(body, start, end)
            found.append(
                Occurrence(
                    document_id=stretch.document_id,
                    document_title=stretch.title,
                    start=start + stretch.start,
                    end=end + stretch.start,
                    exact=body[start:end],
                    prefix=prefix,
                    suffix=suffix,
                    score=round(m.score, 4),
                    match=m.match,
                )
            )
    return found


def annotate(session: Session, occurrences: list[Occurrence]) -> None:
    """Attach to each occurrence the curated spans it overlaps and their claims."""
    doc_ids = sorted({o.document_id for o in occurrences})
    if not doc_ids:
        return
    spans = session.execute(
        select(Span.id, Span.document_id, Span.start, Span.end, Span.speaker, Span.kind)
        .where(Span.document_id.in_(doc_ids), Span.anchor_status != "orphaned")
        .order_by(Span.start, Span.end, Span.id)
    ).all()
    by_document: dict[str, list[Any]] = {}
    for row in spans:
        by_document.setdefault(row.document_id, []).append(row)
    overlapping: dict[int, list[Any]] = {}
    for n, occ in enumerate(occurrences):
        overlapping[n] = [
            s
            for s in by_document.get(occ.document_id, [])
            if s.start < occ.end and occ.start < s.end
        ]
    span_ids = sorted({s.id for rows in overlapping.values() for s in rows})
    claims: dict[str, set[str]] = {}
    if span_ids:
        for span_id, claim_id in session.execute(
            select(Evidence.span_id, Evidence.claim_id).where(Evidence.span_id.in_(span_ids))
        ):
            claims.setdefault(span_id, set()).add(claim_id)
    for n, occ in enumerate(occurrences):
        occ.spans = [{"id": s.id, "speaker": s.speaker, "kind": s.kind} for s in overlapping[n]]
        occ.claims = sorted({c for s in overlapping[n] for c in claims.get(s.id, ())})
