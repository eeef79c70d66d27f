"""The archive as NDJSON: one object per line with a `type` field.

Order: documents (with their text), citations, spans, claims, evidence. `import_lines` takes
the same format (a line without `type` is a document) and writes everything in the caller's
transaction, after checking every line: a malformed line is reported by its number and
nothing is written. Spans may be given by offsets or, for hand-written data such as the
bundled corpus, by their exact text (with prefix/suffix where it repeats).

A record is held to what the API and `archive check` hold the archive to: a citation's
status agrees with its `raw` (only a missing note is ''); a span that is not orphaned names
its document's current revision, its `exact` is what that text has at its offsets, and
its `prefix` and `suffix` agree with the text around them (as when the API creates a
span, a shorter context that agrees is taken, and the full one stored).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from archive.documents import (
    METADATA_FIELDS,
    _check_metadata,
    check_id,
    check_storable,
    new_id,
    sha256,
    slugify,
)
from archive.errors import ArchiveError, InvalidInput
from archive.lookup import index as passage_index
from archive.models import (
    ANCHOR_STATUSES,
    CITATION_STATUSES,
    SPAN_KINDS,
    STANCES,
    Change,
    Citation,
    CitationSpan,
    Claim,
    Document,
    DocumentText,
    Evidence,
    Span,
    utcnow,
)

TYPES = ("document", "citation", "span", "claim", "evidence")
BATCH = 500

Progress = Callable[[int], None]
# Each document's current revision and its text, by id: those of the documents being
# imported as they are read, others loaded once each from the archive (`_load_texts`).
Texts = dict[str, tuple[int, str]]


def iso(value: datetime | None) -> str | None:
    """RFC 3339 UTC with a `Z`, the form every time takes in the API and in exports."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{where}: {value!r} is not an RFC 3339 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- export -----------------------------------------------------------------------------------


def export_records(session: Session) -> Iterator[dict[str, Any]]:
    """Every record of the archive in export order, each as a JSON-ready dict."""
    texts = select(Document, DocumentText.text).join(
        DocumentText,
        (DocumentText.document_id == Document.id) & (DocumentText.revision == Document.revision),
    )
    for doc, text in session.execute(texts.order_by(Document.id)).yield_per(200):
        yield document_record(doc, text)
    links: dict[str, list[str]] = {}
    for citation_id, span_id in session.execute(
        select(CitationSpan.citation_id, CitationSpan.span_id).order_by(CitationSpan.citation_id)
    ):
        links.setdefault(span_id, []).append(citation_id)
    for citation in session.execute(select(Citation).order_by(Citation.id)).scalars():
        yield citation_record(citation)
    for span in session.execute(select(Span).order_by(Span.id)).scalars():
        yield span_record(span, links.get(span.id, []))
    for claim in session.execute(select(Claim).order_by(Claim.id)).scalars():
        yield claim_record(claim)
    for evidence in session.execute(select(Evidence).order_by(Evidence.id)).scalars():
        yield evidence_record(evidence)


def export_lines(session: Session) -> Iterator[str]:
    for record in export_records(session):
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def document_record(doc: Document, text: str) -> dict[str, Any]:
    return {
        "type": "document",
        "id": doc.id,
        **{k: getattr(doc, k) for k in METADATA_FIELDS},
        "revision": doc.revision,
        "created_at": iso(doc.created_at),
        "updated_at": iso(doc.updated_at),
        "text": text,
    }


def citation_record(c: Citation) -> dict[str, Any]:
    return {
        "type": "citation",
        "id": c.id,
        "document_id": c.document_id,
        "label": c.label,
        "raw": c.raw,
        "csl": c.csl,
        "status": c.status,
        "note": c.note,
        "created_by": c.created_by,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def span_record(s: Span, citation_ids: list[str]) -> dict[str, Any]:
    return {
        "type": "span",
        "id": s.id,
        "document_id": s.document_id,
        "revision": s.revision,
        "start": s.start,
        "end": s.end,
        "exact": s.exact,
        "prefix": s.prefix,
        "suffix": s.suffix,
        "kind": s.kind,
        "speaker": s.speaker,
        "quoted_from": s.quoted_from,
        "note": s.note,
        "tags": s.tags,
        "citation_ids": sorted(citation_ids),
        "anchor_status": s.anchor_status,
        "created_by": s.created_by,
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
    }


def claim_record(c: Claim) -> dict[str, Any]:
    return {
        "type": "claim",
        "id": c.id,
        "statement": c.statement,
        "tags": c.tags,
        "note": c.note,
        "created_by": c.created_by,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def evidence_record(e: Evidence) -> dict[str, Any]:
    return {
        "type": "evidence",
        "id": e.id,
        "claim_id": e.claim_id,
        "span_id": e.span_id,
        "stance": e.stance,
        "note": e.note,
        "recorded_by": e.recorded_by,
        "recorded_at": iso(e.recorded_at),
    }


# --- import -----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    counts: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TYPES})

    def __str__(self) -> str:
        def plural(kind: str, n: int) -> str:
            return kind if n == 1 or kind == "evidence" else kind + "s"

        return ", ".join(f"{n} {plural(t, n)}" for t, n in self.counts.items() if n)


@dataclass
class _Line:
    number: int
    record: dict[str, Any]


# No record of the archive nests deeper than a few levels (a citation's CSL item: an object
# in a list in an object); a line nested deeper is refused before anything walks it.
MAX_DEPTH = 32


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and objects in `value` nest more than `limit` levels deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _parse(lines: Iterable[str]) -> dict[str, list[_Line]]:
    by_type: dict[str, list[_Line]] = {t: [] for t in TYPES}
    errors: list[str] = []
    order = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(f"line {number}: not JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            errors.append(f"line {number}: nested more than {MAX_DEPTH} levels deep")
            continue
        if too_deep(record):
            errors.append(f"line {number}: nested more than {MAX_DEPTH} levels deep")
            continue
        if not isinstance(record, dict):
            errors.append(f"line {number}: expected a JSON object")
            continue
        kind = record.get("type", "document")
        if kind not in TYPES:
            errors.append(f"line {number}: unknown type {kind!r} (one of {', '.join(TYPES)})")
            continue
        if TYPES.index(kind) < order:
            errors.append(
                f"line {number}: a {kind} after a {TYPES[order]}; "
                "the order is documents, citations, spans, claims, evidence"
            )
            continue
        order = TYPES.index(kind)
        by_type[kind].append(_Line(number, record))
        if len(errors) >= 20:
            break
    if errors:
        raise InvalidInput("; ".join(errors), errors=errors)
    return by_type


# Fields stored in columns of limited width (archive/models.py): checked on import so that
# an archive exported from SQLite (which does not enforce widths) imports into PostgreSQL.
WIDTHS = {"label": 64, "language": 35, "created_by": 64, "recorded_by": 64}


def _str(record: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{where}: `{key}` is required")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: `{key}` must be a string")
    if key in WIDTHS and len(value) > WIDTHS[key]:
        raise InvalidInput(f"{where}: `{key}` is longer than {WIDTHS[key]} characters")
    return check_storable(value, f"{where}: {key}")


def _json_storable(value: Any, where: str) -> None:
    """NUL or lone surrogates anywhere inside a JSON value (creators, CSL, tags)."""
    if isinstance(value, str):
        check_storable(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _json_storable(key, where)
            _json_storable(item, where)
    elif isinstance(value, list):
        for item in value:
            _json_storable(item, where)


def _tags(record: dict[str, Any], where: str) -> list[str]:
    tags = record.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidInput(f"{where}: `tags` must be a list of strings")
    _json_storable(tags, f"{where}: tags")
    return tags


def _existing(session: Session, model: Any, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), BATCH):
        chunk = ids[i : i + BATCH]
        found.update(session.execute(select(model.id).where(model.id.in_(chunk))).scalars())
    return found


def _unique(lines: list[_Line], kind: str, session: Session, model: Any, prefix: str) -> None:
    """Check the given ids; give records without one an id (a slug of a document's title)."""
    seen: dict[str, int] = {}
    for line in lines:
        rid = line.record.get("id")
        if rid is None and kind == "document" and isinstance(line.record.get("title"), str):
            base, n = slugify(line.record["title"]), 2
            rid = base
            while rid in seen or session.get(model, rid) is not None:
                rid, n = f"{base}-{n}", n + 1
        rid = rid or new_id(prefix)
        if not isinstance(rid, str):
            raise InvalidInput(f"line {line.number}: `id` must be a string")
        try:
            check_id(rid)
        except InvalidInput as exc:
            raise InvalidInput(f"line {line.number}: {exc.detail}") from None
        if rid in seen:
            raise InvalidInput(f"line {line.number}: {kind} id {rid!r} repeats line {seen[rid]}")
        seen[rid] = line.number
        line.record["id"] = rid
    taken = _existing(session, model, list(seen))
    if taken:
        rid = sorted(taken)[0]
        raise InvalidInput(f"line {seen[rid]}: {kind} {rid!r} is already in the archive")


def import_lines(
    session: Session,
    lines: Iterable[str],
    *,
    actor: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Check every line, then write them all in the caller's transaction."""
    parsed = _parse(lines)
    report = ImportReport()
    step = progress or (lambda n: None)
    texts = _import_documents(session, parsed["document"], actor, step)
    _import_citations(session, parsed["citation"], texts, actor, step)
    _import_spans(session, parsed["span"], texts, actor, step)
    _import_claims(session, parsed["claim"], actor, step)
    _import_evidence(session, parsed["evidence"], actor, step)
    for kind in TYPES:
        report.counts[kind] = len(parsed[kind])
    session.flush()
    return report


def split_lines(text: str) -> list[str]:
    """An NDJSON text's lines: split at line feeds only (with a carriage return before one
    dropped), since U+2028, U+2029 and U+0085, which `str.splitlines` also splits at, may
    stand unescaped inside a JSON string, as the export writes them."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and not lines[-1]:
        lines.pop()
    return lines


def count_lines(lines: list[str]) -> int:
    return sum(1 for line in lines if line.strip())


def _changes(session: Session, entity: str, ids: list[str], actor: str | None) -> None:
    now = utcnow()
    rows = [
        {"entity": entity, "entity_id": i, "action": "create", "actor": actor, "at": now}
        for i in ids
    ]
    for i in range(0, len(rows), BATCH):
        session.execute(insert(Change), rows[i : i + BATCH])


def _bulk(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), BATCH):
        session.execute(insert(model), rows[i : i + BATCH])


def _import_documents(
    session: Session, lines: list[_Line], actor: str | None, step: Progress
) -> Texts:
    _unique(lines, "document", session, Document, "doc")
    docs: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    by_id: Texts = {}
    now = utcnow()
    for line in lines:
        r, where = line.record, f"line {line.number}"
        text = r.get("text")
        if not isinstance(text, str) or not text:
            raise InvalidInput(f"{where}: a document needs a non-empty `text`")
        check_storable(text, f"{where}: text")
        meta = {k: r.get(k) for k in METADATA_FIELDS}
        meta["title"] = _str(r, "title", where, required=True)
        meta["kind"] = meta["kind"] or "secondary"
        meta["creators"] = meta["creators"] or []
        if not isinstance(meta["creators"], list):
            raise InvalidInput(f"{where}: `creators` must be a list of {{name, role}}")
        for key in ("published", "publisher", "source_url", "language", "rights", "description"):
            _str(r, key, where)
        try:
            _check_metadata(meta)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc.detail}") from None
        _json_storable(meta["creators"], f"{where}: creators")
        revision = r.get("revision") or 1
        if not isinstance(revision, int) or not 1 <= revision < 2**31:
            raise InvalidInput(f"{where}: `revision` must be a positive integer")
        created = parse_time(r.get("created_at"), where) or now
        updated = parse_time(r.get("updated_at"), where) or created
        digest = sha256(text)
        docs.append(
            meta
            | {
                "id": r["id"],
                "revision": revision,
                "text_sha256": digest,
                "length": len(text),
                "created_at": created,
                "updated_at": updated,
            }
        )
        texts.append(
            {
                "document_id": r["id"],
                "revision": revision,
                "text": text,
                "sha256": digest,
                "created_at": updated,
            }
        )
        by_id[r["id"]] = (revision, text)
    # The texts go in as multi-row INSERTs ("insertmanyvalues", which SQLAlchemy uses for
    # an executemany with RETURNING) rather than one statement per row: the search index's
    # triggers then run inside one statement per batch, and SQLite's FTS5 flushes its
    # pending terms at each statement's end; per row, that doubled the import's time.
    text_insert = insert(DocumentText).returning(DocumentText.document_id)
    for i in range(0, len(docs), BATCH):
        session.execute(insert(Document), docs[i : i + BATCH])
        session.execute(text_insert, texts[i : i + BATCH])
        step(len(docs[i : i + BATCH]))
    passage_index.add(session, [(doc_id, rev, body) for doc_id, (rev, body) in by_id.items()])
    _changes(session, "document", list(by_id), actor)
    return by_id


def _load_texts(session: Session, doc_ids: Iterable[Any], texts: Texts) -> None:
    """Add to `texts` the current revision and text of the documents named that are already
    in the archive (a few queries in all, not one per record); ids of no document stay out."""
    missing = [i for i in dict.fromkeys(doc_ids) if isinstance(i, str) and i not in texts]
    query = select(Document.id, Document.revision, DocumentText.text).join(
        DocumentText,
        (DocumentText.document_id == Document.id) & (DocumentText.revision == Document.revision),
    )
    for i in range(0, len(missing), BATCH):
        for doc_id, revision, text in session.execute(
            query.where(Document.id.in_(missing[i : i + BATCH]))
        ):
            texts[doc_id] = (revision, text)


def _import_citations(
    session: Session, lines: list[_Line], texts: Texts, actor: str | None, step: Progress
) -> None:
    if not lines:
        return
    from archive.citations import check_raw_status
    from archive.csl import validate_csl

    _unique(lines, "citation", session, Citation, "cit")
    _load_texts(session, (line.record.get("document_id") for line in lines), texts)
    rows = []
    now = utcnow()
    for line in lines:
        r, where = line.record, f"line {line.number}"
        doc_id = _str(r, "document_id", where, required=True)
        if doc_id not in texts:
            raise InvalidInput(f"{where}: no document {doc_id!r} for this citation")
        csl = r.get("csl") or {"id": r["id"], "type": "document"}
        if not isinstance(csl, dict):
            raise InvalidInput(f"{where}: `csl` must be a CSL-JSON object")
        _json_storable(csl, f"{where}: csl")
        try:
            validate_csl(csl)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc.detail}") from None
        raw = _str(r, "raw", where) or ""
        status = r.get("status") or ("empty" if raw == "" else "ok")
        if status not in CITATION_STATUSES:
            raise InvalidInput(f"{where}: `status` must be one of {', '.join(CITATION_STATUSES)}")
        try:
            # that raw occurs in the text is checked when a citation is created, not here: a
            # later revision may leave the note out (`archive check` reports it), and the
            # export of such an archive must import again
            check_raw_status(raw, status)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc.detail}") from None
        created = parse_time(r.get("created_at"), where) or now
        rows.append(
            {
                "id": r["id"],
                "document_id": doc_id,
                "label": _str(r, "label", where),
                "raw": raw,
                "csl": csl,
                "status": status,
                "note": _str(r, "note", where),
                "created_by": _str(r, "created_by", where) or actor,
                "created_at": created,
                "updated_at": parse_time(r.get("updated_at"), where) or created,
            }
        )
    _bulk(session, Citation, rows)
    _changes(session, "citation", [r["id"] for r in rows], actor)
    step(len(rows))


def _span_position(
    record: dict[str, Any],
    document_id: str,
    current: tuple[int, str],
    status: str,
    exact: str | None,
    prefix: str | None,
    suffix: str | None,
) -> tuple[int, int, int, str, str, str]:
    """A span record's revision, start, end, exact, prefix and suffix, checked as the API
    and `archive check` check them.

    Given by its quote (`exact`, with `prefix`/`suffix` to choose among repeats), it is
    found in the current text exactly as `POST /v1/documents/{id}/spans` finds it. Given by
    offsets, it must name the current revision and hold `integrity.span_problem`'s
    invariant there: `exact` is the text at its offsets and `prefix`/`suffix` the context
    the archive keeps (one omitted, or shorter but agreeing with the text, is filled in
    whole, as the API does). An orphaned span naming an earlier revision keeps the position
    and words it had there, unchecked: an export carries only each document's current text.
    """
    from archive.anchoring import context
    from archive.integrity import span_problem
    from archive.spans import span_target

    latest, text = current
    revision = record.get("revision")
    if revision is None:
        revision = latest
    elif isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise InvalidInput("`revision` must be a positive integer")
    if revision > latest:
        raise InvalidInput(
            f"document {document_id!r} has no revision {revision}; its current revision is {latest}"
        )
    if status != "orphaned" and revision != latest:
        raise InvalidInput(
            f"revision {revision} is not the current revision of document {document_id!r} "
            f"({latest}); only an orphaned span names an earlier one"
        )
    start, end = record.get("start"), record.get("end")
    if start is None and end is None:
        if not exact:
            raise InvalidInput("a span needs `start` and `end`, or `exact`")
        if revision != latest:
            raise InvalidInput("a span given by `exact` is found in the current text")
        start, end = span_target(text, {"exact": exact, "prefix": prefix, "suffix": suffix})
        return revision, start, end, text[start:end], *context(text, start, end)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise InvalidInput("`start` and `end` must be integers")
    if not 0 <= start < end < 2**31:
        raise InvalidInput(f"offsets {start}..{end} are not 0 <= start < end")
    if revision < latest:  # orphaned, in a text this import may not have
        if exact is None:
            raise InvalidInput(f"an orphaned span needs `exact`, its words in revision {revision}")
        return revision, start, end, exact, prefix or "", suffix or ""
    before, after = context(text, start, end)
    exact = text[start:end] if exact is None else exact
    # as the API: a context given need only agree with the text; the full one is stored
    prefix = before if not prefix or before.endswith(prefix) else prefix
    suffix = after if not suffix or after.startswith(suffix) else suffix
    problem = span_problem(text, start, end, exact, prefix, suffix)
    if problem is not None:
        raise InvalidInput(problem)
    return revision, start, end, exact, prefix, suffix


def _import_spans(
    session: Session, lines: list[_Line], texts: Texts, actor: str | None, step: Progress
) -> None:
    if not lines:
        return
    _unique(lines, "span", session, Span, "span")
    span_ids = {line.record["id"] for line in lines}
    _load_texts(session, (line.record.get("document_id") for line in lines), texts)
    citations = dict(session.execute(select(Citation.id, Citation.document_id)).all())
    rows, links, quoted = [], [], []
    now = utcnow()
    for line in lines:
        r, where = line.record, f"line {line.number}"
        doc_id = _str(r, "document_id", where, required=True)
        if doc_id not in texts:
            raise InvalidInput(f"{where}: no document {doc_id!r} for this span")
        exact = _str(r, "exact", where)
        status = r.get("anchor_status") or "exact"
        if status not in ANCHOR_STATUSES:
            raise InvalidInput(f"{where}: `anchor_status` must be one of {ANCHOR_STATUSES}")
        prefix, suffix = _str(r, "prefix", where), _str(r, "suffix", where)
        try:
            revision, start, end, exact, prefix, suffix = _span_position(
                r, doc_id, texts[doc_id], status, exact, prefix, suffix
            )
        except ArchiveError as exc:  # InvalidInput, or Conflict for a quote that repeats
            raise InvalidInput(f"{where}: {exc.detail}") from None
        kind = r.get("kind") or "quote"
        if kind not in SPAN_KINDS:
            raise InvalidInput(f"{where}: `kind` must be one of {', '.join(SPAN_KINDS)}")
        cited = r.get("citation_ids") or []
        if not isinstance(cited, list) or not all(isinstance(c, str) for c in cited):
            raise InvalidInput(f"{where}: `citation_ids` must be a list of citation ids")
        for cid in dict.fromkeys(cited):
            if cid not in citations:
                raise InvalidInput(f"{where}: no citation {cid!r}")
            if citations[cid] != doc_id:
                raise InvalidInput(
                    f"{where}: citation {cid!r} belongs to document {citations[cid]!r}, "
                    f"not to this span's document {doc_id!r}"
                )
            links.append({"citation_id": cid, "span_id": r["id"]})
        source = r.get("quoted_from")
        if source is not None:
            if not isinstance(source, str):
                raise InvalidInput(f"{where}: `quoted_from` must be a span id")
            quoted.append((line.number, r["id"], source))
        created = parse_time(r.get("created_at"), where) or now
        rows.append(
            {
                "id": r["id"],
                "document_id": doc_id,
                "revision": revision,
                "start": start,
                "end": end,
                "exact": exact,
                "prefix": prefix,
                "suffix": suffix,
                "kind": kind,
                "speaker": _str(r, "speaker", where),
                "quoted_from": None,
                "note": _str(r, "note", where),
                "tags": _tags(r, where),
                "anchor_status": status,
                "created_by": _str(r, "created_by", where) or actor,
                "created_at": created,
                "updated_at": parse_time(r.get("updated_at"), where) or created,
            }
        )
    known = span_ids | _existing(session, Span, [q[2] for q in quoted])
    for number, _, source in quoted:
        if source not in known:
            raise InvalidInput(f"line {number}: `quoted_from` names no span {source!r}")
    _bulk(session, Span, rows)
    _bulk(session, CitationSpan, links)
    for _, span_id, source in quoted:
        session.get(Span, span_id).quoted_from = source
    _changes(session, "span", [r["id"] for r in rows], actor)
    step(len(rows))


def _import_claims(session: Session, lines: list[_Line], actor: str | None, step: Progress) -> None:
    if not lines:
        return
    _unique(lines, "claim", session, Claim, "claim")
    rows = []
    now = utcnow()
    for line in lines:
        r, where = line.record, f"line {line.number}"
        statement = _str(r, "statement", where, required=True)
        if not statement.strip():
            raise InvalidInput(f"{where}: `statement` must not be empty")
        created = parse_time(r.get("created_at"), where) or now
        rows.append(
            {
                "id": r["id"],
                "statement": statement,
                "tags": _tags(r, where),
                "note": _str(r, "note", where),
                "created_by": _str(r, "created_by", where) or actor,
                "created_at": created,
                "updated_at": parse_time(r.get("updated_at"), where) or created,
            }
        )
    _bulk(session, Claim, rows)
    _changes(session, "claim", [r["id"] for r in rows], actor)
    step(len(rows))


def _import_evidence(
    session: Session, lines: list[_Line], actor: str | None, step: Progress
) -> None:
    if not lines:
        return
    _unique(lines, "evidence", session, Evidence, "ev")
    claims = set(session.execute(select(Claim.id)).scalars())
    spans = set(session.execute(select(Span.id)).scalars())
    rows, pairs = [], {}
    now = utcnow()
    for line in lines:
        r, where = line.record, f"line {line.number}"
        claim_id = _str(r, "claim_id", where, required=True)
        span_id = _str(r, "span_id", where, required=True)
        if claim_id not in claims:
            raise InvalidInput(f"{where}: no claim {claim_id!r}")
        if span_id not in spans:
            raise InvalidInput(f"{where}: no span {span_id!r}")
        if (claim_id, span_id) in pairs:
            raise InvalidInput(
                f"{where}: span {span_id!r} is already evidence for {claim_id!r} "
                f"(line {pairs[(claim_id, span_id)]})"
            )
        pairs[(claim_id, span_id)] = line.number
        stance = r.get("stance")
        if stance not in STANCES:
            raise InvalidInput(f"{where}: `stance` must be one of {', '.join(STANCES)}")
        rows.append(
            {
                "id": r["id"],
                "claim_id": claim_id,
                "span_id": span_id,
                "stance": stance,
                "note": _str(r, "note", where),
                "recorded_by": _str(r, "recorded_by", where) or actor,
                "recorded_at": parse_time(r.get("recorded_at"), where) or now,
            }
        )
    _bulk(session, Evidence, rows)
    _changes(session, "evidence", [r["id"] for r in rows], actor)
    step(len(rows))
