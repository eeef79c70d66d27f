"""Documents and their texts: storage functions used by the API, the CLI and the importer."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, exists, false, func, literal, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Session

from archive import changes
from archive.db import fold, folded
from archive.errors import BadQuery, Conflict, InvalidInput, NotFound
from archive.lookup import index as passage_index
from archive.models import (
    DOCUMENT_KINDS,
    ID_PATTERN,
    Citation,
    Document,
    DocumentText,
    Evidence,
    Span,
    utcnow,
)
from archive.pagination import Page, decode_cursor, encode_cursor

METADATA_FIELDS = (
    "title",
    "kind",
    "creators",
    "published",
    "publisher",
    "source_url",
    "language",
    "rights",
    "description",
)
_ID = re.compile(ID_PATTERN)
_PUBLISHED = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
# Characters no text field may hold: NUL (PostgreSQL refuses it) and lone surrogates
# (they cannot be encoded as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass
class Counts:
    spans: int = 0
    citations: int = 0
    claims: int = 0


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_storable(value: str, field: str) -> str:
    """Refuse text that no database can store faithfully."""
    if _UNSTORABLE.search(value):
        raise InvalidInput(f"{field}: contains a NUL character or a lone surrogate")
    return value


def check_id(value: str, field: str = "id") -> str:
    if not _ID.match(value):
        raise InvalidInput(
            f"{field}: {value!r} is not a valid id (lowercase letters, digits and '-', "
            "starting with a letter or digit, at most 64 characters)"
        )
    return value


def check_published(value: str | None, name: str = "published") -> str | None:
    """ISO 8601 with the precision known: 1956, 1956-06 or 1956-06-05. `name` is the field
    or parameter an error names."""
    if value is None:
        return None
    if not _PUBLISHED.match(value):
        raise InvalidInput(f"{name}: {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    parts = [int(p) for p in value.split("-")]
    try:
        date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise InvalidInput(f"{name}: {value!r} is not a real date") from None
    return value


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:56].strip("-")
    return slug or "document"


def set_changed(row: Any, new: dict[str, Any]) -> bool:
    """Set on `row` the values of `new` that differ from its own; whether any did. A PATCH
    whose values are all already there changes nothing: no new `updated_at`, no change record.
    """
    changed = {name: value for name, value in new.items() if getattr(row, name) != value}
    for name, value in changed.items():
        setattr(row, name, value)
    return bool(changed)


def free_id(session: Session, model: Any, base: str) -> str:
    """`base`, or `base-2`, `base-3`… : the first id of `model` not yet taken."""
    taken = set(
        session.execute(
            select(model.id).where(or_(model.id == base, model.id.like(f"{base}-%")))
        ).scalars()
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def new_id(prefix: str) -> str:
    """`<prefix>-<12 hex digits>`: an id for a record that has no name to make one from."""
    return f"{prefix}-{secrets.token_hex(6)}"


def random_id(session: Session, model: Any, prefix: str) -> str:
    """A `new_id` not yet taken by `model`."""
    while True:
        candidate = new_id(prefix)
        if session.get(model, candidate) is None:
            return candidate


def check_text(value: Any, field: str, limit: int, *, nullable: bool) -> str | None:
    """A free-text field: a string of at most `limit` characters that can be stored (None
    too, when `nullable`)."""
    if value is None:
        if nullable:
            return None
        raise InvalidInput(f"{field}: must not be null")
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be a string")
    if len(value) > limit:
        raise InvalidInput(f"{field}: longer than {limit} characters")
    return check_storable(value, field)


MAX_TAG = 64
MAX_TAGS = 50


def check_tags(value: Any) -> list[str]:
    """Tags as stored on spans and claims: distinct, non-empty, short strings."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise InvalidInput("tags: must be a list of strings")
    if len(value) > MAX_TAGS:
        raise InvalidInput(f"tags: at most {MAX_TAGS} tags")
    for tag in value:
        if not tag.strip() or len(tag) > MAX_TAG:
            raise InvalidInput(f"tags: each tag has 1 to {MAX_TAG} characters")
        check_storable(tag, "tags")
    return list(dict.fromkeys(value))


# Schemes a source may be given by: the web, a DOI (doi:10.1093/...) or a URN (urn:isbn:...).
# Anything else (javascript:, data:, file:) would be published as an IRI in JSON-LD.
SOURCE_SCHEMES = ("http", "https", "doi", "urn")
SOURCE_URL_PATTERN = r"^(?:[hH][tT][tT][pP][sS]?://[^\s/?#]+\S*|[dD][oO][iI]:\S+|[uU][rR][nN]:\S+)$"
_SOURCE_URL = re.compile(SOURCE_URL_PATTERN)


def check_source_url(value: Any, field: str = "source_url") -> None:
    """An http(s) URL with a host, or a doi: or urn: name, without spaces."""
    if value is None:
        return
    if not isinstance(value, str) or not _SOURCE_URL.match(value):
        shown = value if not isinstance(value, str) or len(value) <= 60 else value[:60] + "…"
        raise InvalidInput(
            f"{field}: {shown!r} is not an http(s) URL, a doi: or a urn: "
            f"(the schemes accepted: {', '.join(SOURCE_SCHEMES)})"
        )


def _check_metadata(data: dict[str, Any]) -> None:
    if "title" in data and (data["title"] is None or not str(data["title"]).strip()):
        raise InvalidInput("title: must not be empty")
    if "kind" in data and data["kind"] not in DOCUMENT_KINDS:
        raise InvalidInput(f"kind: must be one of {', '.join(DOCUMENT_KINDS)}")
    if "published" in data:
        check_published(data["published"])
    if "source_url" in data:
        check_source_url(data["source_url"])
    for key, value in data.items():
        if isinstance(value, str):
            check_storable(value, key)
    for creator in data.get("creators") or []:
        if not isinstance(creator, dict) or not str(creator.get("name") or "").strip():
            raise InvalidInput("creators: each creator needs a name")


def create_document(
    session: Session, data: dict[str, Any], *, actor: str | None = None
) -> Document:
    """Store a new document and the first revision of its text.

    `data` holds `text`, `title` and optional metadata; `id` is the client's choice, or a
    slug made from the title. A duplicate id is a Conflict.
    """
    text = data.get("text")
    if not isinstance(text, str) or text == "":
        raise InvalidInput("text: a document needs a non-empty text")
    check_storable(text, "text")
    metadata = {k: data[k] for k in METADATA_FIELDS if k in data}
    _check_metadata(metadata | {"title": data.get("title")})
    doc_id = data.get("id")
    if doc_id:
        check_id(doc_id)
        if session.get(Document, doc_id) is not None:
            raise Conflict(f"a document with id {doc_id!r} already exists", id=doc_id)
    else:
        doc_id = free_id(session, Document, slugify(data["title"]))
    now = utcnow()
    digest = sha256(text)
    document = Document(
        id=doc_id,
        revision=int(data.get("revision") or 1),
        text_sha256=digest,
        length=len(text),
        created_at=data.get("created_at") or now,
        updated_at=data.get("updated_at") or now,
        **{k: v for k, v in metadata.items() if v is not None or k != "creators"},
    )
    session.add(document)
    session.add(
        DocumentText(
            document_id=doc_id,
            revision=document.revision,
            text=text,
            sha256=digest,
            created_at=document.updated_at,
            created_by=actor,
        )
    )
    changes.record(session, "document", doc_id, "create", actor)
    session.flush()
    passage_index.add(session, [(doc_id, document.revision, text)])
    return document


def get_document(session: Session, doc_id: str) -> Document:
    document = session.get(Document, doc_id)
    if document is None:
        raise NotFound(f"no document with id {doc_id!r}", id=doc_id)
    return document


def get_text(session: Session, document: Document, revision: int | None = None) -> str:
    row = session.get(DocumentText, (document.id, revision or document.revision))
    if row is None:
        raise NotFound(f"document {document.id!r} has no revision {revision}")
    return row.text


def slice_text(text: str, start: int | None, end: int | None) -> str:
    """`text[start:end]` with offsets checked: out of range is the caller's error."""
    length = len(text)
    lo = 0 if start is None else start
    hi = length if end is None else end
    if lo < 0 or hi < 0 or lo > length or hi > length:
        raise BadQuery(f"start/end: offsets must lie within the text (0..{length})")
    if lo > hi:
        raise BadQuery(f"start/end: start ({lo}) is after end ({hi})")
    return text[lo:hi]


def update_document(
    session: Session, doc_id: str, changes_: dict[str, Any], *, actor: str | None = None
) -> Document:
    """Change metadata (never the text: a new text is a new revision, see `texts`).

    Fields sent with the value they already have are no change: when nothing differs, the
    document is returned as it was (same `updated_at`) and the change feed gets no record.
    """
    if "text" in changes_:
        raise InvalidInput("text: PATCH changes metadata only; PUT /v1/documents/{id}/text")
    document = get_document(session, doc_id)
    unknown = set(changes_) - set(METADATA_FIELDS)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not a document field that can be changed")
    _check_metadata(changes_)
    new = {k: [] if k == "creators" and v is None else v for k, v in changes_.items()}
    if not set_changed(document, new):  # no new updated_at (nor ETag), no change record
        return document
    document.updated_at = utcnow()
    session.add(document)
    changes.record(session, "document", doc_id, "update", actor)
    session.flush()
    return document


def delete_document(
    session: Session, doc_id: str, *, cascade: bool = False, actor: str | None = None
) -> None:
    """Delete a document with its texts, spans and citations.

    Refused (Conflict) while any of its spans is evidence for a claim, unless `cascade`,
    which deletes that evidence too.
    """
    document = get_document(session, doc_id)
    in_use = session.execute(
        select(Evidence.id, Evidence.claim_id)
        .join(Span, Span.id == Evidence.span_id)
        .where(Span.document_id == doc_id)
    ).all()
    if in_use and not cascade:
        claims = sorted({row.claim_id for row in in_use})
        raise Conflict(
            f"document {doc_id!r} has spans that are evidence for {len(claims)} claim(s) "
            f"({', '.join(claims[:5])}); delete that evidence first or pass cascade=true",
            claims=claims,
        )
    for row in in_use:
        session.delete(session.get(Evidence, row.id))
        changes.record(session, "evidence", row.id, "delete", actor)
    session.flush()
    passage_index.remove(session, [doc_id])
    session.delete(document)
    changes.record(session, "document", doc_id, "delete", actor)
    session.flush()


def counts(session: Session, doc_ids: list[str]) -> dict[str, Counts]:
    """Spans, citations and claims (with evidence in the document) per document."""
    result = {doc_id: Counts() for doc_id in doc_ids}
    if not doc_ids:
        return result
    for doc_id, n in session.execute(
        select(Span.document_id, func.count())
        .where(Span.document_id.in_(doc_ids))
        .group_by(Span.document_id)
    ).all():
        result[doc_id].spans = n
    for doc_id, n in session.execute(
        select(Citation.document_id, func.count())
        .where(Citation.document_id.in_(doc_ids))
        .group_by(Citation.document_id)
    ).all():
        result[doc_id].citations = n
    for doc_id, n in session.execute(
        select(Span.document_id, func.count(func.distinct(Evidence.claim_id)))
        .join(Evidence, Evidence.span_id == Span.id)
        .where(Span.document_id.in_(doc_ids))
        .group_by(Span.document_id)
    ).all():
        result[doc_id].claims = n
    return result


def _published_bounds() -> tuple[Any, Any]:
    """The first and last day a partial ISO date covers, as comparable strings."""
    low = Document.published + func.substr("-01-01", func.length(Document.published) - 3)
    high = Document.published + func.substr("-12-31", func.length(Document.published) - 3)
    return low, high


def pad_published(value: str, *, high: bool) -> str:
    """A YYYY or YYYY-MM date as the first (or, `high`, the last) day it covers."""
    check_published(value, "published_to" if high else "published_from")
    return value + ("-12-31" if high else "-01-01")[len(value) - 4 :]


def missing_documents(session: Session, ids: list[str]) -> list[str]:
    """Those of `ids` that are no document's id, in the order given."""
    candidates = [i for i in dict.fromkeys(ids) if "\x00" not in i]
    found: set[str] = set()
    for at in range(0, len(candidates), 500):
        chunk = candidates[at : at + 500]
        found.update(session.execute(select(Document.id).where(Document.id.in_(chunk))).scalars())
    return [i for i in dict.fromkeys(ids) if i not in found]


def list_documents(
    session: Session,
    *,
    kind: str | None = None,
    creator: str | None = None,
    published_from: str | None = None,
    published_to: str | None = None,
    q: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Document]:
    """Documents in id order, filtered; a document matches a date range it overlaps.

    `creator` is part of the name of any of its creators and `q` words that must all be in
    the title, both compared by `archive.db.fold`: ignoring case (in every script), with
    ‘ ’ and ' alike.
    """
    conditions = []
    if kind is not None:
        conditions.append(Document.kind == kind)
    if creator:
        check_storable(creator, "creator")
        conditions.append(_creator_condition(session, creator))
    low, high = _published_bounds()
    if published_from:
        bound = pad_published(published_from, high=False)
        conditions.append(and_(Document.published.is_not(None), high >= bound))
    if published_to:
        bound = pad_published(published_to, high=True)
        conditions.append(and_(Document.published.is_not(None), low <= bound))
    for word in (q or "").split():
        check_storable(word, "q")
        conditions.append(folded(Document.title).like(folded_pattern(word), escape="\\"))
    total = session.execute(
        select(func.count()).select_from(Document).where(*conditions)
    ).scalar_one()
    position = decode_cursor(cursor, "after")
    query = select(Document).where(*conditions).order_by(Document.id).limit(limit + 1)
    if position is not None:
        query = query.where(Document.id > str(position["after"]))
    rows = list(session.execute(query).scalars())
    next_cursor = encode_cursor({"after": rows[limit - 1].id}) if len(rows) > limit else None
    return Page(items=rows[:limit], total=total, next_cursor=next_cursor)


def folded_pattern(value: str) -> str:
    """A LIKE pattern (escape character `\\`) that `folded(column)` matches when the column
    contains `value`, ignoring case and telling no apostrophe (' ‘ ’) from another: `%`, `_`
    and `\\` in it match only themselves."""
    escaped = fold(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _creator_condition(session: Session, creator: str) -> Any:
    """Some creator's `name` contains `creator` (folded): the names only, never the roles
    or the JSON around them. As in the `creator` filter of search (`archive.search`)."""
    pattern = folded_pattern(creator)
    if session.get_bind().dialect.name == "postgresql":
        creators = type_coerce(Document.creators, JSONB)
        entries = func.jsonb_array_elements(creators).table_valued("value")
        name = type_coerce(entries.c.value, JSONB)["name"].astext
        named = exists(
            select(literal(1)).select_from(entries).where(folded(name).like(pattern, escape="\\"))
        )
        # jsonb_array_elements fails on anything but an array: never call it on one
        return case((func.jsonb_typeof(creators) == "array", named), else_=false())
    entries = func.json_each(Document.creators).table_valued("value")
    name = func.json_extract(entries.c.value, "$.name")
    return exists(
        select(literal(1)).select_from(entries).where(folded(name).like(pattern, escape="\\"))
    )
