"""From a quotation to the stretches of text worth aligning.

`stretches` asks the passage index (`archive.lookup.index`): the quotation's shingles, their
postings, the chunks that hold enough of them close together (`REGION_SHARE` of the
shingles the archive holds at all, within about the quotation's length), and those chunks'
text with a chunk on either side. Damage in a copy (a typo, a dropped, added or changed
word) spoils only the few shingles that cross it; the rest still point at the source.

Bounds, whatever the quotation and the archive: a shingle found in more than
`FREQUENT_CHUNKS` chunks is set aside (boilerplate, formulae and stock phrases tell
nothing, as in passim and TextPAIR: a quotation made only of such phrases is looked for by
its words instead); at most `MAX_POSTINGS` postings are used, rarest shingles first; at most
`MAX_STRETCHES` stretches and `MAX_STRETCH_CHUNKS` chunks are read. Every statement takes
its lists as one parameter (a JSON array on SQLite, an array on PostgreSQL), so no
statement grows with the quotation.

`by_words` is the fallback for what the index cannot place: a quotation of one or two
words, or one damaged so often that none of its shingles survived (a typo every two or
three words). Documents are ranked by the quotation's most distinctive words in the
full-text index (`candidate_documents`) and read a round at a time, chunk by chunk, within
`FALLBACK_CHARS` characters in all (fewer for a long quotation: `fallback_budget`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlmodel import Session

from archive.lookup import index
from archive.search import PG_NORMALIZATION
from archive.search_query import (
    PG_SEARCH_CONFIG,
    Phrase,
    SearchQuery,
    Term,
    Word,
    is_stop_word,
    split_words,
    to_fts5,
    to_tsquery_sql,
)

FREQUENT_CHUNKS = 1000  # a shingle in more chunks than this tells too little to follow
MAX_POSTINGS = 20_000  # postings followed in one lookup, rarest shingles first
MAX_STRETCHES = 2000  # stretches of text aligned in one lookup
MAX_STRETCH_CHUNKS = 40  # chunks in one stretch (a long quotation's stretch is long)
REGION_SHARE = 0.3  # of the quotation's telling shingles a stretch must hold (at least 1)
FALLBACK_CHARS = 2_000_000  # characters the fallback reads at most
FIRST_ROUND = 20  # candidate documents the fallback reads first
GROWTH = 4  # each further round reads this many times as many
MAX_CANDIDATES = 320  # candidate documents the fallback reads at most, over all rounds


@dataclass
class Stretch:
    """A stretch of a document's current text: `text` starts at `start` in the document."""

    document_id: str
    title: str
    start: int
    text: str


@dataclass
class Plan:
    """What the index says of a quotation: the stretches to align (possibly none), and the
    distinct shingles it followed (none: the index cannot place it, see `by_words`)."""

    stretches: list[Stretch]
    telling: np.ndarray  # sorted uint32 hashes


def _json_or_array(session: Session, values: list[Any]) -> Any:
    return values if index._postgres(session) else json.dumps(values)


def stretches(
    session: Session,
    query: str,
    *,
    documents: list[str] | None = None,
    kind: str | None = None,
) -> Plan:
    """The stretches of current texts where the quotation's shingles cluster."""
    wanted = np.unique(index.tokens.text_shingles(query))
    none = Plan([], np.zeros(0, np.uint32))
    if not len(wanted) or (documents is not None and not documents):
        return none
    hashes, chunk_ids = index.postings_of(session, wanted)
    if not len(hashes):
        return none
    found, counts = np.unique(hashes, return_counts=True)
    order = np.argsort(counts, kind="stable")
    found, counts = found[order], counts[order]
    keep = (counts <= FREQUENT_CHUNKS) & (np.cumsum(counts) <= MAX_POSTINGS)
    keep[0] |= counts[0] <= FREQUENT_CHUNKS
    telling = np.sort(found[keep])
    if not len(telling):
        return none
    use = np.isin(hashes, telling)
    hashes, chunk_ids = hashes[use], chunk_ids[use]
    need = max(1, math.ceil(REGION_SHARE * len(telling)))
    span = math.ceil(len(query) * 1.5 / index.CHUNK_CHARS) + 1  # chunks a copy may cover
    hit, counts = np.unique(chunk_ids, return_counts=True)
    # A run of `span` chunks holding `need` shingles has a chunk holding need / span of
    # them: only the documents of such chunks can hold the quotation.
    seeds = hit[counts >= math.ceil(need / span)].tolist()
    if len(seeds) < len(hit):
        seed_meta, _ = _chunks(session, seeds, documents, kind)
        documents = sorted({doc_id for doc_id, _ in seed_meta.values()})
        if not documents:
            return Plan([], telling)
    meta, titles = _chunks(session, hit.tolist(), documents, kind)
    held: dict[tuple[str, int], set[int]] = {}
    keep = np.isin(chunk_ids, np.fromiter(meta, np.uint32, len(meta)))
    for h, c in zip(hashes[keep].tolist(), chunk_ids[keep].tolist(), strict=True):
        held.setdefault(meta[c], set()).add(h)
    groups = _groups(held, need, span)
    return Plan(_read(session, groups, titles), telling)


def _chunks(
    session: Session, chunk_ids: list[int], documents: list[str] | None, kind: str | None
) -> tuple[dict[int, tuple[str, int]], dict[str, str]]:
    """Where these chunks are ({id: (document id, seq)}) and their documents' titles, for
    the chunks of current texts that pass the lookup's filters."""
    if not chunk_ids:
        return {}, {}
    pg = index._postgres(session)
    params: dict[str, Any] = {"ids": _json_or_array(session, chunk_ids)}
    if pg:
        where = "c.id = ANY(CAST(:ids AS bigint[]))"
    else:
        where = "c.id IN (SELECT value FROM json_each(:ids))"
    if kind is not None:
        where += " AND d.kind = :kind"
        params["kind"] = kind
    if documents is not None:
        params["docs"] = _json_or_array(session, documents)
        where += (
            " AND d.id = ANY(CAST(:docs AS text[]))"
            if pg
            else " AND d.id IN (SELECT value FROM json_each(:docs))"
        )
    sql = (
        "SELECT c.id, c.document_id, c.seq, d.title FROM passage_chunks c "
        "JOIN documents d ON d.id = c.document_id AND d.revision = c.revision "
        f"WHERE {where}"
    )
    meta: dict[int, tuple[str, int]] = {}
    titles: dict[str, str] = {}
    for chunk_id, doc_id, seq, title in session.execute(text(sql), params):
        meta[chunk_id] = (doc_id, seq)
        titles[doc_id] = title
    return meta, titles


def _groups(
    held: dict[tuple[str, int], set[int]], need: int, span: int
) -> list[tuple[str, int, int]]:
    """(document id, first seq, last seq) of the runs of chunks, at most `span` long, that
    hold `need` distinct shingles between them, with a chunk on either side; merged where
    they touch, strongest first, at most MAX_STRETCHES."""
    by_document: dict[str, list[tuple[int, set[int]]]] = {}
    for (doc_id, seq), hashes in held.items():
        by_document.setdefault(doc_id, []).append((seq, hashes))
    found: list[tuple[int, str, int, int]] = []  # (strength, document, lo, hi)
    for doc_id, rows in by_document.items():
        rows.sort(key=lambda r: r[0])
        runs: list[list[int]] = []  # [lo, hi, strength]
        for i, (seq, _) in enumerate(rows):
            union: set[int] = set()
            j = i
            while j < len(rows) and rows[j][0] < seq + span:
                union |= rows[j][1]
                j += 1
            if len(union) >= need:
                lo, hi = seq - 1, rows[j - 1][0] + 1
                if runs and lo <= runs[-1][1] + 1:
                    runs[-1][1] = max(runs[-1][1], hi)
                    runs[-1][2] = max(runs[-1][2], len(union))
                else:
                    runs.append([lo, hi, len(union)])
        for lo, hi, strength in runs:
            for start in range(max(0, lo), hi + 1, MAX_STRETCH_CHUNKS - 2):
                found.append((strength, doc_id, start, min(hi, start + MAX_STRETCH_CHUNKS - 1)))
                if start + MAX_STRETCH_CHUNKS - 1 >= hi:
                    break
    found.sort(key=lambda g: (-g[0], g[1], g[2]))
    return [(doc_id, lo, hi) for _, doc_id, lo, hi in found[:MAX_STRETCHES]]


def _read(
    session: Session, groups: list[tuple[str, int, int]], titles: dict[str, str]
) -> list[Stretch]:
    """The text of each group of chunks."""
    return [
        Stretch(doc_id, titles.get(doc_id, ""), got[0], got[1])
        for (doc_id, _, _), got in zip(groups, index.read(session, groups), strict=True)
        if got is not None
    ]


# --- the fallback: documents ranked by the quotation's words ------------------------------


def fallback_budget(query_length: int) -> int:
    """Characters the fallback may read for a quotation this long: FALLBACK_CHARS for one
    of up to 100 characters, proportionally fewer beyond (aligning a long quotation costs
    in proportion to it; and one that the index cannot place at all, not by a single run
    of three words, is hardly in the archive)."""
    return FALLBACK_CHARS * 100 // max(100, query_length)


def by_words(
    session: Session,
    terms: list[str],
    *,
    documents: list[str] | None,
    kind: str | None,
    first: int,
    query_length: int,
) -> Iterator[list[Stretch]]:
    """Rounds of whole current texts (read chunk by chunk), best-ranked documents first,
    each round new documents only, within FALLBACK_CHARS characters in all."""
    seen: set[str] = set()
    window = first
    budget = fallback_budget(query_length)
    while budget > 0:
        ids = candidate_documents(session, terms, limit=window, documents=documents)
        fresh = [doc_id for doc_id in ids if doc_id not in seen]
        seen.update(fresh)
        texts = _whole(session, fresh, kind, budget)
        budget -= sum(len(s.text) for s in texts)
        yield texts
        if len(ids) < window or window >= MAX_CANDIDATES:
            return
        window = min(window * GROWTH, MAX_CANDIDATES)


def _whole(session: Session, doc_ids: list[str], kind: str | None, budget: int) -> list[Stretch]:
    """The current texts of these documents (of this kind), in this order, as far as
    `budget` characters go (the text that crosses it is cut at a chunk's end)."""
    if not doc_ids:
        return []
    pg = index._postgres(session)
    params: dict[str, Any] = {"ids": _json_or_array(session, doc_ids)}
    where = (
        "d.id = ANY(CAST(:ids AS text[]))" if pg else "d.id IN (SELECT value FROM json_each(:ids))"
    )
    if kind is not None:
        where += " AND d.kind = :kind"
        params["kind"] = kind
    sql = f"SELECT d.id, d.title, d.length FROM documents d WHERE {where}"
    known = {row[0]: (row[1], row[2]) for row in session.execute(text(sql), params)}
    chosen = [d for d in doc_ids if d in known]
    chunks = index.seqs(session, chosen)
    groups = []
    for doc_id in chosen:
        if budget <= 0:
            break
        starts = chunks.get(doc_id, [])
        if not starts:
            continue
        last = starts[-1][0]
        for seq, start in starts:
            if start >= budget:
                last = max(0, seq - 1)
                break
        end = starts[last + 1][1] if last + 1 < len(starts) else known[doc_id][1]
        budget -= end
        groups.append((doc_id, 0, last))
    return _read(session, groups, {d: known[d][0] for d in chosen})


def _term(word: str) -> Term | None:
    pieces = split_words(word)
    if not pieces or all(is_stop_word(p) for p in pieces):
        return None
    return Word(pieces[0]) if len(pieces) == 1 else Phrase(tuple(pieces))


def candidate_documents(
    session: Session, terms: list[str], *, limit: int = 20, documents: list[str] | None = None
) -> list[str]:
    """Ids of the documents whose text best matches any of these words, best first.

    `terms` are plain words, already normalized (lowercase); stop words and empty terms are
    skipped, and a term with punctuation inside (``sino-soviet``) must match as a phrase.
    `documents`, when given, limits the answer to those ids. Ranked straight from the
    full-text index: by BM25 over the text on SQLite, by ``ts_rank_cd`` on PostgreSQL after
    narrowing the field to the documents that hold the rarest words (see `_pg_candidates`).
    """
    unique = list(dict.fromkeys(t for t in (_term(w) for w in terms) if t is not None))
    if not unique or limit < 1 or (documents is not None and not documents):
        return []
    params: dict[str, Any] = {"n": limit}
    restrict = _only_documents(documents, params)
    if session.get_bind().dialect.name == "postgresql":
        return _pg_candidates(session, unique, params, restrict, limit)
    params["m"] = to_fts5(SearchQuery(groups=[unique]), columns=["body"])
    sql = (
        "SELECT i.item_id FROM search_fts "
        "CROSS JOIN search_items i ON i.rid = search_fts.rowid "
        f"WHERE search_fts MATCH :m AND i.type = 'document'{restrict} "
        "ORDER BY bm25(search_fts, 0.0, 1.0), i.item_id LIMIT :n"
    )
    return [row[0] for row in session.execute(text(sql), params)]


def _only_documents(documents: list[str] | None, params: dict[str, Any]) -> str:
    """The condition restricting `search_items i` to these document ids (bound in `params`),
    or nothing when `documents` is None."""
    if documents is None:
        return ""
    names = []
    for k, doc_id in enumerate(dict.fromkeys(documents)):
        params[f"doc_{k}"] = doc_id
        names.append(f":doc_{k}")
    return f" AND i.item_id IN ({', '.join(names)})"


#: On PostgreSQL, candidates are ranked among at most about this many documents.
PG_CANDIDATE_FIELD = 2000


def _pg_candidates(
    session: Session, terms: list[Term], params: dict[str, Any], restrict: str, limit: int
) -> list[str]:
    """Ranking every document that holds a common word would read (and decompress) the
    tsvector of nearly every document: ~200 ms at 10,000. So each word's documents are
    first counted in the GIN index alone (`search_document_frequency`), and only the
    documents holding one of the rarest words are ranked: as many words as keep that field
    under PG_CANDIDATE_FIELD documents, and at least the rarest one. When they are too few,
    documents holding only the common words follow, in id order."""
    tsqueries = []
    for k, term in enumerate(terms):
        sql, binds = to_tsquery_sql(
            SearchQuery(groups=[[term]]), config=PG_SEARCH_CONFIG, param_prefix=f"t{k}"
        )
        params.update(binds)
        tsqueries.append(sql)
    counts = session.execute(
        text("SELECT " + ", ".join(f"search_document_frequency({q})" for q in tsqueries)),
        params,
    ).one()
    order = sorted(range(len(terms)), key=lambda k: counts[k])
    rare: list[int] = []
    field_size = 0
    for k in order:
        if rare and field_size + counts[k] > max(PG_CANDIDATE_FIELD, limit):
            break
        rare.append(k)
        field_size += counts[k]
    held = "(" + " || ".join(tsqueries[k] for k in rare) + ")"
    every = "(" + " || ".join(tsqueries) + ")"
    found = [
        row[0]
        for row in session.execute(
            text(
                f"SELECT i.item_id FROM search_items i WHERE i.type = 'document' "
                f"AND i.tsv @@ {held}{restrict} ORDER BY ts_rank_cd("
                f"'{{1.0, 0.0, 0.0, 0.0}}', i.tsv, {every}, {PG_NORMALIZATION}) DESC, "
                "i.item_id LIMIT :n"
            ),
            params,
        )
    ]
    common = [k for k in order if k not in rare]
    if len(found) < limit and common:
        others = " || ".join(tsqueries[k] for k in common)
        found += [
            row[0]
            for row in session.execute(
                text(
                    f"SELECT i.item_id FROM search_items i WHERE i.type = 'document' "
                    f"AND i.tsv @@ ({others}) AND NOT i.tsv @@ {held}{restrict} "
                    "ORDER BY i.item_id LIMIT :rest"
                ),
                dict(params, rest=limit - len(found)),
            )
        ]
    return found
