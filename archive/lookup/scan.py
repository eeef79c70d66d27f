"""Checking a text: every passage of it that occurs in the archive, and how faithfully.

A teacher pastes a textbook chapter, a student's essay or a new secondary source (up to
`MAX_TEXT` characters). The scan does not look up its sentences one by one:

1. *Hits*: all the text's shingles (runs of three words, `archive.text.tokens`) go to the
   passage index at once (`index.postings_of`); each posting is a (text position, chunk)
   *hit*. Shingles found in more than `candidates.FREQUENT_CHUNKS` chunks (stock phrases)
   are set aside, and at most `MAX_POSTINGS` postings are followed, rarest first.
2. *Groups*: in each document, hits at nearby text positions (`GAP` shingles apart at most,
   so a typo, a dropped word or the writer's ellipsis does not break them) in nearby chunks
   form a group: a stretch of the text that may come from a stretch of the document.
3. *Alignment*: each group's stretch of text is aligned (`archive.text.alignment`, as a
   quote lookup aligns a quotation) against the few chunks its hits point at, in pieces
   split at the writer's ellipses and brackets, and widened word by word over damaged
   first and last words. Groups with the same stretch of text (a stock phrase in hundreds
   of documents) are tried `TRIES` at a time: when none of those aligns, the rest are not
   read. At most `MAX_ALIGNMENTS` alignments in all.
4. *Passages*: pieces of the text that overlap or touch (only punctuation, an ellipsis or
   a bracketed insertion between them) are one passage. Its matches are one per place in a
   document (a quotation split by an ellipsis maps to one stretch of its source); `best` is
   the match that covers most of the passage, best scored, with its fidelity verdict.

Scanning reads and never writes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
from rapidfuzz.distance import Indel
from sqlalchemy import text as sql
from sqlmodel import Session

from archive.anchoring import context
from archive.documents import check_storable
from archive.errors import InvalidInput
from archive.fidelity import fidelity
from archive.lookup import candidates, index
from archive.lookup.occurrences import Occurrence, annotate
from archive.lookup.run import _check_documents, _check_options
from archive.text import alignment, tokens
from archive.text.normalize import normalize

MAX_TEXT = 100_000  # characters in a scanned text
MAX_POSTINGS = 200_000  # postings followed in one scan, rarest shingles first
MAX_HITS = 400_000  # (text position, chunk) pairs considered
GAP = 6  # text positions between two hits of one group, at most
CHUNK_GAP = 2  # chunks between two hits of one group, at most
MAX_GROUP_CHUNKS = 40  # chunks one group may span
TRIES = 3  # groups of one stretch of text aligned before the rest are given up on it
MAX_ALIGNMENTS = 3000  # alignments in one scan
MAX_PASSAGES = 1000  # passages answered
MAX_ELISION = 2000  # characters of a source an ellipsis may leave out
MIN_WORDS = 6  # the default shortest passage, in words
MAX_MIN_WORDS = 1000
EDGE_WORDS = 8  # words a match may be widened by at either end
_ELLIPSIS = re.compile(r"\.\s?\.\s?\.|…|\[[^\[\]]{0,200}\]")
_TOUCH = re.compile(r"(?:[\W_]|\[[^\[\]]{0,200}\])*")


@dataclass
class _Group:
    document_id: str
    lo_seq: int
    hi_seq: int
    first: int  # text positions (shingles) of the first and last hit
    last: int
    count: int


@dataclass
class _Piece:
    start: int  # offsets into the scanned text
    end: int
    occurrence: Occurrence


@dataclass
class _Passage:
    start: int
    end: int
    pieces: list[_Piece] = field(default_factory=list)


# --- checks -----------------------------------------------------------------------------------


def check_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("text: the text to scan must not be empty")
    if len(value) > MAX_TEXT:
        raise InvalidInput(
            f"text: {len(value)} characters, longer than {MAX_TEXT}; scan it in parts"
        )
    return check_storable(value, "text")


def _check_min_words(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MIN_WORDS:
        raise InvalidInput(f"min_words: must be an integer from 1 to {MAX_MIN_WORDS}")
    return value


# --- the scan ---------------------------------------------------------------------------------


def scan(
    session: Session,
    text: Any,
    *,
    documents: Any = None,
    kind: Any = None,
    min_score: Any = alignment.DEFAULT_MIN_SCORE,
    min_words: Any = MIN_WORDS,
) -> dict[str, Any]:
    """Every passage of `text` that occurs in the archive, in text order:
    `{passages: [{start, end, text, matches, best}]}` (see the module docstring)."""
    body = check_text(text)
    restrict = _check_documents(documents)
    _check_options(kind, min_score, 1)
    words = _check_min_words(min_words)
    passages = find_passages(
        session, body, documents=restrict, kind=kind, min_score=float(min_score), min_words=words
    )
    return {"passages": present(session, body, passages)}


def find_passages(
    session: Session,
    body: str,
    *,
    documents: list[str] | None = None,
    kind: str | None = None,
    exclude: str | None = None,
    min_score: float = alignment.DEFAULT_MIN_SCORE,
    min_words: int = MIN_WORDS,
) -> list[_Passage]:
    """The passages of `body` (already checked) found in the archive, in text order, their
    pieces carrying occurrences without spans and claims. `exclude`: a document not to look
    in (the one `body` is the text of)."""
    hashes, starts, ends = tokens.word_spans(body)
    shingles = tokens.shingles(hashes)
    if not len(shingles) or (documents is not None and not documents):
        return []
    groups = _groups(session, shingles, documents, kind, exclude)
    pieces = _align(session, body, starts, ends, groups, min_score)
    return _passages(body, pieces, min_words)


# --- 1 and 2: hits and groups ----------------------------------------------------------------


def _hits(session: Session, shingles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text position, chunk id, shingle) of every hit, sorted by chunk, then position."""
    wanted = np.unique(shingles)
    hashes, chunk_ids = index.postings_of(session, wanted)
    if not len(hashes):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint32)
    found, counts = np.unique(hashes, return_counts=True)
    order = np.argsort(counts, kind="stable")
    found, counts = found[order], counts[order]
    keep = (counts <= candidates.FREQUENT_CHUNKS) & (np.cumsum(counts) <= MAX_POSTINGS)
    telling = found[keep]
    use = np.isin(hashes, telling)
    hashes, chunk_ids = hashes[use], chunk_ids[use].astype(np.int64)
    # each posting at every text position its shingle is at
    by_hash = np.argsort(shingles, kind="stable")
    sorted_shingles = shingles[by_hash]
    lo = np.searchsorted(sorted_shingles, hashes, side="left")
    hi = np.searchsorted(sorted_shingles, hashes, side="right")
    repeats = hi - lo
    total = int(repeats.sum())
    if total > MAX_HITS:  # a text repeating itself: keep the first postings within bounds
        cut = int(np.searchsorted(np.cumsum(repeats), MAX_HITS, side="right"))
        lo, repeats, chunk_ids = lo[:cut], repeats[:cut], chunk_ids[:cut]
        total = int(repeats.sum())
    posting = np.repeat(np.arange(len(lo)), repeats)
    offset = np.arange(total) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    positions = by_hash[lo[posting] + offset].astype(np.int64)
    chunks_ = chunk_ids[posting]
    order = np.lexsort((positions, chunks_))
    return positions[order], chunks_[order], shingles[positions[order]]


def _groups(
    session: Session,
    shingles: np.ndarray,
    documents: list[str] | None,
    kind: str | None,
    exclude: str | None,
) -> list[_Group]:
    """Where hits cluster, per document: strongest first."""
    positions, chunk_ids, hashes = _hits(session, shingles)
    if not len(positions):
        return []
    # runs of hits in one chunk at nearby positions; a run needs a second hit nearby, in its
    # chunk or a neighbouring one (chunk ids of one text follow its order)
    breaks = np.r_[True, (np.diff(chunk_ids) != 0) | (np.diff(positions) > GAP)]
    _break_repeats(breaks, chunk_ids, hashes)
    first = np.flatnonzero(breaks)
    counts = np.diff(np.r_[first, len(positions)])
    run_chunk = chunk_ids[first]
    run_lo = positions[first]
    run_hi = positions[np.r_[first[1:], len(positions)] - 1]
    lonely = counts == 1
    if lonely.any():
        every = np.unique(run_chunk)
        near = np.zeros(len(run_chunk), bool)
        for d in range(1, CHUNK_GAP + 1):
            near |= np.isin(run_chunk + d, every) | np.isin(run_chunk - d, every)
        keep = ~lonely | near
        run_chunk, run_lo, run_hi, counts = (
            run_chunk[keep],
            run_lo[keep],
            run_hi[keep],
            counts[keep],
        )
    if not len(run_chunk):
        return []
    meta = _chunk_meta(session, sorted(set(run_chunk.tolist())), documents, kind, exclude)
    runs: dict[str, list[tuple[int, int, int, int]]] = {}
    for c, lo, hi, n in zip(
        run_chunk.tolist(), run_lo.tolist(), run_hi.tolist(), counts.tolist(), strict=True
    ):
        where = meta.get(c)
        if where is not None:
            runs.setdefault(where[0], []).append((where[1], lo, hi, n))
    groups: list[_Group] = []
    for doc_id, rows in runs.items():
        rows.sort(key=lambda r: (r[1], r[0]))
        active: list[_Group] = []
        for seq, lo, hi, n in rows:
            active = [g for g in active if lo <= g.last + GAP]
            for g in active:
                # runs of one chunk stay apart (a gap or a repeat parted them); a quotation
                # goes on into the chunks after
                if g.hi_seq < seq <= g.hi_seq + CHUNK_GAP and seq - g.lo_seq < MAX_GROUP_CHUNKS:
                    g.hi_seq = seq
                    g.first, g.last = min(g.first, lo), max(g.last, hi)
                    g.count += n
                    break
            else:
                active.append(_Group(doc_id, seq, seq, lo, hi, n))
                groups.append(active[-1])
    groups = [g for g in groups if g.count >= 2]
    groups.sort(key=lambda g: (-g.count, g.first, g.document_id, g.lo_seq))
    return groups


def _break_repeats(breaks: np.ndarray, chunk_ids: np.ndarray, hashes: np.ndarray) -> None:
    """Part runs where a shingle comes back: a text that quotes a sentence twice (or repeats
    itself) holds two copies, not one long passage. Only chunks hit twice by one shingle are
    walked through."""
    keys = (chunk_ids.astype(np.uint64) << np.uint64(32)) | hashes.astype(np.uint64)
    unique, counts = np.unique(keys, return_counts=True)
    if (counts == 1).all():
        return
    twice = np.isin(chunk_ids, (unique[counts > 1] >> np.uint64(32)).astype(np.int64))
    seen: set[int] = set()
    for i in np.flatnonzero(twice).tolist():
        h = int(hashes[i])
        if breaks[i]:
            seen = set()
        elif h in seen:
            breaks[i] = True
            seen = set()
        seen.add(h)


def _chunk_meta(
    session: Session,
    chunk_ids: list[int],
    documents: list[str] | None,
    kind: str | None,
    exclude: str | None,
) -> dict[int, tuple[str, int]]:
    """{chunk id: (document id, seq)} of these chunks of current texts that pass the filters;
    one statement, its lists as one parameter."""
    if not chunk_ids:
        return {}
    pg = index._postgres(session)
    params: dict[str, Any] = {"ids": chunk_ids if pg else _json(chunk_ids)}
    where = (
        "c.id = ANY(CAST(:ids AS bigint[]))"
        if pg
        else "c.id IN (SELECT value FROM json_each(:ids))"
    )
    if kind is not None:
        where += " AND d.kind = :kind"
        params["kind"] = kind
    if exclude is not None:
        where += " AND d.id <> :exclude"
        params["exclude"] = exclude
    if documents is not None:
        params["docs"] = documents if pg else _json(documents)
        where += (
            " AND d.id = ANY(CAST(:docs AS text[]))"
            if pg
            else " AND d.id IN (SELECT value FROM json_each(:docs))"
        )
    statement = (
        "SELECT c.id, c.document_id, c.seq FROM passage_chunks c "
        "JOIN documents d ON d.id = c.document_id AND d.revision = c.revision "
        f"WHERE {where}"
    )
    return {row[0]: (row[1], row[2]) for row in session.execute(sql(statement), params)}


def _json(values: list[Any]) -> str:
    return json.dumps(values)


# --- 3: alignment ----------------------------------------------------------------------------


def _align(
    session: Session,
    body: str,
    starts: np.ndarray,
    ends: np.ndarray,
    groups: list[_Group],
    min_score: float,
) -> list[_Piece]:
    """Align the groups, `TRIES` per stretch of text first, then the rest of those stretches
    where one of them aligned; at most MAX_ALIGNMENTS in all."""
    last_word = len(starts) - 1
    by_stretch: dict[tuple[int, int], list[_Group]] = {}
    for g in groups:
        span = (int(starts[g.first]), int(ends[min(g.last + tokens.SHINGLE - 1, last_word)]))
        by_stretch.setdefault(span, []).append(g)
    budget = MAX_ALIGNMENTS
    first_round: list[tuple[tuple[int, int], _Group]] = []
    for span, members in by_stretch.items():
        for g in members[:TRIES]:
            first_round.append((span, g))
    first_round = first_round[:budget]
    budget -= len(first_round)
    memo: dict[tuple[str, str, int], list[alignment.QuoteMatch]] = {}
    pieces, aligned = _align_round(session, body, first_round, min_score, memo)
    second: list[tuple[tuple[int, int], _Group]] = []
    for span, members in by_stretch.items():
        if span in aligned:
            second += [(span, g) for g in members[TRIES:]]
    more, _ = _align_round(session, body, second[:budget], min_score, memo)
    return pieces + more


def _align_round(
    session: Session,
    body: str,
    work: list[tuple[tuple[int, int], _Group]],
    min_score: float,
    memo: dict[tuple[str, str, int], list[alignment.QuoteMatch]],
) -> tuple[list[_Piece], set[tuple[int, int]]]:
    """Read the groups' stretches (each distinct one once) and align them; a text that
    repeats a sentence aligns it once per stretch (`memo`)."""
    if not work:
        return [], set()
    reads = list(dict.fromkeys((g.document_id, g.lo_seq - 1, g.hi_seq + 1) for _, g in work))
    texts = dict(zip(reads, index.read(session, reads), strict=True))
    got = [texts[(g.document_id, g.lo_seq - 1, g.hi_seq + 1)] for _, g in work]
    titles = _titles(session, sorted({g.document_id for _, g in work}))
    pieces: list[_Piece] = []
    aligned: set[tuple[int, int]] = set()
    for (span, g), read in zip(work, got, strict=True):
        if read is None:
            continue
        stretch = candidates.Stretch(g.document_id, titles.get(g.document_id, ""), *read)
        found = _align_stretch(body, span, stretch, min_score, memo)
        if found:
            aligned.add(span)
            pieces += found
    return pieces, aligned


def _titles(session: Session, doc_ids: list[str]) -> dict[str, str]:
    pg = index._postgres(session)
    where = "id = ANY(CAST(:ids AS text[]))" if pg else "id IN (SELECT value FROM json_each(:ids))"
    rows = session.execute(
        sql(f"SELECT id, title FROM documents WHERE {where}"),
        {"ids": doc_ids if pg else _json(doc_ids)},
    )
    return {row[0]: row[1] for row in rows}


def _segments(body: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """[lo, hi) of the text split at the writer's ellipses and bracketed insertions."""
    out = []
    at = lo
    for m in _ELLIPSIS.finditer(body, lo, hi):
        out.append((at, m.start()))
        at = m.end()
    out.append((at, hi))
    return [(a, b) for a, b in out if len(normalize(body[a:b]).words) >= 2]


def _align_stretch(
    body: str,
    span: tuple[int, int],
    stretch: candidates.Stretch,
    min_score: float,
    memo: dict[tuple[str, str, int], list[alignment.QuoteMatch]],
) -> list[_Piece]:
    pieces = []
    for lo, hi in _segments(body, *span):
        query = body[lo:hi].strip()
        lo += body[lo:hi].index(query[0]) if query else 0
        hi = lo + len(query)
        key = (query, stretch.document_id, stretch.start)
        if key not in memo:
            memo[key] = alignment.find_in_text(query, stretch.text, min_score=min_score)
        matches = memo[key]
        if not matches:
            continue
        m = matches[0]
        t_lo, t_hi, s_lo, s_hi = _widen(body, lo, hi, stretch.text, m.start, m.end)
        if (t_lo, t_hi, s_lo, s_hi) != (lo, hi, m.start, m.end):
            found = alignment.find_in_text(body[t_lo:t_hi], stretch.text[s_lo:s_hi], min_score=0)
            score = found[0].score if found else m.score
            kind = found[0].match if found else m.match
            if kind != "exact" and body[t_lo:t_hi].strip() == stretch.text[s_lo:s_hi].strip():
                kind, score = "exact", 1.0
            if score < min_score:
                t_lo, t_hi, s_lo, s_hi, score, kind = lo, hi, m.start, m.end, m.score, m.match
        else:
            score, kind = m.score, m.match
        prefix, suffix = context(stretch.text, s_lo, s_hi)
        occurrence = Occurrence(
            document_id=stretch.document_id,
            document_title=stretch.title,
            start=s_lo + stretch.start,
            end=s_hi + stretch.start,
            exact=stretch.text[s_lo:s_hi],
            prefix=prefix,
            suffix=suffix,
            score=round(score, 4),
            match=kind,
        )
        pieces.append(_Piece(t_lo, t_hi, occurrence))
    return pieces


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def _similar(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    if a == b:
        return True
    if min(len(a), len(b)) < 4:
        return False
    return Indel.normalized_similarity(a, b) >= 0.75


def _widen(
    body: str, t_lo: int, t_hi: int, source: str, s_lo: int, s_hi: int
) -> tuple[int, int, int, int]:
    """Widen a match word by word while the text's next word (outwards) is the source's, or
    nearly (a typo), or the source's word after it (the copy dropped one): the damaged first
    and last words a hit cannot show, across a sentence's end too (a quotation of two
    sentences whose first is short and damaged). At most EDGE_WORDS words at either end."""
    t_after = list(islice(_WORD.finditer(body, t_hi), EDGE_WORDS + 1))
    s_after = list(islice(_WORD.finditer(source, s_hi), EDGE_WORDS + 2))
    i = j = 0
    while i < len(t_after) and i < EDGE_WORDS:
        if j < len(s_after) and _similar(t_after[i].group(), s_after[j].group()):
            t_hi, s_hi = t_after[i].end(), s_after[j].end()
            i, j = i + 1, j + 1
        elif j + 1 < len(s_after) and _similar(t_after[i].group(), s_after[j + 1].group()):
            t_hi, s_hi = t_after[i].end(), s_after[j + 1].end()
            i, j = i + 1, j + 2
        else:
            break
    t_before = _words_before(body, t_lo, EDGE_WORDS)
    s_before = _words_before(source, s_lo, EDGE_WORDS + 1)
    i = j = 0
    while i < len(t_before) and i < EDGE_WORDS:
        if j < len(s_before) and _similar(t_before[i][2], s_before[j][2]):
            t_lo, s_lo = t_before[i][0], s_before[j][0]
            i, j = i + 1, j + 1
        elif j + 1 < len(s_before) and _similar(t_before[i][2], s_before[j + 1][2]):
            t_lo, s_lo = t_before[i][0], s_before[j + 1][0]
            i, j = i + 1, j + 2
        else:
            break
    return t_lo, t_hi, s_lo, s_hi


def _words_before(s: str, at: int, n: int) -> list[tuple[int, int, str]]:
    """The n words before offset `at`, nearest first: (start, end, word)."""
    base = max(0, at - 16 * (n + 1))
    window = s[base:at]
    found = [(base + m.start(), base + m.end(), m.group()) for m in _WORD.finditer(window)]
    if found and base > 0 and found[0][0] == base:
        found = found[1:]  # may be cut
    return found[::-1][:n]


# --- 4: passages -----------------------------------------------------------------------------


def _passages(body: str, pieces: list[_Piece], min_words: int) -> list[_Passage]:
    pieces.sort(key=lambda p: (p.start, -p.end))
    passages: list[_Passage] = []
    for piece in pieces:
        if passages and (
            piece.start <= passages[-1].end or _TOUCH.fullmatch(body, passages[-1].end, piece.start)
        ):
            passages[-1].end = max(passages[-1].end, piece.end)
            passages[-1].pieces.append(piece)
        else:
            passages.append(_Passage(piece.start, piece.end, [piece]))
    return [p for p in passages if len(normalize(body[p.start : p.end]).words) >= min_words][
        :MAX_PASSAGES
    ]


def _matches(passage: _Passage) -> list[tuple[Occurrence, int, int]]:
    """One match per place in a document: a document's pieces that follow each other in the
    text and in the source (an ellipsis between them) are one match. (occurrence, text start,
    text end) of each."""
    by_document: dict[str, list[_Piece]] = {}
    for piece in passage.pieces:
        by_document.setdefault(piece.occurrence.document_id, []).append(piece)
    found: list[tuple[Occurrence, int, int]] = []
    for pieces in by_document.values():
        pieces.sort(key=lambda p: (p.occurrence.start, p.start))
        merged: list[list[_Piece]] = []
        for piece in pieces:
            last = merged[-1][-1] if merged else None
            if last is not None and (
                # the same place found twice (two groups of one document), or the next
                # part of the source after the writer's ellipsis
                (
                    last.occurrence.start <= piece.occurrence.start <= last.occurrence.end
                    and last.start <= piece.start <= last.end
                )
                or (
                    piece.start >= last.end
                    and 0 <= piece.occurrence.start - last.occurrence.end <= MAX_ELISION
                )
            ):
                merged[-1].append(piece)
            else:
                merged.append([piece])
        for run in merged:
            found.append(_combine(run))
    unique: dict[tuple[str, int, int], tuple[Occurrence, int, int]] = {}
    for occ, lo, hi in found:
        key = (occ.document_id, occ.start, occ.end)
        if key not in unique or occ.score > unique[key][0].score:
            unique[key] = (occ, lo, hi)
    return list(unique.values())


def _combine(run: list[_Piece]) -> tuple[Occurrence, int, int]:
    if len(run) == 1:
        return run[0].occurrence, run[0].start, run[0].end
    first = min(run, key=lambda p: p.occurrence.start).occurrence
    last = max(run, key=lambda p: p.occurrence.end).occurrence
    exact_parts = sorted(run, key=lambda p: p.occurrence.start)
    exact = exact_parts[0].occurrence.exact
    at = exact_parts[0].occurrence.end
    for p in exact_parts[1:]:
        if p.occurrence.end <= at:
            continue
        gap = p.occurrence.start - at
        if gap > 0:
            return _combine_read(run)  # the elided words are not at hand: read below
        exact += p.occurrence.exact[at - p.occurrence.start :]
        at = p.occurrence.end
    score = min(p.occurrence.score for p in run)
    occ = Occurrence(
        document_id=first.document_id,
        document_title=first.document_title,
        start=first.start,
        end=last.end,
        exact=exact,
        prefix=first.prefix,
        suffix=last.suffix,
        score=score,
        match=first.match if all(p.occurrence.match == first.match for p in run) else "fuzzy",
    )
    return occ, min(p.start for p in run), max(p.end for p in run)


def _combine_read(run: list[_Piece]) -> tuple[Occurrence, int, int]:
    """Pieces of one source with words between them (the writer's ellipsis): one match from
    the first piece's start to the last one's end; its `exact` is filled in by `present`."""
    first = min(run, key=lambda p: p.occurrence.start).occurrence
    last = max(run, key=lambda p: p.occurrence.end).occurrence
    occ = Occurrence(
        document_id=first.document_id,
        document_title=first.document_title,
        start=first.start,
        end=last.end,
        exact="",
        prefix=first.prefix,
        suffix=last.suffix,
        score=min(min(p.occurrence.score for p in run), alignment.FUZZY_CAP),
        match="fuzzy",
    )
    return occ, min(p.start for p in run), max(p.end for p in run)


def _fill_exact(session: Session, occurrences: list[Occurrence]) -> None:
    """The text of matches that bridge an ellipsis, read from their documents (one read)."""
    missing = [o for o in occurrences if not o.exact]
    if not missing:
        return
    starts = index.seqs(session, sorted({o.document_id for o in missing}))
    groups = []
    for o in missing:
        seqs = starts.get(o.document_id, [])
        lo = max([s for s, c in seqs if c <= o.start], default=0)
        hi = max([s for s, c in seqs if c < o.end], default=0)
        groups.append((o.document_id, lo, hi))
    for o, got in zip(missing, index.read(session, groups), strict=True):
        if got is not None:
            o.exact = got[1][o.start - got[0] : o.end - got[0]]


def resolved(
    session: Session, passages: list[_Passage], *, spans: bool = True
) -> list[list[tuple[Occurrence, int, int]]]:
    """Each passage's matches: (occurrence, start and end in the scanned text of the words
    it matches), every occurrence's text read, and with `spans` the spans and claims it
    overlaps."""
    every = [_matches(p) for p in passages]
    occurrences = [occ for matches in every for occ, _, _ in matches]
    _fill_exact(session, occurrences)
    if spans:
        annotate(session, occurrences)
    return [[m for m in matches if m[0].exact] for matches in every]


def present(session: Session, body: str, passages: list[_Passage]) -> list[dict[str, Any]]:
    """The passages as the API answers them, with spans, claims and the best match's
    fidelity."""
    every = resolved(session, passages)
    kinds = _kinds(session, sorted({o.document_id for m in every for o, _, _ in m}))
    out = []
    for passage, matches in zip(passages, every, strict=True):
        if not matches:
            continue
        matches.sort(key=lambda m: (-m[0].score, m[0].document_id, m[0].start))
        best, lo, hi = max(
            matches,
            key=lambda m: (
                m[2] - m[1],
                m[0].score,
                kinds.get(m[0].document_id) == "primary",
                -_order(matches, m),
            ),
        )
        out.append(
            {
                "start": passage.start,
                "end": passage.end,
                "text": body[passage.start : passage.end],
                "matches": [vars(m[0]) for m in matches],
                "best": best_of(best, body[lo:hi]),
            }
        )
    return out


def _order(matches: list, m: Any) -> int:
    return matches.index(m)


def best_of(occ: Occurrence, quote: str) -> dict[str, Any]:
    """A match with the fidelity of `quote` (the text's words that match it) to it."""
    return {
        "document_id": occ.document_id,
        "document_title": occ.document_title,
        "start": occ.start,
        "end": occ.end,
        "exact": occ.exact,
        "match": occ.match,
        "score": occ.score,
        "fidelity": verdict(quote, occ.exact),
    }


def verdict(quote: str, source: str) -> dict[str, Any]:
    """`archive.fidelity.fidelity` as the API answers it."""
    result = fidelity(quote, source)
    return {
        "verdict": result.verdict,
        "score": round(result.score, 4),
        "truncated": result.truncated,
        "punctuation": result.punctuation,
        "diff": result.diff,
    }


def _kinds(session: Session, doc_ids: list[str]) -> dict[str, str]:
    if not doc_ids:
        return {}
    pg = index._postgres(session)
    where = "id = ANY(CAST(:ids AS text[]))" if pg else "id IN (SELECT value FROM json_each(:ids))"
    rows = session.execute(
        sql(f"SELECT id, kind FROM documents WHERE {where}"),
        {"ids": doc_ids if pg else _json(doc_ids)},
    )
    return {row[0]: row[1] for row in rows}


__all__ = ["MAX_TEXT", "MIN_WORDS", "check_text", "find_passages", "scan", "verdict"]


# --- a document of the archive ------------------------------------------------------------------


def _windows(body: str) -> list[tuple[int, int]]:
    """[start, end) pieces of at most MAX_TEXT characters, cut at whitespace."""
    out = []
    at = 0
    while len(body) - at > MAX_TEXT:
        cut = max(body.rfind(" ", at, at + MAX_TEXT), body.rfind("\n", at, at + MAX_TEXT))
        cut = cut if cut > at else at + MAX_TEXT
        out.append((at, cut))
        at = cut
    out.append((at, len(body)))
    return out


def quotations(
    session: Session,
    document_id: str,
    *,
    min_score: Any = alignment.DEFAULT_MIN_SCORE,
    min_words: Any = MIN_WORDS,
) -> dict[str, Any]:
    """The passages of a document's current text that occur in other documents, as a scan
    answers them (`{document_id, passages}`); a text longer than MAX_TEXT is scanned a
    MAX_TEXT piece at a time."""
    from archive.documents import get_document, get_text

    _check_options(None, min_score, 1)
    words = _check_min_words(min_words)
    document = get_document(session, document_id)
    body = get_text(session, document)
    passages: list[_Passage] = []
    for lo, hi in _windows(body):
        for p in find_passages(
            session,
            body[lo:hi],
            exclude=document.id,
            min_score=float(min_score),
            min_words=words,
        ):
            p.start, p.end = p.start + lo, p.end + lo
            for piece in p.pieces:
                piece.start, piece.end = piece.start + lo, piece.end + lo
            passages.append(p)
        if len(passages) >= MAX_PASSAGES:
            break
    return {"document_id": document.id, "passages": present(session, body, passages[:MAX_PASSAGES])}
