"""Quote lookup: where does this passage occur in the archive, and who and what rests on it?

A teacher pastes a quotation as they have it (retyped, from a textbook, slightly wrong). The
lookup runs in three steps, none of which reads every text:

1. *Candidate documents*, from the passage's *blocks*: its words as the index tokenizes
   them, cut into runs of three (`quotes.index_blocks`). Damage (a typo, a dropped, added
   or changed word) spoils only the block it falls in, and a spoiled block occurs nowhere
   in the archive; each block is probed once in the full-text index to tell. The documents
   that hold the surviving blocks as phrases (all but any one: the source may misquote
   too) within a passage's length of each other (FTS5 ``NEAR``; on PostgreSQL as phrases
   anywhere in the document) are the candidates (`search.passage_candidates`): a document
   that holds the passage holds them side by side; one that merely shares common words or
   phrases with it does not. When damage spoiled too many blocks of three, blocks of two
   are tried. At most `MAX_PASSAGE_CANDIDATES` documents are read, in id order.
   When the blocks give nothing (a short or much-altered quotation, or one that is not in
   the archive), documents are ranked by the query's most distinctive words instead
   (`search.candidate_documents`) and read a round at a time: 20, then four times as many,
   and so on, for as long as the lowest-ranked quarter of a round still held a match, at
   most `MAX_CANDIDATES`.
2. *Candidate regions*: in each candidate's current text, the places where the surviving
   blocks (or, in the fallback, the distinctive words) cluster. Only those regions, with
   room on both sides, are normalized and aligned: normalizing a whole text costs about
   2 ms per 5,000 characters, a region a few hundredths of that.
3. *Alignment*: `quotes.find_in_text` on each region: exact, normalized and fuzzy
   occurrences, every one of them, with offsets mapped back into the original text.

Each occurrence then carries the curated spans it overlaps (id, speaker, kind) and the claims
resting on those spans through evidence. `kind` restricts the lookup to documents of that
kind ("primary" or "secondary", as in /v1/search): "is this quote in a primary source?".
A lookup answers every occurrence, up to `MAX_MATCHES` (`limit`), not a page: a passage
quoted in hundreds of documents is answered whole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlmodel import Session

from archive import quotes, search
from archive.anchoring import context
from archive.documents import check_id, check_storable
from archive.errors import InvalidInput
from archive.models import DOCUMENT_KINDS, Document, DocumentText, Evidence, Span

MAX_QUERY = 5_000  # characters: a paragraph or two is a quotation; a chapter is not
MAX_DOCUMENTS = 100  # ids in the `documents` restriction
FIRST_ROUND = 20  # candidate documents read first
GROWTH = 4  # each further round reads this many times as many
MAX_CANDIDATES = 320  # candidate documents read at most, over all rounds
MAX_PASSAGE_CANDIDATES = 5000  # documents holding the passage's blocks read at most
MAX_MATCHES = 1000  # the most a lookup answers: "every occurrence", within reason
BLOCK_SIZES = (3, 2)  # words per block: finer blocks when damage spoiled too many coarse ones
NEAR_SLACK = 4  # words the source may have beyond the query's, in the blocks' window
REGION_SHARE = 0.5  # of the distinctive words a region must hold (at least one)
REGION_MARGIN = 64  # characters around a region beyond the query's own length


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


# --- checks -----------------------------------------------------------------------------------


def _check_query(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text: the quotation to look up must not be empty")
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"text: longer than {MAX_QUERY} characters; look up a passage")
    return check_storable(text, "text")


def _check_documents(documents: Any) -> list[str] | None:
    if documents is None:
        return None
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise InvalidInput("documents: must be a list of document ids")
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidInput(f"documents: at most {MAX_DOCUMENTS} ids")
    for doc_id in documents:
        check_id(doc_id, "documents")
    return list(dict.fromkeys(documents))


def _check_options(kind: Any, min_score: Any, limit: Any) -> None:
    if kind is not None and kind not in DOCUMENT_KINDS:
        raise InvalidInput(f"kind: must be one of {', '.join(DOCUMENT_KINDS)}")
    if isinstance(min_score, bool) or not isinstance(min_score, int | float):
        raise InvalidInput("min_score: must be a number between 0 and 1")
    if not (0.0 <= min_score <= 1.0) or math.isnan(min_score):
        raise InvalidInput("min_score: must be between 0 and 1")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_MATCHES:
        raise InvalidInput(f"limit: must be an integer from 1 to {MAX_MATCHES}")


# --- regions ------------------------------------------------------------------------------


def _hits(text: str, terms: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, term) of every place a term begins a word, any case, in text order.

    No boundary is required after it, so that a footnote number glued to a word
    (`personality1`, `19563`) does not hide it. Plain `str.find` on the lower-cased text is
    several times faster than one regular expression for all the terms.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # lower-casing changed lengths (`İ`): offsets would drift
        alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
        pattern = re.compile(rf"(?<!\w)(?:{alternatives})", re.IGNORECASE)
        return [(m.start(), m.end(), m.group().lower()) for m in pattern.finditer(text)]
    hits = []
    for term in terms:
        i = lowered.find(term)
        while i != -1:
            if i == 0 or not lowered[i - 1].isalnum():
                hits.append((i, i + len(term), term))
            i = lowered.find(term, i + 1)
    hits.sort()
    return hits


def regions(text: str, terms: list[str], query_length: int) -> list[tuple[int, int]]:
    """[start, end) stretches of `text` where enough of `terms` cluster, with margins,
    cut at whitespace, merged where they overlap; in text order."""
    if not terms:
        return []
    need = max(1, math.ceil(REGION_SHARE * len(terms)))
    return _clusters(text, _hits(text, terms), need, query_length)


def _clusters(
    text: str, hits: list[tuple[int, int, Hashable]], need: int, query_length: int
) -> list[tuple[int, int]]:
    """Windows about a query long that hold `need` distinct keys of `hits` (start, end, key;
    in text order: the words of `regions`, the block numbers of `quotes.block_places`),
    widened by margins and merged."""
    if not hits:
        return []
    width = int(query_length * 1.5) + REGION_MARGIN
    margin = query_length + REGION_MARGIN
    found: list[tuple[int, int]] = []
    held: dict[Hashable, int] = {}
    right = 0
    for left, (start, _, _) in enumerate(hits):
        while right < len(hits) and hits[right][0] < start + width:
            held[hits[right][2]] = held.get(hits[right][2], 0) + 1
            right += 1
        if len(held) >= need:
            found.append((start, hits[right - 1][1]))
        word = hits[left][2]
        held[word] -= 1
        if not held[word]:
            del held[word]
    merged: list[tuple[int, int]] = []
    for start, end in found:
        lo, hi = _snap_left(text, start - margin), _snap_right(text, end + margin)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _snap_left(text: str, i: int) -> int:
    """The nearest whitespace at or before i (or the start), so no word is cut."""
    if i <= 0:
        return 0
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return i


def _snap_right(text: str, j: int) -> int:
    n = len(text)
    if j >= n:
        return n
    while j < n and not text[j].isspace():
        j += 1
    return j


def find_occurrences(
    query: str,
    text: str,
    terms: list[str],
    *,
    min_score: float,
    where: list[tuple[int, int]] | None = None,
) -> list[quotes.QuoteMatch]:
    """Every occurrence of `query` in `text`, aligning only the regions `where` (by default
    those where its words cluster); offsets into `text`, best first."""
    found: list[quotes.QuoteMatch] = []
    for lo, hi in regions(text, terms, len(query)) if where is None else where:
        for m in quotes.find_in_text(query, text[lo:hi], min_score=min_score):
            found.append(quotes.QuoteMatch(m.start + lo, m.end + lo, m.score, m.match))
    found.sort(key=lambda m: (-m.score, m.start))
    return found


# --- the lookup -----------------------------------------------------------------------------


def _current_texts(
    session: Session, doc_ids: list[str], kind: str | None
) -> dict[str, tuple[str, str]]:
    """Title and current text of these documents (of this kind, when given)."""
    if not doc_ids:
        return {}
    query = (
        select(Document.id, Document.title, DocumentText.text)
        .join(
            DocumentText,
            and_(
                DocumentText.document_id == Document.id,
                DocumentText.revision == Document.revision,
            ),
        )
        .where(Document.id.in_(doc_ids))
    )
    if kind is not None:
        query = query.where(Document.kind == kind)
    return {row.id: (row.title, row.text) for row in session.execute(query)}


def _candidates(
    session: Session, terms: list[str], documents: list[str] | None, first: int
) -> Iterable[list[str]]:
    """Rounds of candidate document ids, best first, each round new ids only."""
    seen: set[str] = set()
    window = first
    while True:
        ids = search.candidate_documents(session, terms, limit=window, documents=documents)
        fresh = [doc_id for doc_id in ids if doc_id not in seen]
        seen.update(fresh)
        yield fresh
        if len(ids) < window or window >= MAX_CANDIDATES:
            return
        window = min(window * GROWTH, MAX_CANDIDATES)


def _annotate(session: Session, occurrences: list[Occurrence]) -> None:
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


def lookup(
    session: Session,
    text: Any,
    *,
    documents: Any = None,
    kind: Any = None,
    min_score: Any = quotes.DEFAULT_MIN_SCORE,
    limit: Any = 20,
) -> dict[str, Any]:
    """Where `text` occurs: `{query, matches}`, every occurrence in every document, best first
    (score, then document id, then position), at most `limit` (up to MAX_MATCHES).

    `documents` restricts the lookup to those document ids, `kind` to documents of that kind;
    `min_score` leaves out weaker matches (the default is calibrated so that a quotation that
    is not in the archive matches nothing).
    """
    query = _check_query(text)
    restrict = _check_documents(documents)
    _check_options(kind, min_score, limit)
    score = float(min_score)
    terms = quotes.candidate_terms(query)
    found: list[Occurrence] = []
    tokens = quotes.index_tokens(query)
    window = len(tokens) + max(NEAR_SLACK, len(tokens) // 4)
    plan = None
    for size in BLOCK_SIZES:
        plan = search.passage_candidates(
            session,
            quotes.blocks_of(tokens, size),
            window=window,
            documents=restrict,
            kind=kind,
            limit=MAX_PASSAGE_CANDIDATES,
        )
        if plan is not None:
            break
    if plan is not None and plan.document_ids:
        texts = _current_texts(session, plan.document_ids, kind)
        patterns = quotes.block_patterns(plan.intact)
        need = math.ceil(len(plan.intact) / 2)  # blocks a region must hold
        for doc_id in plan.document_ids:
            if doc_id not in texts:
                continue
            title, body = texts[doc_id]
            places = quotes.block_places(body, patterns)
            if places:  # on PostgreSQL, blocks far apart pass the index too: none here
                where = _clusters(body, places, need, len(query))
            else:  # the blocks differ here in accents or a mark the index ignores
                where = regions(body, terms, len(query))
            if where:
                matches = find_occurrences(query, body, terms, min_score=score, where=where)
                found += _occurrences(doc_id, title, body, matches)
    if not found:
        found = _by_words(session, query, terms, restrict, kind, score, limit)
    found.sort(key=lambda o: (-o.score, o.document_id, o.start))
    found = found[:limit]
    _annotate(session, found)
    return {"query": query, "matches": [vars(o) for o in found]}


def _occurrences(
    doc_id: str, title: str, body: str, matches: list[quotes.QuoteMatch]
) -> list[Occurrence]:
    found = []
    for m in matches:
        prefix, suffix = context(body, m.start, m.end)
        found.append(
            Occurrence(
                document_id=doc_id,
                document_title=title,
                start=m.start,
                end=m.end,
                exact=body[m.start : m.end],
                prefix=prefix,
                suffix=suffix,
                score=round(m.score, 4),
                match=m.match,
            )
        )
    return found


def _by_words(
    session: Session,
    query: str,
    terms: list[str],
    restrict: list[str] | None,
    kind: str | None,
    min_score: float,
    limit: int,
) -> list[Occurrence]:
    """The fallback when the passage's blocks give no candidates (a short or much-altered
    quotation): documents ranked by its distinctive words, read a round at a time."""
    found: list[Occurrence] = []
    for round_ids in _candidates(session, terms, restrict, max(FIRST_ROUND, min(limit, 100))):
        texts = _current_texts(session, round_ids, kind)
        matched: list[bool] = []
        for doc_id in round_ids:
            if doc_id not in texts:
                continue
            title, body = texts[doc_id]
            matches = find_occurrences(query, body, terms, min_score=min_score)
            matched.append(bool(matches))
            found += _occurrences(doc_id, title, body, matches)
        if matched:
            bottom = matched[-max(1, len(matched) // 4) :]
            if not any(bottom):
                break
    return found
