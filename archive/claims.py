"""Claims and the evidence for them.

A claim is a statement; evidence links it to a span that supports, contradicts or qualifies
it. A claim's status is derived from its evidence every time it is read, in SQL (so that a
status filter pages and counts correctly), and never stored:

- contested: some evidence contradicts it;
- corroborated: spans of two or more documents support it;
- single-source: spans of one document support it;
- unsupported: nothing supports it.

A claim is also `disputed` when some evidence contradicts or qualifies it: a source that
narrows, hedges or tells it otherwise is a disagreement a reader should see, even where it
does not make the claim `contested`. Evidence whose span is orphaned (its words are no longer
in the document's current text) counts toward neither status nor `disputed`; the evidence
counts by stance still count every piece recorded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, literal, select, tuple_, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Session

from archive import changes
from archive.db import folded
from archive.documents import (
    check_id,
    check_storable,
    check_tags,
    check_text,
    folded_pattern,
    free_id,
    random_id,
    set_changed,
)
from archive.errors import Conflict, InvalidInput, NotFound
from archive.models import STANCES, Claim, Evidence, Span, utcnow
from archive.pagination import DEFAULT_LIMIT, Page, decode_cursor, decode_keyset, encode_cursor

STATUSES = ("corroborated", "single-source", "contested", "unsupported")
CLAIM_FIELDS = ("statement", "tags", "note")
EVIDENCE_FIELDS = ("stance", "note")
MAX_STATEMENT = 2_000
MAX_NOTE = 10_000


@dataclass
class ClaimView:
    """A claim as read: the row, its derived status and its evidence counts by stance."""

    claim: Claim
    status: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STANCES, 0))
    disputed: bool = False


# --- status, in SQL ---------------------------------------------------------------------------


def _stats():  # noqa: ANN202 - a SQLAlchemy subquery
    """Per claim: evidence by stance, and how many documents support it."""

    anchored = Span.anchor_status != "orphaned"

    def count(stance: str) -> Any:
        return func.sum(case((Evidence.stance == stance, 1), else_=0))

    def count_anchored(*stances: str) -> Any:
        return func.sum(case((and_(Evidence.stance.in_(stances), anchored), 1), else_=0))

    supporting_document = case(
        (and_(Evidence.stance == "supports", anchored), Span.document_id), else_=None
    )
    return (
        select(
            Evidence.claim_id.label("claim_id"),
            count("supports").label("supports"),
            count("contradicts").label("contradicts"),
            count("qualifies").label("qualifies"),
            count_anchored("contradicts").label("anchored_contradicts"),
            count_anchored("contradicts", "qualifies").label("opposing"),
            func.count(func.distinct(supporting_document)).label("documents"),
        )
        .join(Span, Span.id == Evidence.span_id)
        .group_by(Evidence.claim_id)
        .subquery("claim_stats")
    )


def _status(stats: Any) -> Any:
    documents = func.coalesce(stats.c.documents, 0)
    return case(
        (func.coalesce(stats.c.anchored_contradicts, 0) > 0, literal("contested")),
        (documents >= 2, literal("corroborated")),
        (documents == 1, literal("single-source")),
        else_=literal("unsupported"),
    )


def derive_status(supporting_documents: int, contradicting: int) -> str:
    """The same rule as the SQL, for callers that already hold the (anchored) evidence."""
    if contradicting:
        return "contested"
    if supporting_documents >= 2:
        return "corroborated"
    return "single-source" if supporting_documents == 1 else "unsupported"


def _disputed(stats: Any) -> Any:
    return func.coalesce(stats.c.opposing, 0) > 0


def _viewing(conditions: list[Any] | None = None) -> tuple[Select, Any, Any]:
    stats = _stats()
    status = _status(stats).label("status")
    query = (
        select(
            Claim,
            status,
            func.coalesce(stats.c.supports, 0),
            func.coalesce(stats.c.contradicts, 0),
            func.coalesce(stats.c.qualifies, 0),
            func.coalesce(stats.c.opposing, 0),
        )
        .outerjoin(stats, stats.c.claim_id == Claim.id)
        .where(*(conditions or []))
    )
    return query, stats, status


def _view(row: Any) -> ClaimView:
    claim, status, supports, contradicts, qualifies, opposing = row
    counts = {
        "supports": int(supports),
        "contradicts": int(contradicts),
        "qualifies": int(qualifies),
    }
    return ClaimView(claim=claim, status=status, counts=counts, disputed=int(opposing) > 0)


# --- validation -------------------------------------------------------------------------------


def _check_statement(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("statement: must not be empty")
    if len(value) > MAX_STATEMENT:
        raise InvalidInput(f"statement: longer than {MAX_STATEMENT} characters")
    return check_storable(value, "statement")


def _check_note(value: Any) -> str | None:
    return check_text(value, "note", MAX_NOTE, nullable=True)


def _check_stance(value: Any) -> str:
    if value not in STANCES:
        raise InvalidInput(f"stance: must be one of {', '.join(STANCES)}")
    return value


def slugify(statement: str) -> str:
    """A readable id: "Khrushchev's speech lasted 4 hours" → khrushchevs-speech-lasted-4-hours."""
    unquoted = re.sub("['\u2019]", "", statement)
    ascii_text = unicodedata.normalize("NFKD", unquoted).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:56].rstrip("-") or "claim"


# --- claims -----------------------------------------------------------------------------------


def create_claim(session: Session, data: dict[str, Any], *, actor: str | None = None) -> Claim:
    """Store a claim: `statement`, optional `tags`, `note` and `id` (default: a slug of the
    statement, made unique). A duplicate id is a Conflict."""
    unknown = set(data) - {"id", *CLAIM_FIELDS}
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not a claim field")
    statement = _check_statement(data.get("statement"))
    claim_id = data.get("id")
    if claim_id:
        check_id(claim_id)
        if session.get(Claim, claim_id) is not None:
            raise Conflict(f"a claim with id {claim_id!r} already exists", id=claim_id)
    else:
        claim_id = free_id(session, Claim, slugify(statement))
    now = utcnow()
    claim = Claim(
        id=claim_id,
        statement=statement,
        tags=check_tags(data.get("tags")),
        note=_check_note(data.get("note")),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(claim)
    changes.record(session, "claim", claim_id, "create", actor)
    session.flush()
    return claim


def get_claim(session: Session, claim_id: str) -> ClaimView:
    query, _, _ = _viewing([Claim.id == claim_id])
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"no claim with id {claim_id!r}", id=claim_id)
    return _view(row)


def _tag_condition(session: Session, tag: str) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(Claim.tags, JSONB).contains([tag])
    values = func.json_each(Claim.tags).table_valued("value")
    return exists(select(literal(1)).select_from(values).where(values.c.value == tag))


def list_claims(
    session: Session,
    *,
    status: str | None = None,
    document: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    disputed: bool | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[ClaimView]:
    """Claims in id order. `status` is the derived status; `disputed` keeps the claims that
    anchored evidence contradicts or qualifies (false: those it does not); `document` keeps
    claims with evidence in that document; `tag` an exact tag; `q` words that must all be in
    the statement (ignoring case in every script, with ‘ ’ and ' alike: `archive.db.fold`)."""
    conditions: list[Any] = []
    if document is not None:
        conditions.append(
            Claim.id.in_(
                select(Evidence.claim_id)
                .join(Span, Span.id == Evidence.span_id)
                .where(Span.document_id == document)
            )
        )
    if tag is not None:
        conditions.append(_tag_condition(session, tag))
    for word in (q or "").split():
        check_storable(word, "q")
        pattern = folded_pattern(word)
        conditions.append(folded(Claim.statement).like(pattern, escape="\\"))
    query, stats, status_column = _viewing(conditions)
    if disputed is not None:
        query = query.where(_disputed(stats) if disputed else ~_disputed(stats))
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput(f"status: must be one of {', '.join(STATUSES)}")
        query = query.where(status_column == status)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    position = decode_cursor(cursor, "after")
    if position is not None:
        query = query.where(Claim.id > str(position["after"]))
    rows = session.execute(query.order_by(Claim.id).limit(limit + 1)).all()
    views = [_view(row) for row in rows]
    next_cursor = (
        encode_cursor({"after": views[limit - 1].claim.id}) if len(views) > limit else None
    )
    return Page(items=views[:limit], total=total, next_cursor=next_cursor)


def update_claim(
    session: Session, claim_id: str, data: dict[str, Any], *, actor: str | None = None
) -> ClaimView:
    """Change statement, tags or note; the id never changes. Fields sent with the value they
    already have are no change: when nothing differs, the claim stays as it was (same
    `updated_at`) and the change feed gets no record."""
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotFound(f"no claim with id {claim_id!r}", id=claim_id)
    unknown = set(data) - set(CLAIM_FIELDS)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not a claim field that can be changed")
    new: dict[str, Any] = {}
    if "statement" in data:
        new["statement"] = _check_statement(data["statement"])
    if "tags" in data:
        new["tags"] = check_tags(data["tags"])
    if "note" in data:
        new["note"] = _check_note(data["note"])
    if not set_changed(claim, new):
        return get_claim(session, claim_id)
    claim.updated_at = utcnow()
    session.add(claim)
    changes.record(session, "claim", claim_id, "update", actor)
    session.flush()
    return get_claim(session, claim_id)


def delete_claim(session: Session, claim_id: str, *, actor: str | None = None) -> None:
    """Delete a claim and its evidence (never the spans)."""
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotFound(f"no claim with id {claim_id!r}", id=claim_id)
    evidence = session.execute(
        select(Evidence).where(Evidence.claim_id == claim_id).order_by(Evidence.id)
    ).scalars()
    for row in evidence.all():  # read whole before deleting: no autoflush mid-read
        session.delete(row)
        changes.record(session, "evidence", row.id, "delete", actor)
    session.flush()
    session.delete(claim)
    changes.record(session, "claim", claim_id, "delete", actor)
    session.flush()


# --- evidence ---------------------------------------------------------------------------------


@dataclass
class EvidenceView:
    evidence: Evidence
    document_id: str


def _evidence_id(session: Session, claim_id: str, document_id: str) -> str:
    """`<claim>--<document>`, the corpus's convention, when it fits; else `ev-<hex>`."""
    base = f"{claim_id}--{document_id}"
    if len(base) <= 60:
        return free_id(session, Evidence, base)
    return random_id(session, Evidence, "ev")


def add_evidence(
    session: Session, claim_id: str, data: dict[str, Any], *, actor: str | None = None
) -> EvidenceView:
    """Link a span to a claim with a stance (`supports`, `contradicts`, `qualifies`) and a
    note. A span is evidence for a claim at most once (Conflict naming the existing link)."""
    if session.get(Claim, claim_id) is None:
        raise NotFound(f"no claim with id {claim_id!r}", id=claim_id)
    unknown = set(data) - {"id", "span_id", *EVIDENCE_FIELDS}
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not an evidence field")
    span_id = data.get("span_id")
    if not isinstance(span_id, str):
        raise InvalidInput("span_id: required")
    span = session.get(Span, span_id)
    if span is None:
        raise InvalidInput(f"span_id: no span {span_id!r}")
    if span.anchor_status == "orphaned":
        raise InvalidInput(
            f"span_id: span {span_id!r} is orphaned (its words are no longer in the text of "
            f"{span.document_id!r}); it cannot be evidence"
        )
    stance = _check_stance(data.get("stance"))
    note = _check_note(data.get("note"))
    existing = session.execute(
        select(Evidence.id).where(and_(Evidence.claim_id == claim_id, Evidence.span_id == span_id))
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict(
            f"span {span_id!r} is already evidence for claim {claim_id!r} (evidence "
            f"{existing!r}); change or delete that instead",
            id=existing,
        )
    evidence_id = data.get("id")
    if evidence_id:
        check_id(evidence_id)
        if session.get(Evidence, evidence_id) is not None:
            raise Conflict(f"evidence with id {evidence_id!r} already exists", id=evidence_id)
    else:
        evidence_id = _evidence_id(session, claim_id, span.document_id)
    evidence = Evidence(
        id=evidence_id,
        claim_id=claim_id,
        span_id=span_id,
        stance=stance,
        note=note,
        recorded_by=actor,
        recorded_at=utcnow(),
    )
    session.add(evidence)
    changes.record(session, "evidence", evidence_id, "create", actor)
    session.flush()
    return EvidenceView(evidence=evidence, document_id=span.document_id)


def get_evidence(session: Session, claim_id: str, evidence_id: str) -> EvidenceView:
    row = session.execute(
        select(Evidence, Span.document_id)
        .join(Span, Span.id == Evidence.span_id)
        .where(Evidence.id == evidence_id, Evidence.claim_id == claim_id)
    ).first()
    if row is None:
        if session.get(Claim, claim_id) is None:
            raise NotFound(f"no claim with id {claim_id!r}", id=claim_id)
        raise NotFound(f"claim {claim_id!r} has no evidence {evidence_id!r}", id=evidence_id)
    return EvidenceView(evidence=row[0], document_id=row[1])


def _evidence_order() -> tuple[Any, ...]:
    """Supports, then contradicts, then qualifies; each by document and text position; the
    evidence id last, so that the order is total (a keyset for cursors)."""
    stance = case({s: i for i, s in enumerate(STANCES)}, value=Evidence.stance, else_=len(STANCES))
    return stance, Span.document_id, Span.start, Evidence.id


def _evidence_query(session: Session, claim_id: str) -> Select:
    """(evidence, document id, stance rank, start) for the claim's evidence, in order."""
    if session.get(Claim, claim_id) is None:
        raise NotFound(f"no claim with id {claim_id!r}", id=claim_id)
    stance, document_id, start, evidence_id = _evidence_order()
    return (
        select(Evidence, document_id, stance, start)
        .join(Span, Span.id == Evidence.span_id)
        .where(Evidence.claim_id == claim_id)
        .order_by(stance, document_id, start, evidence_id)
    )


def list_evidence(session: Session, claim_id: str) -> list[EvidenceView]:
    """A claim's evidence, all of it: supports, then contradicts, then qualifies; each in
    document and text order. `evidence_page` gives it a page at a time."""
    rows = session.execute(_evidence_query(session, claim_id)).all()
    return [EvidenceView(evidence=row[0], document_id=row[1]) for row in rows]


def evidence_page(
    session: Session, claim_id: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[EvidenceView]:
    """`list_evidence` a page at a time: at most `limit` pieces after `cursor` (the previous
    page's `next_cursor`); `total` counts all the claim's evidence."""
    query = _evidence_query(session, claim_id)
    total = session.execute(
        select(func.count()).select_from(Evidence).where(Evidence.claim_id == claim_id)
    ).scalar_one()
    position = decode_keyset(cursor, {"k": int, "d": str, "s": int, "i": str})
    if position is not None:
        query = query.where(tuple_(*_evidence_order()) > tuple_(*position))
    rows = session.execute(query.limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        evidence, document_id, stance, start = rows[limit - 1]
        next_cursor = encode_cursor({"k": stance, "d": document_id, "s": start, "i": evidence.id})
    items = [EvidenceView(evidence=row[0], document_id=row[1]) for row in rows[:limit]]
    return Page(items=items, total=total, next_cursor=next_cursor)


def update_evidence(
    session: Session,
    claim_id: str,
    evidence_id: str,
    data: dict[str, Any],
    *,
    actor: str | None = None,
) -> EvidenceView:
    """Change the stance or the note of a piece of evidence (the span stays). Sent with the
    values it already has, it changes nothing and the change feed gets no record."""
    view = get_evidence(session, claim_id, evidence_id)
    unknown = set(data) - set(EVIDENCE_FIELDS)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not an evidence field that can be changed")
    new: dict[str, Any] = {}
    if "stance" in data:
        new["stance"] = _check_stance(data["stance"])
    if "note" in data:
        new["note"] = _check_note(data["note"])
    if not set_changed(view.evidence, new):
        return view
    session.add(view.evidence)
    changes.record(session, "evidence", evidence_id, "update", actor)
    session.flush()
    return view


def delete_evidence(
    session: Session, claim_id: str, evidence_id: str, *, actor: str | None = None
) -> None:
    view = get_evidence(session, claim_id, evidence_id)
    session.delete(view.evidence)
    changes.record(session, "evidence", evidence_id, "delete", actor)
    session.flush()


def evidence_claims_for_span(session: Session, span_id: str) -> list[str]:
    """The claims a span is evidence for, sorted. A span in this list must not be deleted
    (the spans API answers 409 naming them; the database's RESTRICT refuses it anyway)."""
    return list(
        session.execute(
            select(Evidence.claim_id)
            .where(Evidence.span_id == span_id)
            .distinct()
            .order_by(Evidence.claim_id)
        ).scalars()
    )
