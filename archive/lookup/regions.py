"""Where a quotation's words or shingles cluster: the stretches of a text worth aligning.

Both kinds of hits are `(start, end, key)` in text order, `key` saying which of the
quotation's words or shingles was found there; a *region* is a stretch about a quotation
long that holds enough distinct keys, widened by margins so that a passage whose first or
last words were damaged is still inside it, cut at whitespace and merged with its
neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import numpy as np

from archive.text import tokens

REGION_SHARE = 0.5  # of the distinctive words a region must hold (at least one)
REGION_MARGIN = 64  # characters around a region beyond the query's own length


def shingle_margin(query_length: int) -> int:
    """Characters around a cluster of shingles: the passage reaches past its outermost
    intact shingles by the words damage spoiled there and by what the source adds there
    (an editorial aside in brackets): about half the quotation's length, and a little."""
    return REGION_MARGIN + query_length // 2


def word_hits(text: str, terms: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, term) of every place a term begins a word, any case, in text order.

    No boundary is required after it, so that a footnote number glued to a word
    (`personality1`, `19563`) does not hide it. Plain `str.find` on the lower-cased text is
    several times faster than one regular expression for all the terms.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # lower-casing changed lengths (`İ`): offsets would drift
        import re

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


def by_words(text: str, terms: list[str], query_length: int) -> list[tuple[int, int]]:
    """[start, end) stretches of `text` where enough of `terms` (words) cluster."""
    if not terms:
        return []
    need = max(1, math.ceil(REGION_SHARE * len(terms)))
    return clusters(text, word_hits(text, terms), need, query_length)


def shingle_hits(texts: list[str], wanted: np.ndarray) -> list[list[tuple[int, int, int]]]:
    """For each text, (start, end, shingle hash) of every shingle of it that is among
    `wanted` (sorted uint32 hashes), from its first word's start to its last word's end,
    in text order. All the texts at once: a lookup's stretches are many and short."""
    joined = "\x00".join(texts)
    hashes, starts, ends = tokens.word_spans(joined)
    shingles = tokens.shingles(hashes)
    found: list[list[tuple[int, int, int]]] = [[] for _ in texts]
    if not len(shingles):
        return found
    bounds = np.cumsum([len(t) + 1 for t in texts])  # where each text ends, with its NUL
    piece = np.searchsorted(bounds, starts, side="right")
    last = np.arange(len(shingles)) + tokens.SHINGLE - 1
    at = np.flatnonzero(np.isin(shingles, wanted) & (piece[: len(shingles)] == piece[last]))
    offsets = np.r_[0, bounds[:-1]]
    for k, s_, e_, h in zip(
        piece[at].tolist(),
        starts[at].tolist(),
        ends[at + tokens.SHINGLE - 1].tolist(),
        shingles[at].tolist(),
        strict=True,
    ):
        found[k].append((s_ - int(offsets[k]), e_ - int(offsets[k]), h))
    return found


def clusters(
    text: str,
    hits: list[tuple[int, int, Hashable]],
    need: int,
    query_length: int,
    *,
    margin: int | None = None,
) -> list[tuple[int, int]]:
    """Windows about a query long that hold `need` distinct keys of `hits` (start, end, key;
    in text order), widened by `margin` characters on either side (by default the query's
    length and REGION_MARGIN more) and merged."""
    if not hits:
        return []
    width = int(query_length * 1.5) + REGION_MARGIN
    if margin is None:
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
        key = hits[left][2]
        held[key] -= 1
        if not held[key]:
            del held[key]
    merged: list[tuple[int, int]] = []
    for start, end in found:
        lo, hi = snap_left(text, start - margin), snap_right(text, end + margin)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def snap_left(text: str, i: int) -> int:
    """The nearest whitespace at or before i (or the start), so no word is cut."""
    if i <= 0:
        return 0
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return i


def snap_right(text: str, j: int) -> int:
    """The nearest whitespace at or after j (or the end)."""
    n = len(text)
    if j >= n:
        return n
    while j < n and not text[j].isspace():
        j += 1
    return j
