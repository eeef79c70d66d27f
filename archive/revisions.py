"""New revisions of a document's text, and re-anchoring its spans to them.

`replace_text` stores the new text as the next revision (the old ones stay in
`document_texts`), then finds every span of the document again with `anchoring.reanchor`:
by position through the diff of the two texts ("exact"), by its quote with prefix and suffix
choosing among repeats ("moved"), approximately ("fuzzy"), else "orphaned". An orphaned span
is kept, flagged, with the position and words it had in the revision it still names; the
next revision tries again from there, so a passage that comes back is found again. All of it
happens in the caller's transaction: the revision lands with every span re-anchored, or not
at all.

`list_revisions` and `revision_text` read the stored revisions; `restore` makes an earlier
revision's text current again, as a new revision (history is never rewritten), so that an
accidental replacement can be undone and the spans it orphaned are found again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from archive import changes
from archive.anchoring import RevisionDiff, reanchor
from archive.documents import check_storable, get_document, get_text, sha256
from archive.errors import InvalidInput, NotFound
from archive.lookup import index as passage_index
from archive.models import ANCHOR_STATUSES, DocumentText, Span, utcnow
from archive.pagination import DEFAULT_LIMIT, Page, decode_keyset, encode_cursor


@dataclass
class Revision:
    """What `replace_text` did: the document's revision now, and how its spans fared."""

    document_id: str
    revision: int
    changed: bool
    anchoring: dict[str, int] = field(default_factory=dict)


def _counts(statuses: Counter[str]) -> dict[str, int]:
    return {status: statuses.get(status, 0) for status in ANCHOR_STATUSES}


def replace_text(
    session: Session, document_id: str, text: object, *, actor: str | None = None
) -> Revision:
    """Make `text` the document's current text and re-anchor every span to it.

    A text identical to the current one changes nothing (PUT is idempotent): the answer
    then counts the spans by the status they already have.
    """
    if not isinstance(text, str) or text == "":
        raise InvalidInput("text: a document needs a non-empty text")
    check_storable(text, "text")
    document = get_document(session, document_id)
    old_text = get_text(session, document)
    spans = list(
        session.execute(
            select(Span).where(Span.document_id == document.id).order_by(Span.start, Span.id)
        ).scalars()
    )
    if text == old_text:
        return Revision(
            document.id,
            document.revision,
            changed=False,
            anchoring=_counts(Counter(s.anchor_status for s in spans)),
        )
    now = utcnow()
    revision = document.revision + 1
    digest = sha256(text)
    session.add(
        DocumentText(
            document_id=document.id,
            revision=revision,
            text=text,
            sha256=digest,
            created_at=now,
            created_by=actor,
        )
    )
    old_revision = document.revision
    document.revision = revision
    document.length = len(text)
    document.text_sha256 = digest
    document.updated_at = now
    session.add(document)
    changes.record(session, "document", document.id, "update", actor)
    session.flush()
    passage_index.replace(session, document.id, revision, text)

    bases: dict[int, str | None] = {old_revision: old_text}
    diffs: dict[int, RevisionDiff] = {}
    statuses: Counter[str] = Counter()
    for span in spans:
        base = _base_text(session, document.id, span.revision, bases)
        if base is None:  # its revision is gone: only its quote can find it
            anchor = reanchor(text, text, 0, 0, span.exact, span.prefix, span.suffix)
        else:
            diff = diffs.get(span.revision)
            if diff is None:
                diff = diffs[span.revision] = RevisionDiff(base, text)
            anchor = reanchor(
                base, text, span.start, span.end, span.exact, span.prefix, span.suffix, diff=diff
            )
        if anchor.status == "orphaned" or anchor.start is None or anchor.end is None:
            span.anchor_status = "orphaned"
        else:
            span.start, span.end = anchor.start, anchor.end
            span.exact = anchor.exact or text[anchor.start : anchor.end]
            span.prefix, span.suffix = anchor.prefix or "", anchor.suffix or ""
            span.revision = revision
            span.anchor_status = anchor.status
        span.updated_at = now
        session.add(span)
        changes.record(session, "span", span.id, "update", actor)
        statuses[span.anchor_status] += 1
    session.flush()
    return Revision(document.id, revision, changed=True, anchoring=_counts(statuses))


def _base_text(
    session: Session, document_id: str, revision: int, cache: dict[int, str | None]
) -> str | None:
    """The text of an earlier revision (an orphaned span may name one before the last)."""
    if revision not in cache:
        row = session.get(DocumentText, (document_id, revision))
        cache[revision] = row.text if row is not None else None
    return cache[revision]


# --- reading and restoring revisions ------------------------------------------------------


@dataclass(frozen=True)
class RevisionInfo:
    """One stored revision of a text, without the text."""

    revision: int
    length: int
    text_sha256: str
    created_at: datetime
    created_by: str | None


def list_revisions(
    session: Session, document_id: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[RevisionInfo]:
    """The document's stored revisions, newest first, a page at a time (the texts are not
    read: their lengths are counted by the database)."""
    document = get_document(session, document_id)
    query = (
        select(
            DocumentText.revision,
            func.length(DocumentText.text),
            DocumentText.sha256,
            DocumentText.created_at,
            DocumentText.created_by,
        )
        .where(DocumentText.document_id == document.id)
        .order_by(DocumentText.revision.desc())
    )
    total = session.execute(
        select(func.count()).where(DocumentText.document_id == document.id)
    ).scalar_one()
    position = decode_keyset(cursor, {"before": int})
    if position is not None:
        query = query.where(DocumentText.revision < position[0])
    rows = session.execute(query.limit(limit + 1)).all()
    items = [RevisionInfo(r[0], int(r[1]), r[2], r[3], r[4]) for r in rows[:limit]]
    next_cursor = encode_cursor({"before": items[-1].revision}) if len(rows) > limit else None
    return Page(items=items, total=total, next_cursor=next_cursor)


def revision_text(session: Session, document_id: str, revision: int) -> DocumentText:
    """The stored revision `revision` of the document (NotFound naming what is missing)."""
    document = get_document(session, document_id)
    row = session.get(DocumentText, (document.id, revision))
    if row is None:
        raise NotFound(
            f"document {document.id!r} has no revision {revision} (its revisions are 1 to "
            f"{document.revision}; GET /v1/documents/{document.id}/revisions lists them)",
            id=document.id,
        )
    return row


def restore(
    session: Session, document_id: str, revision: int, *, actor: str | None = None
) -> Revision:
    """Make revision `revision`'s text the current one, as a new revision, and re-anchor
    every span to it (as `replace_text` does: spans orphaned since are found again). When it
    is already the current text nothing changes."""
    text = revision_text(session, document_id, revision).text
    return replace_text(session, document_id, text, actor=actor)
