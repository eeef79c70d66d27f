"""Quote spans: create, read, list, change and delete them; how faithfully one quotes another.

A span points into its document's text by code-point offsets (`start`, `end`: a W3C
TextPositionSelector) and repeats the words it covers (`exact`, with up to 32 characters of
`prefix` and `suffix`: a TextQuoteSelector). Every function that sets a span's position
(here and in the import) goes through `span_target`, so for every span that is not orphaned
`exact == text[start:end]` of the revision it names, which is its document's current
revision. An orphaned span (a new revision deleted its words, see `archive.revisions`)
keeps the position and words it had in the revision it names: what it quoted is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlmodel import Session

from archive import changes
from archive.anchoring import check_offsets, context, locate
from archive.claims import evidence_claims_for_span, slugify
from archive.db import folded
from archive.documents import (
    check_id,
    check_storable,
    check_tags,
    folded_pattern,
    free_id,
    get_document,
    get_text,
    set_changed,
)
from archive.errors import Conflict, InvalidInput, NotFound
from archive.fidelity import fidelity
from archive.models import (
    ANCHOR_STATUSES,
    SPAN_KINDS,
    Citation,
    CitationSpan,
    Span,
    utcnow,
)
from archive.pagination import INT4, Page, decode_keyset, encode_cursor

FIELDS = ("kind", "speaker", "quoted_from", "note", "tags", "citation_ids")
TARGET = ("start", "end", "exact", "prefix", "suffix")
MAX_SPEAKER = 200
MAX_NOTE = 10_000
MAX_CITATIONS = 100
MAX_CONTEXT = 1_000  # a prefix or suffix given to choose among repeats


# --- checks ---------------------------------------------------------------------------------


def _optional_text(value: Any, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be a string or null")
    if not value.strip():
        raise InvalidInput(f"{field}: must not be blank (send null for none)")
    if len(value) > limit:
        raise InvalidInput(f"{field}: longer than {limit} characters")
    return check_storable(value, field)


def _check_kind(value: Any) -> str:
    if value not in SPAN_KINDS:
        raise InvalidInput(f"kind: must be one of {', '.join(SPAN_KINDS)}")
    return value


def _check_citations(session: Session, value: Any, document_id: str) -> list[str]:
    """Citation ids, each of a citation of the span's own document."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise InvalidInput("citation_ids: must be a list of citation ids")
    if len(value) > MAX_CITATIONS:
        raise InvalidInput(f"citation_ids: at most {MAX_CITATIONS}")
    ids = list(dict.fromkeys(value))
    found = dict(
        session.execute(select(Citation.id, Citation.document_id).where(Citation.id.in_(ids))).all()
    )
    for cid in ids:
        if cid not in found:
            raise InvalidInput(f"citation_ids: no citation {cid!r}")
        if found[cid] != document_id:
            raise InvalidInput(
                f"citation_ids: citation {cid!r} belongs to document {found[cid]!r}, "
                f"not to this span's document {document_id!r}"
            )
    return ids


def _check_quoted_from(session: Session, value: Any, span_id: str | None) -> str | None:
    """An existing span other than this one, whose own chain does not lead back here."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("quoted_from: must be a span id or null")
    if value == span_id:
        raise InvalidInput("quoted_from: a span cannot quote itself")
    seen: set[str] = set()
    current: str | None = value
    while current is not None and current not in seen:
        seen.add(current)
        row = session.execute(select(Span.quoted_from).where(Span.id == current)).first()
        if row is None:
            if current == value:
                raise InvalidInput(f"quoted_from: no span {value!r}")
            break
        if span_id is not None and row[0] == span_id:
            raise InvalidInput(
                f"quoted_from: span {value!r} already leads back to {span_id!r} through "
                "quoted_from; a chain of quotations cannot be a circle"
            )
        current = row[0]
    return value


def _fields(
    session: Session, data: dict[str, Any], *, document_id: str, span_id: str | None
) -> dict[str, Any]:
    """The checked values of the non-positional fields present in `data`."""
    checked: dict[str, Any] = {}
    if "kind" in data:
        checked["kind"] = _check_kind(data["kind"])
    if "speaker" in data:
        checked["speaker"] = _optional_text(data["speaker"], "speaker", MAX_SPEAKER)
    if "note" in data:
        checked["note"] = _optional_text(data["note"], "note", MAX_NOTE)
    if "tags" in data:
        checked["tags"] = check_tags(data["tags"])
    if "quoted_from" in data:
        checked["quoted_from"] = _check_quoted_from(session, data["quoted_from"], span_id)
    if "citation_ids" in data:
        checked["citation_ids"] = _check_citations(session, data["citation_ids"], document_id)
    return checked


def _offset(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field}: must be an integer")
    if not -INT4 <= value <= INT4:
        raise InvalidInput(f"{field}: {value} is out of range")
    return value


def _context_text(value: Any, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be a string")
    if len(value) > MAX_CONTEXT:
        raise InvalidInput(f"{field}: longer than {MAX_CONTEXT} characters")
    return check_storable(value, field)


def span_target(text: str, data: dict[str, Any]) -> tuple[int, int]:
    """Where in `text` the span lies: from `start` and `end`, or by finding `exact`.

    Every selector given must hold: with offsets, `exact` (and `prefix`/`suffix`) must be
    what the text has there. Raises InvalidInput (offsets outside the text or inside a
    character, a quote that is absent) or Conflict (a quote that occurs more than once and
    that no prefix/suffix decides; its `candidates` list each occurrence).
    """
    exact = data.get("exact")
    if exact is not None and (not isinstance(exact, str) or exact == ""):
        raise InvalidInput("exact: must be a non-empty string")
    if exact is not None:
        check_storable(exact, "exact")
    prefix = _context_text(data.get("prefix"), "prefix")
    suffix = _context_text(data.get("suffix"), "suffix")
    if data.get("start") is not None or data.get("end") is not None:
        if data.get("start") is None or data.get("end") is None:
            raise InvalidInput("start and end: give both, or neither and `exact`")
        start, end = _offset(data["start"], "start"), _offset(data["end"], "end")
        check_offsets(text, start, end)
        found = text[start:end]
        if exact is not None and found != exact:
            raise InvalidInput(
                f"exact: the text at {start}..{end} is {found[:60]!r}, not {exact[:60]!r}"
            )
        if prefix is not None and not text[:start].endswith(prefix):
            raise InvalidInput(f"prefix: the text before {start} does not end with it")
        if suffix is not None and not text[end:].startswith(suffix):
            raise InvalidInput(f"suffix: the text after {end} does not begin with it")
        return start, end
    if exact is None:
        raise InvalidInput(
            "give `start` and `end`, or `exact` (with `prefix` or `suffix` to choose among repeats)"
        )
    start, end = locate(text, exact, prefix, suffix)
    check_offsets(text, start, end)
    return start, end


# --- create, read, list -------------------------------------------------------------------


def _free_id(session: Session, exact: str) -> str:
    """A readable id from the span's first words, made unique: `we-re-supposed-to-think`."""
    words = " ".join(exact.split()[:6])
    base = slugify(words)[:48].rstrip("-")
    if base in ("", "claim"):
        base = "span"
    return free_id(session, Span, base)


def _link(session: Session, span_id: str, citation_ids: list[str]) -> None:
    session.execute(delete(CitationSpan).where(CitationSpan.span_id == span_id))
    for cid in citation_ids:
        session.add(CitationSpan(citation_id=cid, span_id=span_id))


def create_span(
    session: Session, document_id: str, data: dict[str, Any], *, actor: str | None = None
) -> Span:
    """Store a span of the document's current text, from `start`/`end` or `exact`.

    `data` may also hold `id` (default: a slug of the first words, made unique), `kind`
    (default "quote"), `speaker`, `quoted_from`, `note`, `tags` and `citation_ids`.
    """
    unknown = set(data) - {"id", *FIELDS, *TARGET}
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not a span field")
    document = get_document(session, document_id)
    span_id = data.get("id")
    if span_id is not None:
        if not isinstance(span_id, str):
            raise InvalidInput("id: must be a string")
        check_id(span_id)
        if session.get(Span, span_id) is not None:
            raise Conflict(f"a span with id {span_id!r} already exists", id=span_id)
    fields = _fields(session, data, document_id=document.id, span_id=span_id)
    text = get_text(session, document)
    start, end = span_target(text, data)
    exact = text[start:end]
    if span_id is None:
        span_id = _free_id(session, exact)
    prefix, suffix = context(text, start, end)
    now = utcnow()
    span = Span(
        id=span_id,
        document_id=document.id,
        revision=document.revision,
        start=start,
        end=end,
        exact=exact,
        prefix=prefix,
        suffix=suffix,
        kind=fields.get("kind", "quote"),
        speaker=fields.get("speaker"),
        quoted_from=fields.get("quoted_from"),
        note=fields.get("note"),
        tags=fields.get("tags", []),
        anchor_status="exact",
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(span)
    session.flush()
    _link(session, span_id, fields.get("citation_ids", []))
    changes.record(session, "span", span_id, "create", actor)
    session.flush()
    return span


def get_span(session: Session, span_id: str) -> Span:
    span = session.get(Span, span_id)
    if span is None:
        raise NotFound(f"no span with id {span_id!r}", id=span_id)
    return span


def citation_ids_of(session: Session, span_ids: list[str]) -> dict[str, list[str]]:
    """The citations linked to each span, sorted."""
    result: dict[str, list[str]] = {sid: [] for sid in span_ids}
    if not span_ids:
        return result
    rows = session.execute(
        select(CitationSpan.span_id, CitationSpan.citation_id)
        .where(CitationSpan.span_id.in_(span_ids))
        .order_by(CitationSpan.span_id, CitationSpan.citation_id)
    )
    for span_id, citation_id in rows:
        result[span_id].append(citation_id)
    return result


def list_spans(
    session: Session,
    *,
    document: str | None = None,
    kind: str | None = None,
    speaker: str | None = None,
    anchor_status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Span]:
    """Spans in text order (by document, then start, end and id), filtered.

    `speaker` matches part of the speaker's name, ignoring case in every script, with ‘ ’
    and ' alike (`archive.db.fold`): `mikoyan` finds Anastas Mikoyan's words. An orphaned
    span sorts by the position it had in the revision it names.
    """
    conditions: list[Any] = []
    if document is not None:
        conditions.append(Span.document_id == document)
    if kind is not None:
        conditions.append(Span.kind == _check_kind(kind))
    if anchor_status is not None:
        if anchor_status not in ANCHOR_STATUSES:
            raise InvalidInput(f"anchor_status: must be one of {', '.join(ANCHOR_STATUSES)}")
        conditions.append(Span.anchor_status == anchor_status)
    if speaker is not None:
        check_storable(speaker, "speaker")
        pattern = folded_pattern(speaker)
        conditions.append(folded(Span.speaker).like(pattern, escape="\\"))
    total = session.execute(select(func.count()).select_from(Span).where(*conditions)).scalar_one()
    key = tuple_(Span.document_id, Span.start, Span.end, Span.id)
    query = select(Span).where(*conditions)
    position = decode_keyset(cursor, {"d": str, "s": int, "e": int, "i": str})
    if position is not None:
        query = query.where(key > tuple_(*position))
    query = query.order_by(Span.document_id, Span.start, Span.end, Span.id).limit(limit + 1)
    rows = list(session.execute(query).scalars())
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(
            {"d": last.document_id, "s": last.start, "e": last.end, "i": last.id}
        )
    return Page(items=rows[:limit], total=total, next_cursor=next_cursor)


# --- change, delete -----------------------------------------------------------------------


def update_span(
    session: Session, span_id: str, data: dict[str, Any], *, actor: str | None = None
) -> Span:
    """Change a span's fields, or re-target it in the current text.

    Re-targeting takes `start` and `end`, or `exact` (with `prefix`/`suffix` to choose
    among repeats), exactly as on create; the span is then anchored to the current revision
    with status "exact" (which is how an orphaned span is given a new home).

    Fields sent with the values they already have (a target where the span already is) are
    no change: when nothing differs, the span stays as it was (same `updated_at`) and the
    change feed gets no record.
    """
    span = get_span(session, span_id)
    unknown = set(data) - {*FIELDS, *TARGET}
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not a span field that can be changed")
    if "kind" in data and data["kind"] is None:
        raise InvalidInput(f"kind: must be one of {', '.join(SPAN_KINDS)}")
    new: dict[str, Any] = {}
    if any(data.get(k) is not None for k in TARGET):
        if all(data.get(k) is None for k in ("start", "end", "exact")):
            raise InvalidInput(
                "prefix/suffix: they choose among repeats of `exact`; send `exact` too"
            )
        document = get_document(session, span.document_id)
        text = get_text(session, document)
        start, end = span_target(text, data)
        prefix, suffix = context(text, start, end)
        new |= {"start": start, "end": end, "exact": text[start:end]}
        new |= {"prefix": prefix, "suffix": suffix, "revision": document.revision}
        new["anchor_status"] = "exact"
    fields = _fields(session, data, document_id=span.document_id, span_id=span.id)
    links = fields.pop("citation_ids", None)
    new |= fields
    relink = links is not None and sorted(links) != citation_ids_of(session, [span.id])[span.id]
    if not set_changed(span, new) and not relink:
        return span
    if relink:
        _link(session, span.id, links)
    span.updated_at = utcnow()
    session.add(span)
    changes.record(session, "span", span.id, "update", actor)
    session.flush()
    return span


def delete_span(session: Session, span_id: str, *, actor: str | None = None) -> None:
    """Delete a span and its citation links. Refused (Conflict, naming the claims) while it
    is evidence for a claim; spans that quote it lose their `quoted_from`."""
    span = get_span(session, span_id)
    claims = evidence_claims_for_span(session, span_id)
    if claims:
        raise Conflict(
            f"span {span_id!r} is evidence for {len(claims)} claim(s) "
            f"({', '.join(claims[:5])}{', …' if len(claims) > 5 else ''}); "
            "remove that evidence first",
            claims=claims,
        )
    now = utcnow()
    for quoting in session.execute(select(Span).where(Span.quoted_from == span_id)).scalars():
        quoting.quoted_from = None
        quoting.updated_at = now
        changes.record(session, "span", quoting.id, "update", actor)
    session.flush()
    session.delete(span)
    changes.record(session, "span", span_id, "delete", actor)
    session.flush()


# --- fidelity -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SpanFidelity:
    span_id: str
    quoted_from: str
    quote: str
    source: str
    verdict: str
    score: float
    diff: list[dict[str, str]]
    truncated: bool = False
    punctuation: bool = False


def span_fidelity(session: Session, span_id: str) -> SpanFidelity:
    """How faithfully span `span_id` quotes the span it is `quoted_from`.

    Conflict when `quoted_from` is not set: the span is fine, but in its present state there
    is nothing to compare it with (PATCH `quoted_from` and ask again).
    """
    span = get_span(session, span_id)
    if span.quoted_from is None:
        raise Conflict(
            f"span {span_id!r} does not say which span it quotes (quoted_from is null); "
            "set quoted_from to compare it with its source"
        )
    source = get_span(session, span.quoted_from)
    result = fidelity(span.exact, source.exact)
    return SpanFidelity(
        span_id=span.id,
        quoted_from=source.id,
        quote=span.exact,
        source=source.exact,
        verdict=result.verdict,
        score=round(result.score, 4),
        diff=result.diff,
        truncated=result.truncated,
        punctuation=result.punctuation,
    )
