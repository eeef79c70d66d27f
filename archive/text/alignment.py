"""Where does this quotation occur? Matching a pasted quote against texts.

A lookup runs in two stages. The storage layer ORs `candidate_terms(query)` together in its
full-text index to pick the few documents worth aligning against; `find_in_text` then finds
every occurrence of the query in each of them, in three passes:

1. *exact*: the query occurs verbatim (at word boundaries). Score 1.0.
2. *normalized*: the normalized query (see `archive.text.normalize`) occurs in the normalized
   text: same words, whatever happened to quotes, dashes, case, line breaks, brackets,
   footnote markers and contractions. Score 0.99.
3. *fuzzy*: the query's words vote for windows of the text that hold at least 40% of their
   weight (stop words count a quarter); each such window is aligned with rapidfuzz at
   character level, its bounds chosen among nearby word boundaries, and scored by the Indel
   similarity of normalized query and passage (stricter for queries under 40 characters),
   capped at 0.98. This tolerates dropped, added and changed words, typos and swapped
   letters, and finds every approximate occurrence, not only the best. A fuzzy match must
   also hold most of the query: 70% of its words, in order, or 90% of its characters
   (`_covers`). A passage that shares only a run of words with a longer sentence is not
   a copy of it.

Scores are banded (exact 1.0 > normalized 0.99 > fuzzy ≤ 0.98), so sorting matches from
several documents by score alone keeps the better kinds first.

Offsets are into the original text, start inclusive, end exclusive, on word boundaries,
without surrounding whitespace. A match grows over punctuation at its ends only where the
query has that punctuation too (a query ending in `head.` ends after the full stop).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel, LCSseq

from archive.text.normalize import Normalized, normalize

MatchKind = Literal["exact", "normalized", "fuzzy"]

DEFAULT_MIN_SCORE = 0.8
"""Matches scoring below this are left out: calibrated so that absent quotes match nothing.

Every sentence of the five seeds, with straight quotes and one or two student damages
(dropped, added or changed word, typo, swapped letters, contraction, `...` for `…`, line
breaks, case), scores at least 0.87 from twelve words up; shorter sentences with two damages
fall below it, as they should, since they are then mostly other words. Famous or topical
quotes absent from the archive score at most 0.69 against the seeds and 0.74 against the
1,000 texts of the benchmark corpus, where every planted damaged quote scores 0.90 or more.
`tests/archive/test_quotes.py` checks both ends on the benchmark corpus.
"""

NORMALIZED_SCORE = 0.99
FUZZY_CAP = 0.98
SHORT_QUERY = 40  # characters: see `_score`
MAX_ALIGNMENTS = 32  # per text: windows aligned beyond this are skipped (pathological queries)

_STOP_WORDS_TEXT = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can cannot could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how i if in into is
it its itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up us very was we were what when
where which while who whom why will with would you your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
_STOP_WEIGHT = 0.25
_SPACES = re.compile(r"\s+")
WINDOW_SHARE = 0.4  # of the query's word weight a window must hold to be aligned
WORD_SHARE = 0.7  # of the query's words, in order, a fuzzy match must hold (`_covers`)
CHAR_SHARE = 0.9  # ... or else of its characters

_QUOTE_MARKS = str.maketrans(
    {
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"',
        "\u00bb": '"', "\u2033": '"', "\u2018": "'", "\u2019": "'", "\u201a": "'",
        "\u201b": "'", "\u2032": "'", "\u2010": "-", "\u2011": "-", "\u2012": "-",
        "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-", "\u2026": "...",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class QuoteMatch:
    """One occurrence of a quote: original offsets [start, end), score in [0, 1], kind."""

    start: int
    end: int
    score: float
    match: MatchKind


@dataclass(frozen=True, eq=False)
class _Query:
    raw: str
    norm: Normalized
    counts: dict[str, int]  # voting word → occurrences in the query
    weights: dict[str, float]  # voting word → weight
    total: float  # weight of all the query's voting words
    lead: str  # the query's leading punctuation, `_squash`ed
    tail: str  # and its trailing punctuation


def _squash(s: str) -> str:
    """Punctuation for comparison: quote marks, dashes and ellipses unified, spaces single."""
    return _SPACES.sub(" ", s.translate(_QUOTE_MARKS))


def _edge_punctuation(s: str) -> tuple[str, str]:
    i = 0
    while i < len(s) and not s[i].isalnum():
        i += 1
    j = len(s)
    while j > i and not s[j - 1].isalnum():
        j -= 1
    return _squash(s[:i]), _squash(s[j:])


@lru_cache(maxsize=256)
def _prepare(query: str) -> _Query:
    raw = query.strip()
    norm = normalize(raw)
    # The words that vote for windows to align: the content words when there are a few of
    # them (stop words are a third of any text, and would only add hits to sift), else all
    # words, stop words counting a quarter.
    content = [w for w in norm.words if w not in STOP_WORDS]
    voters = content if len(set(content)) >= 5 else list(norm.words)
    counts: dict[str, int] = {}
    for w in voters:
        counts[w] = counts.get(w, 0) + 1
    weights = {w: _STOP_WEIGHT if w in STOP_WORDS else 1.0 for w in counts}
    lead, tail = _edge_punctuation(raw)
    return _Query(
        raw=raw,
        norm=norm,
        counts=counts,
        weights=weights,
        total=sum(weights[w] for w in voters),
        lead=lead,
        tail=tail,
    )


@lru_cache(maxsize=256)
def _normalized(text: str) -> Normalized:
    """Normalized texts, kept for repeated lookups against the same documents."""
    return normalize(text)


def candidate_terms(query: str, limit: int = 8) -> list[str]:
    """The query's most distinctive words, for a full-text index to OR together.

    Normalized, without stop words or words under three characters, each once, longest
    first (length is a fair stand-in for rarity in English): `limit` of them is enough to
    find a document that holds the quote even when some words were mistyped. A query of stop
    words only gives its longest words. The index must hold normalized text (or tokenize as
    `normalize` does) for footnote-glued words such as `personality1` to be found.
    """
    words = _prepare(query).norm.words
    distinct = list(dict.fromkeys(words))
    terms = [w for w in distinct if w not in STOP_WORDS and len(w) >= 3] or distinct
    terms.sort(key=len, reverse=True)  # stable: ties keep the query's order
    return terms[: max(0, limit)]


BLOCK_WORDS = 3  # words in each block of `index_blocks`
_INDEX_TOKEN = re.compile(r"[^\W_]+")


def index_tokens(text: str) -> list[str]:
    """The words of `text` as the full-text indexes tokenize it: runs of letters and digits,
    lower case, accents removed (FTS5's unicode61; PostgreSQL's parser with unaccent)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return _INDEX_TOKEN.findall("".join(c for c in decomposed if not unicodedata.combining(c)))


def index_blocks(query: str, size: int = BLOCK_WORDS) -> list[list[str]]:
    """The query cut into runs of `size` consecutive index tokens (the last one takes the
    remainder, up to 2 * size - 1), for the index to find as phrases.

    A copy damaged by a typo, a dropped, added or changed word spoils only the block the
    damage falls in; at a score of 0.8 most blocks of a real quotation survive intact, and a
    document that holds the passage holds all of them, side by side.
    """
    return blocks_of(index_tokens(query), size)


def blocks_of(tokens: list[str], size: int = BLOCK_WORDS) -> list[list[str]]:
    """`index_blocks` of a query already split into `index_tokens`."""
    blocks = [tokens[i : i + size] for i in range(0, len(tokens), size)]
    if len(blocks) > 1 and len(blocks[-1]) < size:
        last = blocks.pop()
        blocks[-1] = blocks[-1] + last
    return blocks


def block_patterns(blocks: list[list[str]]) -> list[re.Pattern[str]]:
    """For `block_places`: each block's words in order, separated by anything but letters
    and digits, in lower case. Made once per lookup, used on every candidate's text."""
    # After the last word no letter may follow, but digits may: a footnote number glued to
    # the word (`personality1`) does not hide the place.
    return [
        re.compile(r"[^\w]+".join(re.escape(w) for w in block) + r"(?![^\W\d_])")
        for block in blocks
    ]


def block_places(text: str, patterns: list[re.Pattern[str]]) -> list[tuple[int, int, int]]:
    """(start, end, block number) of every place one of the blocks (`block_patterns`)
    occurs in an original text, any case, in text order (`we must abolish` is found in
    "We must, abolish" and in "we must abolish12", but not in "swe must abolishes")."""
    lowered = text.lower()
    if len(lowered) != len(text):  # lower-casing changed lengths (`İ`): offsets would drift
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    places = []
    for n, pattern in enumerate(patterns):
        # Each pattern starts with a literal, which the regex engine's own fast scan looks
        # for; the word boundary before it is checked here, for the few places found.
        for m in pattern.finditer(lowered):
            i = m.start()
            if i == 0 or not lowered[i - 1].isalnum():
                places.append((i, m.end(), n))
    places.sort()
    return places


def find_in_text(
    query: str,
    text: str,
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    normalized_text: Normalized | None = None,
) -> list[QuoteMatch]:
    """Every occurrence of `query` in `text` scoring at least `min_score`, best first.

    `normalized_text`, when given, must be `normalize(text)`; callers that keep it (per
    document revision) save the normalization. Occurrences do not overlap: where an exact,
    normalized and fuzzy match cover the same words, only the best kind is reported.
    """
    q = _prepare(query)
    if not q.norm.words or not text:
        return []
    norm = normalized_text if normalized_text is not None else _normalized(text)
    found: list[QuoteMatch] = []
    taken: list[tuple[int, int]] = []  # word index ranges [a, b) already reported

    for start, end in _exact(q.raw, text):
        found.append(QuoteMatch(start, end, 1.0, "exact"))
        taken.append(_word_range(norm, start, end))
    if min_score <= NORMALIZED_SCORE:
        for a, b in _normalized_occurrences(q.norm.text, norm):
            if _overlaps(a, b, taken):
                continue
            start, end = _extend(text, *norm.to_original(norm.starts[a], norm.word_end(b - 1)), q)
            found.append(QuoteMatch(start, end, NORMALIZED_SCORE, "normalized"))
            taken.append((a, b))
    for score, a, b in _fuzzy(q, norm, taken, min_score):
        start, end = _extend(text, *norm.to_original(norm.starts[a], norm.word_end(b - 1)), q)
        found.append(QuoteMatch(start, end, min(score, FUZZY_CAP), "fuzzy"))
    found = [m for m in found if m.score >= min_score]
    found.sort(key=lambda m: (-m.score, m.start))
    return found


def _exact(needle: str, text: str) -> Iterable[tuple[int, int]]:
    """Verbatim occurrences that neither start nor end inside a word. A footnote number
    glued to the last word (`heart5`) is not part of the word: the quote ends before it."""
    i = text.find(needle)
    while i != -1:
        j = i + len(needle)
        before_ok = i == 0 or not (needle[0].isalnum() and text[i - 1].isalnum())
        after_ok = (
            j == len(text)
            or not (needle[-1].isalnum() and text[j].isalnum())
            or (needle[-1].isalpha() and text[j].isdigit())
        )
        if before_ok and after_ok:
            yield (i, j)
        i = text.find(needle, i + 1)


def _word_range(norm: Normalized, start: int, end: int) -> tuple[int, int]:
    i, j = norm.from_original(start, end)
    if i == j:
        return (0, 0)
    return (norm.word_at(i), norm.word_at(j - 1) + 1)


def _normalized_occurrences(needle: str, norm: Normalized) -> Iterable[tuple[int, int]]:
    """Word index ranges where the normalized query occurs as whole words."""
    hay = norm.text
    n_words = needle.count(" ") + 1
    i = hay.find(needle)
    while i != -1:
        j = i + len(needle)
        if (i == 0 or hay[i - 1] == " ") and (j == len(hay) or hay[j] == " "):
            a = norm.word_at(i)
            yield (a, a + n_words)
        i = hay.find(needle, i + 1)


def _overlaps(a: int, b: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a < y and x < b for x, y in ranges)


def _fuzzy(
    q: _Query, norm: Normalized, taken: list[tuple[int, int]], min_score: float
) -> list[tuple[float, int, int]]:
    """Approximate occurrences as (score, first word, end word), scoring at least
    `min_score` and holding most of the query (`_covers`), not overlapping `taken`.

    Windows of the text holding enough of the query's words are aligned, the fullest and
    most compact first; at most MAX_ALIGNMENTS of them, which bounds the time a query made
    of common words can take.
    """
    m = len(q.norm.words)
    if m < 2:  # one word: its exact and normalized occurrences are all there is
        return []
    counts = q.counts
    hits = [(p, w) for p, w in enumerate(norm.words) if w in counts]  # in text order
    if not hits:
        return []
    span = m + max(2, m // 4)  # window length in words: the text may hold a few more words
    need = WINDOW_SHARE * q.total
    windows: list[tuple[float, int, int]] = []  # (weight held, first hit, last hit)
    in_window: dict[str, int] = {}
    held = 0.0
    r = 0
    for i, (left, _) in enumerate(hits):
        while r < len(hits) and hits[r][0] < left + span:
            w = hits[r][1]
            c = in_window.get(w, 0)
            if c < q.counts[w]:
                held += q.weights[w]
            in_window[w] = c + 1
            r += 1
        if held >= need - 1e-9 and r - i >= 2:  # enough weight, and more than one word
            windows.append((held, left, hits[r - 1][0]))
        w = hits[i][1]
        c = in_window[w] - 1
        in_window[w] = c
        if c < q.counts[w]:
            held -= q.weights[w]
    windows.sort(key=lambda x: (-x[0], x[2] - x[1], x[1]))  # most weight, most compact

    results: list[tuple[float, int, int]] = []
    blocked = list(taken)  # reported occurrences: alignments must not reach into them
    tried = list(taken)  # ... and windows inside what was aligned already are not tried again
    pad = span - 1  # room for the passage on either side of the hits that found it
    for _, lo, hi in windows:
        if len(tried) - len(taken) >= MAX_ALIGNMENTS:
            break
        if _overlaps(lo, hi + 1, tried):
            continue
        ws, we = max(0, lo - pad), min(len(norm.words), hi + 1 + pad)
        for x, y in blocked:
            if y <= lo:
                ws = max(ws, y)
            elif x > hi:
                we = min(we, x)
        score, a, b = _align(q, norm, ws, we)
        tried.append((min(a, lo), max(b, hi + 1)))
        if b > a and score >= min_score and _covers(q, norm, a, b):
            results.append((score, a, b))
            blocked.append((a, b))
    return results


def _covers(q: _Query, norm: Normalized, a: int, b: int) -> bool:
    """Whether words [a, b) hold most of the query: at least WORD_SHARE of its words, in
    order, or else CHAR_SHARE of its characters (`ns` is one word, `n.s.` two).

    Character similarity alone lets a passage that shares a run of six or seven words with
    a longer sentence pass for it (`We must tell the truth about the crimes of Stalin`
    against `that the truth about the crimes of Stalin's`: 0.86); a student's copy keeps
    most words whole (a typo, a dropped or changed word or two).
    """
    query = q.norm.words
    if LCSseq.similarity(query, norm.words[a:b]) >= WORD_SHARE * len(query):
        return True
    passage = norm.text[norm.starts[a] : norm.word_end(b - 1)]
    return LCSseq.similarity(q.norm.text, passage) >= CHAR_SHARE * len(q.norm.text)


def _align(q: _Query, norm: Normalized, ws: int, we: int) -> tuple[float, int, int]:
    """Best whole-word alignment of the query inside words [ws, we): (score, a, b).

    rapidfuzz's partial alignment finds roughly where the query lies; the bounds are then
    chosen among nearby word boundaries by Indel distance, with a bonus for starting and
    ending on the query's own first and last words (otherwise a word dropped next to an
    edge would make the passage start after it).
    """
    needle = q.norm.text
    words = norm.words
    base = norm.starts[ws]
    hay = norm.text[base : norm.word_end(we - 1)]
    al = fuzz.partial_ratio_alignment(needle, hay)
    if al is None or al.dest_end <= al.dest_start:
        return (0.0, ws, ws)
    a0 = norm.word_at(base + al.dest_start)
    if base + al.dest_start >= norm.word_end(a0):  # aligned on a space: the next word
        a0 += 1
    a0 = min(a0, we - 1)
    b0 = norm.word_at(base + al.dest_end - 1) + 1
    first, last = q.norm.words[0], q.norm.words[-1]
    first_bonus, last_bonus = min(12, len(first) + 4), min(12, len(last) + 4)
    m = len(q.norm.words)
    reach = min(8, 2 + m // 8)
    text, starts = norm.text, norm.starts

    def cost(a: int, b: int) -> tuple[int, int]:
        d = Indel.distance(needle, text[starts[a] : norm.word_end(b - 1)])
        bonus = (first_bonus if words[a] == first else 0) + (
            last_bonus if words[b - 1] == last else 0
        )
        return (d - bonus, d)

    # the query's own first and last words, where the window has them: a passage with
    # words added inside it may start or end further out than the reach
    firsts = [k for k in range(ws, we) if words[k] == first]
    lasts = [k + 1 for k in range(ws, we) if words[k] == last]

    def best_start(b: int) -> tuple[tuple[int, int], int]:
        starts = {*range(max(ws, a0 - reach), min(b, a0 + reach + 1))}
        starts.update(a for a in firsts if b - 2 * m <= a < b)
        return min((cost(a, b), a) for a in starts)

    def best_end(a: int) -> tuple[tuple[int, int], int]:
        # ends near where the alignment ended, near where the query's length would end,
        # and at the query's last word
        ends = {*range(b0 - reach, b0 + reach + 1), *range(a + m - reach, a + m + reach + 1)}
        ends.add(a + 1)
        ends.update(b for b in lasts if b <= a + 2 * m)
        return min((cost(a, b), b) for b in ends if a < b <= we)

    # coordinate descent (start, end, start again): linear in the reach, not quadratic
    b = min(max(b0, a0 + 1), we)
    _, a = best_start(b)
    _, b = best_end(a)
    (_, d), a = best_start(b)
    return (_score(len(needle), norm.word_end(b - 1) - norm.starts[a], d), a, b)


def _score(needle_len: int, passage_len: int, distance: int) -> float:
    """Indel similarity, made stricter for short queries.

    For a quote under `SHORT_QUERY` characters each edit counts as if the quote were that
    long: one changed word in a two-word query (`the speech` / `this speech`) is a different
    phrase, while the same edit in a sentence is a typo.
    """
    weight = max(1.0, SHORT_QUERY / needle_len)
    return max(0.0, 1.0 - distance * weight / (needle_len + passage_len))


def _extend(text: str, start: int, end: int, q: _Query) -> tuple[int, int]:
    """Grow [start, end) over punctuation next to it that the query has at its ends too."""
    if q.lead:
        i = start
        while i > 0 and start - i < 8 and not text[i - 1].isalnum() and text[i - 1] != "\n":
            i -= 1
        for s in range(i, start):  # the longest run that ends the query's own lead
            if not text[s].isspace() and q.lead.endswith(_squash(text[s:start])):
                start = s
                break
    if q.tail:
        j = end
        while j < len(text) and j - end < 8 and not text[j].isalnum() and text[j] != "\n":
            j += 1
        for e in range(j, end, -1):  # the longest run that starts the query's own tail
            if not text[e - 1].isspace() and q.tail.startswith(_squash(text[end:e])):
                end = e
                break
    return start, end
