"""Anchoring quote spans to a text: finding them, checking them, and finding them again.

A span is stored twice over, as W3C Web Annotation selectors do: by position (`start`, `end`,
a TextPositionSelector) and by quote (`exact` with up to 32 characters of `prefix` and
`suffix`, a TextQuoteSelector). The position is fast and precise; the quote survives edits.
When a document gets a new revision, `reanchor` uses both to find each span again.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import accumulate
from typing import Literal

from rapidfuzz.distance import Levenshtein

from archive.errors import Conflict, InvalidInput
from archive.text.alignment import DEFAULT_MIN_SCORE, find_in_text

AnchorStatus = Literal["exact", "moved", "fuzzy", "orphaned"]

CONTEXT_WIDTH = 32


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where a span lies in a new revision of its text.

    `status`: "exact" (same quote where the edit moved its position), "moved" (same quote,
    found elsewhere by quote and context), "fuzzy" (approximately, the quote changed),
    "orphaned" (not found: `start`, `end` and the quote fields are None). `exact`, `prefix`
    and `suffix` are the span's quote selector in the new text.
    """

    status: AnchorStatus
    start: int | None
    end: int | None
    exact: str | None = None
    prefix: str | None = None
    suffix: str | None = None


def _splits_at(text: str, i: int) -> bool:
    """True when offset i would cut a character from the one before it."""
    if not 0 < i < len(text):
        return False
    ch = text[i]
    cp = ord(ch)
    if 0xDC00 <= cp <= 0xDFFF:  # low surrogate: str can hold pairs decoded with surrogatepass
        return 0xD800 <= ord(text[i - 1]) <= 0xDBFF
    return (
        unicodedata.category(ch)[0] == "M"  # combining mark (accents, variation selectors)
        or cp == 0x200D  # zero-width joiner
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
        or text[i - 1] == "\u200d"  # the character a zero-width joiner joins
    )


def check_offsets(text: str, start: int, end: int) -> None:
    """Raise InvalidInput unless [start, end) is a non-empty, whole-character range of `text`."""
    n = len(text)
    if start < 0 or end < 0:
        raise InvalidInput(f"offsets must not be negative (start={start}, end={end})")
    if start >= end:
        raise InvalidInput(f"start ({start}) must be less than end ({end})")
    if end > n:
        raise InvalidInput(f"end ({end}) is past the end of the text, which has {n} characters")
    for name, at in (("start", start), ("end", end)):
        if _splits_at(text, at):
            raise InvalidInput(
                f"{name} ({at}) falls inside a character: U+{ord(text[at]):04X} belongs "
                f"to the character before it; use {_previous_boundary(text, at)} or "
                f"{_next_boundary(text, at)}"
            )


def _next_boundary(text: str, i: int) -> int:
    while _splits_at(text, i):
        i += 1
    return i


def _previous_boundary(text: str, i: int) -> int:
    while _splits_at(text, i):
        i -= 1
    return i


def context(text: str, start: int, end: int, width: int = CONTEXT_WIDTH) -> tuple[str, str]:
    """The prefix and suffix of [start, end): up to `width` characters on either side.

    They never begin or end inside a character (a base and its combining marks stay
    together), so they may be a little shorter than `width`.
    """
    p = max(0, start - width)
    p = _next_boundary(text, p) if p > 0 else 0
    s = min(len(text), end + width)
    s = max(end, _previous_boundary(text, s))
    return text[min(p, start) : start], text[end:s]


def _occurrences(text: str, exact: str) -> list[int]:
    found = []
    i = text.find(exact)
    while i != -1:
        found.append(i)
        i = text.find(exact, i + 1)
    return found


def locate(
    text: str, exact: str, prefix: str | None = None, suffix: str | None = None
) -> tuple[int, int]:
    """Find a quote in `text` as a W3C TextQuoteSelector does: (start, end).

    `exact` must occur verbatim; `prefix`, when given, must end right where it starts and
    `suffix` begin right where it ends. Raises InvalidInput when it does not occur (with the
    nearest approximate matches as `suggestions`), or occurs but never with that context;
    Conflict, with `candidates` carrying each occurrence's offsets and context, when several
    occurrences remain.
    """
    if not exact:
        raise InvalidInput("the quote (exact) is empty")
    starts = _occurrences(text, exact)
    if not starts:
        suggestions = [
            {"start": m.start, "end": m.end, "exact": text[m.start : m.end], "score": m.score}
            for m in find_in_text(exact, text)[:3]
        ]
        hint = (
            f"; the closest passage is {suggestions[0]['exact']!r} at "
            f"{suggestions[0]['start']}-{suggestions[0]['end']}"
            if suggestions
            else ""
        )
        raise InvalidInput(f"the quote does not occur in the text{hint}", suggestions=suggestions)
    n = len(exact)
    matching = [
        s
        for s in starts
        if (not prefix or text[max(0, s - len(prefix)) : s] == prefix)
        and (not suffix or text[s + n : s + n + len(suffix)] == suffix)
    ]
    if not matching:
        raise InvalidInput(
            f"the quote occurs {len(starts)} time(s) but never with the given prefix/suffix",
            candidates=_candidates(text, starts, n),
        )
    if len(matching) > 1:
        raise Conflict(
            f"the quote occurs {len(matching)} times; give a prefix or suffix (or start and "
            "end) to choose one",
            candidates=_candidates(text, matching, n),
        )
    return matching[0], matching[0] + n


def _candidates(text: str, starts: list[int], n: int) -> list[dict[str, int | str]]:
    out: list[dict[str, int | str]] = []
    for s in starts:
        prefix, suffix = context(text, s, s + n)
        out.append({"start": s, "end": s + n, "prefix": prefix, "suffix": suffix})
    return out


class RevisionDiff:
    """Maps offsets from an old revision of a text to a new one.

    Computed once per revision and shared by all of its spans. The common prefix and suffix
    are trimmed first, so a local edit costs little however long the text; what remains is
    diffed by lines (difflib), and the changed lines by characters with rapidfuzz's
    Levenshtein opcodes (bit-parallel, far faster than difflib on characters).
    """

    def __init__(self, old: str, new: str) -> None:
        head = 0
        limit = min(len(old), len(new))
        while head < limit and old[head] == new[head]:
            head += 1
        tail = 0
        while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
            tail += 1
        # unchanged stretches as (old start, old end, new start), in text order
        blocks: list[tuple[int, int, int]] = [(0, head, 0)]
        old_mid, new_mid = old[head : len(old) - tail], new[head : len(new) - tail]
        if old_mid and new_mid:
            old_lines = old_mid.splitlines(keepends=True)
            new_lines = new_mid.splitlines(keepends=True)
            old_at = [0, *accumulate(map(len, old_lines))]
            new_at = [0, *accumulate(map(len, new_lines))]
            matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                o, n = head + old_at[i1], head + new_at[j1]
                if tag == "equal":
                    blocks.append((o, head + old_at[i2], n))
                elif tag == "replace":
                    a = old_mid[old_at[i1] : old_at[i2]]
                    b = new_mid[new_at[j1] : new_at[j2]]
                    for op in Levenshtein.opcodes(a, b):
                        if op.tag == "equal":
                            blocks.append((o + op.src_start, o + op.src_end, n + op.dest_start))
        blocks.append((len(old) - tail, len(old), len(new) - tail))
        self._blocks = [blk for blk in blocks if blk[1] > blk[0]]
        self._starts = [blk[0] for blk in self._blocks]

    def map_start(self, i: int) -> int | None:
        """New offset of the character at old offset i, or None if it was changed."""
        k = bisect_right(self._starts, i) - 1
        if k >= 0:
            s, e, d = self._blocks[k]
            if s <= i < e:
                return d + (i - s)
        return None

    def map_end(self, j: int) -> int | None:
        """New offset just after the character at old offset j - 1, or None if it changed."""
        k = bisect_right(self._starts, j - 1) - 1
        if k >= 0:
            s, e, d = self._blocks[k]
            if s < j <= e:
                return d + (j - s)
        return None

    def estimate(self, i: int) -> int:
        """A new offset for old offset i even inside a change (its nearest kept neighbour)."""
        k = bisect_right(self._starts, i) - 1
        if k < 0:
            return 0
        s, e, d = self._blocks[k]
        return d + min(i, e) - s


def reanchor(
    old_text: str,
    new_text: str,
    start: int,
    end: int,
    exact: str,
    prefix: str = "",
    suffix: str = "",
    *,
    diff: RevisionDiff | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
) -> Anchor:
    """Find span [start, end) of `old_text`, quoting `exact`, again in `new_text`.

    In order: by position through the diff of the two texts ("exact"), by quote alone with
    prefix, suffix and the expected position choosing among repeats ("moved"), approximately
    with quote matching ("fuzzy"), else "orphaned". Pass `diff=RevisionDiff(old, new)` when
    re-anchoring many spans of one revision.
    """
    diff = diff if diff is not None else RevisionDiff(old_text, new_text)
    ns, ne = diff.map_start(start), diff.map_end(end)
    if ns is not None and ne is not None and new_text[ns:ne] == exact:
        return _anchor("exact", new_text, ns, ne)
    expected = diff.estimate(start)

    starts = _occurrences(new_text, exact) if exact else []
    if starts:
        n = len(exact)
        best = max(starts, key=lambda s: _context_fit(new_text, s, s + n, prefix, suffix, expected))
        return _anchor("moved", new_text, best, best + n)

    if exact:
        matches = find_in_text(exact, new_text, min_score=min_score)
        if matches:
            expected_end = diff.estimate(end)
            best_match = max(
                matches,
                key=lambda m: (
                    m.score + (0.05 if m.start < expected_end and expected < m.end else 0.0),
                    _context_fit(new_text, m.start, m.end, prefix, suffix, expected),
                ),
            )
            return _anchor("fuzzy", new_text, best_match.start, best_match.end)
    return Anchor("orphaned", None, None)


def _anchor(status: AnchorStatus, text: str, start: int, end: int) -> Anchor:
    prefix, suffix = context(text, start, end)
    return Anchor(status, start, end, text[start:end], prefix, suffix)


def _context_fit(
    text: str, start: int, end: int, prefix: str, suffix: str, expected: int
) -> tuple[int, int]:
    """How well an occurrence's surroundings agree with the span's: more is better.

    Characters of prefix and suffix that still agree next to it, then closeness to where the
    diff expects the span.
    """
    before = text[max(0, start - len(prefix)) : start]
    agree = _common_prefix_length(before[::-1], prefix[::-1])
    agree += _common_prefix_length(text[end : end + len(suffix)], suffix)
    return (agree, -abs(start - expected))


def _common_prefix_length(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
