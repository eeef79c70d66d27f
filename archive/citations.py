"""Citations: the notes and in-text references of a document, as CSL-JSON, linked to spans.

A citation keeps `raw`, the note exactly as printed (a substring of its document's text, or
empty when the note is missing), its marker `label`, and `csl`, one CSL-JSON item holding only
what the note states. Every write validates the item against the CSL-JSON schema. The item's
`id` is always the citation's id, so a bibliography built from several citations never has
two items with one id. `span_ids` are the spans of the same document the citation supports.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlmodel import Session

from archive import changes, csl
from archive.documents import (
    check_id,
    check_storable,
    check_text,
    get_document,
    get_text,
    random_id,
    set_changed,
)
from archive.errors import Conflict, InvalidInput, NotFound
from archive.models import CITATION_STATUSES, Citation, CitationSpan, Span, utcnow
from archive.pagination import Page, decode_cursor, encode_cursor

Format = Literal["csl-json", "bibtex", "text"]
FORMATS: tuple[str, ...] = ("csl-json", "bibtex", "text")

FIELDS = ("label", "raw", "csl", "status", "note", "span_ids")
MAX_LABEL = 64
MAX_RAW = 10_000
MAX_NOTE = 10_000
MAX_SPANS = 1_000
MAX_CSL_BYTES = 64 * 1024
MAX_CSL_DEPTH = 16
# CSL-JSON numbers travel through JavaScript tools (citeproc-js, Zotero): keep them exact there.
MAX_CSL_INT = 2**53


# --- validation -------------------------------------------------------------------------------


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    """Refuse JSON no database stores faithfully: NUL, lone surrogates, NaN, huge numbers."""
    if depth > MAX_CSL_DEPTH:
        raise InvalidInput(f"{where}: nested more than {MAX_CSL_DEPTH} levels deep")
    if isinstance(value, str):
        check_storable(value, where)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_CSL_INT:
            raise InvalidInput(f"{where}: the number {value} is too large")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{where}: numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{where}: keys must be strings")
            check_storable(key, where)
            _check_json(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}.{i}", depth + 1)
    else:
        raise InvalidInput(f"{where}: {type(value).__name__} is not a JSON value")


def check_csl(item: Any, citation_id: str) -> dict[str, Any]:
    """The CSL-JSON item to store for a citation: valid against the schema, its `id` ours."""
    if not isinstance(item, dict):
        raise InvalidInput("csl: must be one CSL-JSON item (an object)")
    _check_json(item, "csl")
    item = {**item, "id": citation_id}
    if len(json.dumps(item, ensure_ascii=False).encode("utf-8")) > MAX_CSL_BYTES:
        raise InvalidInput(f"csl: larger than {MAX_CSL_BYTES // 1024} KiB")
    try:
        csl.validate_csl(item)
    except InvalidInput as exc:
        errors = [
            {"loc": ["body", "csl", *e.get("loc", [])], "msg": e.get("msg", "invalid")}
            for e in exc.extra.get("errors", [])
        ]
        raise InvalidInput(f"csl: {exc.detail}", errors=errors) from None
    return item


def _check_status(value: Any) -> str:
    if value not in CITATION_STATUSES:
        raise InvalidInput(f"status: must be one of {', '.join(CITATION_STATUSES)}")
    return value


def check_raw_status(raw: str, status: str) -> None:
    """Only a missing note has an empty `raw`, and its status is 'empty'."""
    if raw == "" and status != "empty":
        raise InvalidInput(f"raw: empty, so the status must be 'empty', not {status!r}")
    if raw != "" and status == "empty":
        raise InvalidInput("status: 'empty' is for a note whose text is missing (raw = '')")


def _check_raw(session: Session, document_id: str, raw: str, status: str) -> None:
    """`raw` is the note as printed: it must occur in the document; only an empty note is ''."""
    check_raw_status(raw, status)
    if raw and raw not in get_text(session, get_document(session, document_id)):
        raise InvalidInput(
            f"raw: {raw[:60]!r} does not occur in document {document_id!r}; "
            "give the note exactly as printed"
        )


def _check_span_ids(session: Session, document_id: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("span_ids: must be a list of span ids")
    if len(value) > MAX_SPANS:
        raise InvalidInput(f"span_ids: at most {MAX_SPANS} spans")
    ids = list(dict.fromkeys(value))
    for span_id in ids:
        check_id(span_id, "span_ids")
    found = dict(session.execute(select(Span.id, Span.document_id).where(Span.id.in_(ids))).all())
    for span_id in ids:
        if span_id not in found:
            raise InvalidInput(f"span_ids: no span {span_id!r}")
        if found[span_id] != document_id:
            raise InvalidInput(
                f"span_ids: span {span_id!r} is in document {found[span_id]!r}; a citation "
                f"supports spans of its own document ({document_id!r})"
            )
    return ids


def _link(session: Session, citation_id: str, span_ids: list[str]) -> None:
    session.execute(delete(CitationSpan).where(CitationSpan.citation_id == citation_id))
    for span_id in span_ids:
        session.add(CitationSpan(citation_id=citation_id, span_id=span_id))


# --- storage ----------------------------------------------------------------------------------


def create_citation(
    session: Session, data: dict[str, Any], *, actor: str | None = None
) -> Citation:
    """Store a citation of a document: `document_id`, `raw` and `csl`, with optional `id`,
    `label`, `status` (default: `empty` when `raw` is empty, else `ok`), `note`, `span_ids`.
    """
    unknown = set(data) - {"id", "document_id", *FIELDS}
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not a citation field")
    document_id = data.get("document_id")
    if not isinstance(document_id, str):
        raise InvalidInput("document_id: required")
    try:
        get_document(session, document_id)
    except NotFound:
        raise InvalidInput(f"document_id: no document {document_id!r}") from None
    citation_id = data.get("id")
    if citation_id:
        check_id(citation_id)
        if session.get(Citation, citation_id) is not None:
            raise Conflict(f"a citation with id {citation_id!r} already exists", id=citation_id)
    else:
        citation_id = random_id(session, Citation, "cit")
    raw = check_text(data.get("raw", ""), "raw", MAX_RAW, nullable=False) or ""
    status = _check_status(data.get("status") or ("empty" if raw == "" else "ok"))
    _check_raw(session, document_id, raw, status)
    item = check_csl(data.get("csl") or {"type": "document"}, citation_id)
    span_ids = _check_span_ids(session, document_id, data.get("span_ids") or [])
    now = utcnow()
    citation = Citation(
        id=citation_id,
        document_id=document_id,
        label=check_text(data.get("label"), "label", MAX_LABEL, nullable=True),
        raw=raw,
        csl=item,
        status=status,
        note=check_text(data.get("note"), "note", MAX_NOTE, nullable=True),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(citation)
    session.flush()
    _link(session, citation_id, span_ids)
    changes.record(session, "citation", citation_id, "create", actor)
    session.flush()
    return citation


def get_citation(session: Session, citation_id: str) -> Citation:
    citation = session.get(Citation, citation_id)
    if citation is None:
        raise NotFound(f"no citation with id {citation_id!r}", id=citation_id)
    return citation


def span_ids_of(session: Session, citation_ids: Iterable[str]) -> dict[str, list[str]]:
    """The spans each citation supports, in text order."""
    ids = list(citation_ids)
    result: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.execute(
        select(CitationSpan.citation_id, CitationSpan.span_id)
        .join(Span, Span.id == CitationSpan.span_id)
        .where(CitationSpan.citation_id.in_(ids))
        .order_by(CitationSpan.citation_id, Span.start, Span.id)
    )
    for citation_id, span_id in rows:
        result[citation_id].append(span_id)
    return result


def citations_of_spans(session: Session, span_ids: Iterable[str]) -> dict[str, list[Citation]]:
    """The citations supporting each span, by id."""
    ids = list(span_ids)
    result: dict[str, list[Citation]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.execute(
        select(CitationSpan.span_id, Citation)
        .join(Citation, Citation.id == CitationSpan.citation_id)
        .where(CitationSpan.span_id.in_(ids))
        .order_by(CitationSpan.span_id, Citation.id)
    )
    for span_id, citation in rows:
        result[span_id].append(citation)
    return result


def list_citations(
    session: Session,
    *,
    document: str | None = None,
    status: str | None = None,
    span: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Citation]:
    """Citations in id order, filtered by document, status or a span they support."""
    conditions = []
    if document is not None:
        conditions.append(Citation.document_id == document)
    if status is not None:
        conditions.append(Citation.status == _check_status(status))
    if span is not None:
        conditions.append(
            Citation.id.in_(select(CitationSpan.citation_id).where(CitationSpan.span_id == span))
        )
    total = session.execute(
        select(func.count()).select_from(Citation).where(*conditions)
    ).scalar_one()
    position = decode_cursor(cursor, "after")
    query = select(Citation).where(*conditions).order_by(Citation.id).limit(limit + 1)
    if position is not None:
        query = query.where(Citation.id > str(position["after"]))
    rows = list(session.execute(query).scalars())
    next_cursor = encode_cursor({"after": rows[limit - 1].id}) if len(rows) > limit else None
    return Page(items=rows[:limit], total=total, next_cursor=next_cursor)


def update_citation(
    session: Session, citation_id: str, data: dict[str, Any], *, actor: str | None = None
) -> Citation:
    """Change any of label, raw, csl, status, note and span_ids (which replaces the links).

    The document and the id never change. Fields sent with the values they already have are
    no change: when nothing differs, the citation stays as it was (same `updated_at`) and
    the change feed gets no record.
    """
    citation = get_citation(session, citation_id)
    unknown = set(data) - set(FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInput(f"{field}: not a citation field that can be changed")
    new: dict[str, Any] = {}
    if "label" in data:
        new["label"] = check_text(data["label"], "label", MAX_LABEL, nullable=True)
    if "note" in data:
        new["note"] = check_text(data["note"], "note", MAX_NOTE, nullable=True)
    if "raw" in data:
        new["raw"] = check_text(data["raw"], "raw", MAX_RAW, nullable=False) or ""
    raw = new.get("raw", citation.raw)
    if "status" in data:
        new["status"] = _check_status(data["status"])
    elif "raw" in data and (raw == "") != (citation.status == "empty"):
        new["status"] = "empty" if raw == "" else "ok"
    if "raw" in data or "status" in data:
        _check_raw(session, citation.document_id, raw, new.get("status", citation.status))
    if "csl" in data:
        if data["csl"] is None:
            raise InvalidInput("csl: must not be null")
        new["csl"] = check_csl(data["csl"], citation.id)
    span_ids = None
    if "span_ids" in data:
        if data["span_ids"] is None:
            raise InvalidInput("span_ids: must not be null; [] removes every link")
        span_ids = _check_span_ids(session, citation.document_id, data["span_ids"])
    relink = span_ids is not None and set(span_ids) != set(
        span_ids_of(session, [citation.id])[citation.id]
    )
    if not set_changed(citation, new) and not relink:
        return citation
    if relink:
        _link(session, citation.id, span_ids)
    citation.updated_at = utcnow()
    session.add(citation)
    changes.record(session, "citation", citation.id, "update", actor)
    session.flush()
    return citation


def delete_citation(session: Session, citation_id: str, *, actor: str | None = None) -> None:
    """Delete a citation; its links to spans go with it, the spans stay."""
    citation = get_citation(session, citation_id)
    session.delete(citation)
    changes.record(session, "citation", citation_id, "delete", actor)
    session.flush()


# --- output -----------------------------------------------------------------------------------


def render(
    items: list[dict[str, Any]],
    fmt: str,
    style: str = csl.DEFAULT_STYLE,
    form: csl.Form = "bibliography",
) -> str:
    """CSL-JSON items as `csl-json` (an array, as CSL-JSON files are), `bibtex`, or `text`:
    formatted references in `style` (bibliography entries, or notes / in-text citations with
    `form="citation"`), one per line."""
    if fmt == "csl-json":
        return json.dumps(items, ensure_ascii=False, indent=2) + "\n"
    if fmt == "bibtex":
        return csl.to_bibtex(items)
    if fmt == "text":
        return "".join(line + "\n" for line in csl.format_text(items, style, form))
    raise InvalidInput(f"format: must be one of {', '.join(FORMATS)}")


def formatted(item: dict[str, Any], style: str = csl.DEFAULT_STYLE) -> str:
    """One item as a formatted reference in `style`."""
    return csl.format_text([item], style)[0]


def check_style(style: str | None) -> str:
    """The canonical name of a shipped style (default Chicago notes-bibliography)."""
    return csl.resolve_style(style) if style else csl.DEFAULT_STYLE
