"""Quote lookup: where does this passage occur in the archive, and who and what rests on it?

A teacher pastes a quotation as they have it (retyped, from a textbook, slightly wrong).
The lookup reads none of the archive's texts whole, and its work follows the quotation and
its matches, not the size of the archive:

1. *Stretches*, from the passage index (`archive.lookup.candidates.stretches`): the
   quotation's shingles (runs of three words), their postings, and the few hundred
   characters of text around each place where enough of them cluster.
2. *Regions*: inside each stretch, where the quotation's shingles are, with margins
   (`archive.lookup.regions`).
3. *Alignment*: `archive.text.alignment.find_in_text` on each region: exact, normalized
   and fuzzy occurrences, every one of them, at offsets into the original text.

A quotation the index cannot place (one or two words, or a typo every two or three words,
so that no shingle of it survived) is looked for by its words instead: documents ranked by
its most distinctive words, read a round at a time within a fixed budget
(`candidates.by_words`).

Each occurrence then carries the curated spans it overlaps (id, speaker, kind) and the
claims resting on those spans through evidence. `kind` restricts the lookup to documents of
that kind ("primary" or "secondary", as in /v1/search): "is this quote in a primary
source?". A lookup answers every occurrence, up to `MAX_MATCHES` (`limit`), not a page: a
passage quoted in hundreds of documents is answered whole.
"""

from __future__ import annotations

import math
from typing import Any

from sqlmodel import Session

from archive.documents import check_id, check_storable
from archive.errors import InvalidInput
from archive.lookup import candidates, regions
from archive.lookup.occurrences import Occurrence, align, annotate
from archive.models import DOCUMENT_KINDS
from archive.text import alignment

MAX_QUERY = 5_000  # characters: a paragraph or two is a quotation; a chapter is not
MAX_DOCUMENTS = 100  # ids in the `documents` restriction
MAX_MATCHES = 1000  # the most a lookup answers: "every occurrence", within reason

__all__ = ["MAX_DOCUMENTS", "MAX_MATCHES", "MAX_QUERY", "Occurrence", "lookup"]


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


# --- the lookup -----------------------------------------------------------------------------


def lookup(
    session: Session,
    text: Any,
    *,
    documents: Any = None,
    kind: Any = None,
    min_score: Any = alignment.DEFAULT_MIN_SCORE,
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
    found = occurrences(session, query, documents=restrict, kind=kind, min_score=score)
    found.sort(key=lambda o: (-o.score, o.document_id, o.start))
    found = found[:limit]
    annotate(session, found)
    return {"query": query, "matches": [vars(o) for o in found]}


def occurrences(
    session: Session,
    query: str,
    *,
    documents: list[str] | None = None,
    kind: str | None = None,
    min_score: float = alignment.DEFAULT_MIN_SCORE,
) -> list[Occurrence]:
    """Every occurrence of `query` (already checked), unsorted, without spans and claims."""
    plan = candidates.stretches(session, query, documents=documents, kind=kind)
    found: list[Occurrence] = []
    if len(plan.telling):
        need = max(1, math.ceil(candidates.REGION_SHARE * len(plan.telling)))
        every = regions.shingle_hits([s.text for s in plan.stretches], plan.telling)
        for stretch, hits in zip(plan.stretches, every, strict=True):
            if hits:
                where = regions.clusters(
                    stretch.text, hits, need, len(query), margin=regions.shingle_margin(len(query))
                )
            else:  # folded apart from how the index folded it (a mark, a rare script)
                where = [(0, len(stretch.text))]
            if where:
                found += align(query, stretch, where, min_score)
        if found or plan.stretches:
            return _unique(found)
    return _unique(_by_words(session, query, documents, kind, min_score))


def _by_words(
    session: Session,
    query: str,
    documents: list[str] | None,
    kind: str | None,
    min_score: float,
) -> list[Occurrence]:
    """The fallback for what the index cannot place: documents ranked by the quotation's
    distinctive words, a round at a time, for as long as the lowest-ranked quarter of a
    round still held a match."""
    terms = alignment.candidate_terms(query)
    found: list[Occurrence] = []
    rounds = candidates.by_words(
        session,
        terms,
        documents=documents,
        kind=kind,
        first=candidates.FIRST_ROUND,
        query_length=len(query),
    )
    for stretches in rounds:
        matched = []
        for stretch in stretches:
            where = regions.by_words(stretch.text, terms, len(query))
            got = align(query, stretch, where, min_score) if where else []
            matched.append(bool(got))
            found += got
        if matched and not any(matched[-max(1, len(matched) // 4) :]):
            break
    return found


def _unique(found: list[Occurrence]) -> list[Occurrence]:
    """One occurrence per place (two stretches of one text may both reach it)."""
    best: dict[tuple[str, int, int], Occurrence] = {}
    for occ in found:
        key = (occ.document_id, occ.start, occ.end)
        if key not in best or occ.score > best[key].score:
            best[key] = occ
    return list(best.values())
