"""How a passage was quoted over time: every place in other documents where a span's words
occur, in the order those documents were published, and every span that names it as
`quoted_from`.

The places are found as a scan finds them (`archive.lookup.scan`: the span's words against
the passage index, so a later text that quotes only part of the span, abridges or alters it
is found too), not only through the curated `quoted_from` links; spans that do point at this
one with `quoted_from` are included and marked `curated`, found by the index or not. Each
place carries its fidelity to the span: the drift of a quotation through later texts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from archive.errors import BadQuery, InvalidInput
from archive.lookup import scan
from archive.models import Document, Span
from archive.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor
from archive.spans import get_span
from archive.text import alignment
from archive.text.normalize import normalize


def quoted_by(
    session: Session, span_id: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[dict[str, Any]]:
    """The places quoting span `span_id`, ordered by their documents' `published` date
    (undated last), then document and position; a page of them."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: must be an integer from 1 to {MAX_LIMIT}")
    position = decode_cursor(cursor, "offset", "span")
    offset = 0
    if position is not None:
        offset = position["offset"]
        if position["span"] != span_id or not isinstance(offset, int) or offset < 0:
            raise BadQuery("cursor: not a cursor for this list; use next_cursor as given")
    span = get_span(session, span_id)
    items = places(session, span)
    page = items[offset : offset + limit]
    after = offset + limit
    next_cursor = encode_cursor({"offset": after, "span": span_id}) if after < len(items) else None
    return Page(page, len(items), next_cursor)


def places(session: Session, span: Span) -> list[dict[str, Any]]:
    """Every place quoting `span`, in order (see `quoted_by`)."""
    source = span.exact
    words = len(normalize(source).words)
    found: list[dict[str, Any]] = []
    if words and source.strip():
        passages = scan.find_passages(
            session,
            source[: scan.MAX_TEXT],
            exclude=span.document_id,
            min_words=max(1, min(scan.MIN_WORDS, words)),
        )
        for matches in scan.resolved(session, passages, spans=False):
            for occ, _, _ in matches:
                found.append(
                    {
                        "document_id": occ.document_id,
                        "document_title": occ.document_title,
                        "start": occ.start,
                        "end": occ.end,
                        "exact": occ.exact,
                        "match": occ.match,
                        "score": occ.score,
                        "curated": False,
                    }
                )
    curated = session.execute(
        select(Span).where(Span.quoted_from == span.id, Span.id != span.id)
    ).scalars()
    for quoting in curated:
        place = next(
            (
                f
                for f in found
                if f["document_id"] == quoting.document_id
                and f["start"] < quoting.end
                and quoting.start < f["end"]
            ),
            None,
        )
        if place is not None:
            place["curated"] = True
            continue
        matched = alignment.find_in_text(source, quoting.exact, min_score=0) if words else []
        found.append(
            {
                "document_id": quoting.document_id,
                "document_title": "",
                "start": quoting.start,
                "end": quoting.end,
                "exact": quoting.exact,
                "match": matched[0].match if matched else None,
                "score": round(matched[0].score, 4) if matched else None,
                "curated": True,
            }
        )
    documents = {
        d.id: d
        for d in session.execute(
            select(Document).where(Document.id.in_(sorted({f["document_id"] for f in found})))
        ).scalars()
    }
    for f in found:
        document = documents[f["document_id"]]
        f["document_title"] = document.title
        f["published"] = document.published
        f["fidelity"] = _fidelity(f["exact"], source)
    found.sort(
        key=lambda f: (f["published"] is None, f["published"] or "", f["document_id"], f["start"])
    )
    return [
        {
            k: f[k]
            for k in (
                "document_id",
                "document_title",
                "published",
                "start",
                "end",
                "exact",
                "match",
                "score",
                "curated",
                "fidelity",
            )
        }
        for f in found
    ]


def _fidelity(quote: str, source: str) -> dict[str, Any] | None:
    try:
        return scan.verdict(quote, source)
    except InvalidInput:  # no words on one side: nothing to compare
        return None
