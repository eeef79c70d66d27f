"""A claim's provenance: every piece of evidence, the exact words, their documents and what
those documents cite for them; which evidence conflicts; and the bibliography behind it.

The shape is the contract's:

    {claim, status, evidence: [{id, stance, note, recorded_by, recorded_at,
        span: {id, exact, start, end, prefix, suffix, speaker},
        document: {id, title, creators, published, publisher, source_url},
        citations: [{id, label, raw, csl, text}]}],
     documents, conflicts: [[supporting evidence id, contradicting evidence id], ...],
     tensions: [{supporting, opposing, stance}]}

`claim` is the claim as GET /v1/claims/{id} shows it; `documents` counts the distinct
documents the evidence comes from. `tensions` pairs each supporting piece of evidence with
each one that contradicts or qualifies the claim (`stance` is the opposing one's), so that a
reader can set the two sides' words side by side; `conflicts` is the contradicting part of it.
Evidence whose span is orphaned (`span.anchor_status`) is listed but is in neither: its words
are no longer in the document's text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select
from sqlmodel import Session

from archive import citations, claims, csl
from archive.models import STANCES, Document, Evidence, Span
from archive.transfer import iso


def present_claim(view: claims.ClaimView) -> dict[str, Any]:
    """A claim as the API shows it."""
    claim = view.claim
    return {
        "id": claim.id,
        "statement": claim.statement,
        "tags": claim.tags,
        "note": claim.note,
        "status": view.status,
        "disputed": view.disputed,
        "evidence_counts": view.counts,
        "created_by": claim.created_by,
        "created_at": iso(claim.created_at),
        "updated_at": iso(claim.updated_at),
    }


def _document(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "title": doc.title,
        "creators": doc.creators,
        "published": doc.published,
        "publisher": doc.publisher,
        "source_url": doc.source_url,
    }


def _span(span: Span) -> dict[str, Any]:
    return {
        "id": span.id,
        "exact": span.exact,
        "start": span.start,
        "end": span.end,
        "prefix": span.prefix,
        "suffix": span.suffix,
        "speaker": span.speaker,
        "kind": span.kind,
        "quoted_from": span.quoted_from,
        "anchor_status": span.anchor_status,
        "created_by": span.created_by,
        "created_at": iso(span.created_at),
    }


def _rows(session: Session, claim_id: str) -> list[tuple[Evidence, Span, Document]]:
    order = case({s: i for i, s in enumerate(STANCES)}, value=Evidence.stance)
    return [
        (e, s, d)
        for e, s, d in session.execute(
            select(Evidence, Span, Document)
            .join(Span, Span.id == Evidence.span_id)
            .join(Document, Document.id == Span.document_id)
            .where(Evidence.claim_id == claim_id)
            .order_by(order, Document.id, Span.start, Evidence.id)
        )
    ]


def provenance(
    session: Session, claim_id: str, *, style: str = csl.DEFAULT_STYLE
) -> dict[str, Any]:
    """The whole chain behind a claim; citations' `text` is formatted in `style`."""
    view = claims.get_claim(session, claim_id)
    rows = _rows(session, claim_id)
    cited = citations.citations_of_spans(session, {s.id for _, s, _ in rows})
    evidence = []
    for ev, span, doc in rows:
        evidence.append(
            {
                "id": ev.id,
                "stance": ev.stance,
                "note": ev.note,
                "recorded_by": ev.recorded_by,
                "recorded_at": iso(ev.recorded_at),
                "span": _span(span),
                "document": _document(doc),
                "citations": [
                    {
                        "id": c.id,
                        "label": c.label,
                        "raw": c.raw,
                        "status": c.status,
                        "csl": c.csl,
                        "text": citations.formatted(c.csl, style),
                    }
                    for c in cited[span.id]
                ],
            }
        )
    anchored = [e for e in evidence if e["span"]["anchor_status"] != "orphaned"]
    supporting = [e["id"] for e in anchored if e["stance"] == "supports"]
    opposing = [e for e in anchored if e["stance"] in ("contradicts", "qualifies")]
    tensions = [
        {"supporting": s, "opposing": o["id"], "stance": o["stance"]}
        for s in supporting
        for o in opposing
    ]
    return {
        "claim": present_claim(view),
        "status": view.status,
        "evidence": evidence,
        "documents": len({e["document"]["id"] for e in evidence}),
        "conflicts": [
            [t["supporting"], t["opposing"]] for t in tensions if t["stance"] == "contradicts"
        ],
        "tensions": tensions,
    }


def document_item(document: dict[str, Any]) -> dict[str, Any]:
    """A CSL-JSON item for a document, holding only what its metadata states."""
    item: dict[str, Any] = {
        "id": document["id"],
        "type": "webpage" if document.get("source_url") else "document",
        "title": document["title"],
    }
    for creator in document.get("creators") or []:
        if not creator.get("name"):
            continue
        role = creator.get("role") if creator.get("role") in ("editor", "translator") else "author"
        item.setdefault(role, []).append(_name(creator["name"]))
    if document.get("published"):
        item["issued"] = {"date-parts": [[int(p) for p in document["published"].split("-")]]}
    if document.get("publisher"):
        item["publisher"] = document["publisher"]
    if document.get("source_url"):
        item["URL"] = document["source_url"]
    return item


def _name(name: str) -> dict[str, str]:
    """Split "Orlando Figes" into family Figes, given Orlando; a one-word name stays a literal."""
    parts = name.rsplit(" ", 1)
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        return {"family": parts[1].strip(), "given": parts[0].strip()}
    return {"literal": name}


#: CSL fields that name a source; a citation with none of them (a broken or empty note, an
#: "Ibid." of one) has no place in a bibliography, where it could only print as "n.d.".
SOURCE_FIELDS = ("title", "author", "editor", "container-title", "publisher", "URL", "DOI")


def names_a_source(csl: dict[str, Any]) -> bool:
    return any(csl.get(field) for field in SOURCE_FIELDS)


def bibliography(prov: dict[str, Any]) -> list[dict[str, Any]]:
    """CSL-JSON items for everything the provenance lists: each document the evidence comes
    from, then each citation those spans carry that names a source (`names_a_source`), once
    each, in the order they appear."""
    documents: dict[str, dict[str, Any]] = {}
    cited: dict[str, dict[str, Any]] = {}
    for ev in prov["evidence"]:
        documents.setdefault(ev["document"]["id"], document_item(ev["document"]))
        for citation in ev["citations"]:
            if names_a_source(citation["csl"]):
                cited.setdefault(citation["id"], citation["csl"])
    items = list(documents.values())
    taken = set(documents)
    for item in cited.values():
        if item["id"] in taken:  # a citation whose id is also a document's id
            item = {**item, "id": f"{item['id']}-citation"}
        taken.add(item["id"])
        items.append(item)
    return items
