"""How faithfully does a secondary text quote its primary source?

`fidelity(quote, source)` compares a quotation with the passage it quotes, word by word
after normalization (see `archive.text.normalize`), and gives a verdict:

- "exact": the quote is the source, or a verbatim excerpt of it (surrounding whitespace
  aside);
- "normalized": identical once quote marks, dashes, case, line breaks, footnote markers,
  editorial brackets and contractions are set aside;
- "elided": the quote leaves words out (marked with … or [...] or not) but every word it has
  is in the source, in order;
- "altered": the quote changes or adds words.

`source` may be longer than the quote (the span a quote points at is often a whole sentence
or paragraph): words of the source before the quote's first word and after its last are not
counted as elided.

Two flags say what the words alone do not:

- `truncated`: the quote stops short of the end of the source's sentence, or starts after
  its beginning (a sentence ends at . ! ? or … followed by a space, or at a paragraph break;
  "Feb. 25" and "N. S." do not end one). "think!" for "think…What will happen next?" stops
  short: the ellipsis there runs on into the same sentence.
- `punctuation`: a mark between the quoted words, or the one the quote ends with, differs
  from the source's (quote marks, brackets, footnote digits and spacing aside; "..." is "…"
  and every dash is alike).

`score` is the Indel similarity of the normalized quote and the part of the source it
covers, so an elision or a change costs in proportion to its length. It is 1.0 for "exact",
and for "normalized" unless the punctuation differs: then it is the similarity of the two
with their punctuation marks kept, a little under 1.

`diff` is the word diff as `{"op", "source", "quote"}` items, where `op` is
"equal", "delete" (source words the quote leaves out), "insert" (quote words the source does
not have) or "replace"; the strings are the original text of those words, punctuation
between them included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Literal

from rapidfuzz.distance import Indel

from archive.errors import InvalidInput
from archive.text.normalize import Normalized, normalize

Verdict = Literal["exact", "normalized", "elided", "altered"]


@dataclass(frozen=True, slots=True)
class Fidelity:
    """The verdict on a quote, its score in [0, 1] and the word diff (see the module doc)."""

    verdict: Verdict
    score: float
    diff: list[dict[str, str]] = field(default_factory=list)
    truncated: bool = False
    punctuation: bool = False


def fidelity(quote: str, source: str) -> Fidelity:
    """Compare a secondary `quote` with the primary `source` passage it quotes."""
    q, s = normalize(quote), normalize(source)
    if not q.words:
        raise InvalidInput("the quote has no words to compare")
    if not s.words:
        raise InvalidInput("the source passage has no words to compare")
    # difflib's longest-block diff reads naturally (an elision is one deletion, not words
    # scattered along the source), but it is not always minimal: when it shows changes where
    # the quote's words are in fact all in the source in order, the LCS diff is used instead.
    ops = _trim(SequenceMatcher(None, s.words, q.words, autojunk=False).get_opcodes())
    if not _only_equal_and_delete(ops) and _is_subsequence(q.words, s.words):
        ops = _trim(
            [
                (o.tag, o.src_start, o.src_end, o.dest_start, o.dest_end)
                for o in Indel.opcodes(s.words, q.words)
            ]
        )
    diff = [
        {"op": tag, "source": _slice(source, s, i1, i2), "quote": _slice(quote, q, j1, j2)}
        for tag, i1, i2, j1, j2 in ops
    ]
    first, last = ops[0][1], ops[-1][2]
    truncated = (first > 0 and not _sentence_break(source, s, first - 1)) or (
        last < len(s.words) and not _sentence_break(source, s, last - 1)
    )
    marked = _punctuation(quote, q, source, s, ops)
    flags = {"truncated": truncated, "punctuation": marked is not None}
    stripped = quote.strip()
    if stripped and stripped in source:
        return Fidelity("exact", 1.0, diff, **flags)
    covered = " ".join(s.words[first:last])
    if covered == q.text:
        score = 1.0 if marked is None else Indel.normalized_similarity(*marked)
        return Fidelity("normalized", score, diff, **flags)
    score = Indel.normalized_similarity(q.text, covered)
    if _only_equal_and_delete(ops):
        return Fidelity("elided", score, diff, **flags)
    return Fidelity("altered", score, diff, **flags)


# --- truncation and punctuation -------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]\d]*\s")
_ABBREVIATION = re.compile(
    r"(?i)(?:[a-z]|mr|mrs|ms|dr|st|vs|no|nos|vol|pp?|cf|ed|eds|jan|feb|mar|apr|jun|jul|aug|"
    r"sep|sept|oct|nov|dec|gen|col|lt|gov|sen|rep|prof|rev|ibid|etc|al|ca)"
)
_DOTS = re.compile(r"\.\s*\.\s*\.")
_DASHES = re.compile(r"[-\u2010-\u2015\u2212]+")
_MARKS = frozenset(".,;:!?…—")


def _gap(original: str, norm: Normalized, k: int) -> str:
    """The original text between word k and word k + 1 (after the last word: the rest)."""
    end = norm.oends[k]
    if k + 1 >= len(norm.words):
        return original[end:]
    return original[end : max(end, norm.ostarts[k + 1])]


def _sentence_break(original: str, norm: Normalized, k: int) -> bool:
    """Does a sentence end between word k and the next one?"""
    gap = _gap(original, norm, k)
    if "\n\n" in gap.replace("\r", "") or k + 1 >= len(norm.words):
        return True
    found = _SENTENCE_END.search(gap)
    if found is None:
        return False
    word = original[norm.ostarts[k] : norm.oends[k]]
    if gap[found.start()] == "." and _ABBREVIATION.fullmatch(word):
        return False
    following = original[norm.ostarts[k + 1] : norm.oends[k + 1]]
    return not following[:1].islower()


def _marks(gap: str) -> str:
    """The punctuation marks of a gap between words, spelt one way."""
    gap = _DASHES.sub("—", _DOTS.sub("…", gap))
    return "".join(ch for ch in gap if ch in _MARKS)


def _punctuation(
    quote: str, q: Normalized, source: str, s: Normalized, ops: list[_Op]
) -> tuple[str, str] | None:
    """None when the quote's punctuation is the source's; else the quote and the source
    words it covers, each with its marks, for the score.

    Compared: the marks between two quoted words that are side by side in the source too,
    and the marks the quote ends with (when it ends with any) against the source's there."""
    differs = False
    for tag, i1, i2, j1, _ in ops:
        if tag != "equal":
            continue
        for offset in range(i2 - i1 - 1):
            if _marks(_gap(source, s, i1 + offset)) != _marks(_gap(quote, q, j1 + offset)):
                differs = True
    tag, _, i2, _, j2 = ops[-1]
    ending = _marks(_gap(quote, q, len(q.words) - 1))
    source_ending = _marks(_gap(source, s, i2 - 1))
    if tag == "equal" and j2 == len(q.words) and ending and ending != source_ending:
        differs = True
    if not differs:
        return None
    first, last = ops[0][1], ops[-1][2]
    quoted = " ".join(q.words[j] + _marks(_gap(quote, q, j)) for j in range(len(q.words)))
    covered = " ".join(
        s.words[i] + (_marks(_gap(source, s, i)) if i < last - 1 or ending else "")
        for i in range(first, last)
    )
    return quoted, covered


_Op = tuple[str, int, int, int, int]


def _trim(ops: list[_Op]) -> list[_Op]:
    """Drop the source words before the quote begins and after it ends: context, not elision.

    A quote that changes its last word ("... who had been shot" for "... who had been
    repressed. I forwarded ...") ends the diff with a replacement that takes in the rest of
    the source too: it is cut to as many source words as the quote has there, and the rest
    is context; likewise at the start."""
    start, end = 0, len(ops)
    while start < end and ops[start][0] == "delete":
        start += 1
    while end > start and ops[end - 1][0] == "delete":
        end -= 1
    ops = ops[start:end]
    if ops and ops[-1][0] == "replace":
        tag, i1, i2, j1, j2 = ops[-1]
        ops[-1] = (tag, i1, min(i2, i1 + (j2 - j1)), j1, j2)
    if ops and ops[0][0] == "replace":
        tag, i1, i2, j1, j2 = ops[0]
        ops[0] = (tag, max(i1, i2 - (j2 - j1)), i2, j1, j2)
    return ops


def _only_equal_and_delete(ops: list[_Op]) -> bool:
    return all(op[0] in ("equal", "delete") for op in ops)


def _is_subsequence(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    remaining = iter(long)
    return all(word in remaining for word in short)


def _slice(original: str, norm: Normalized, i: int, j: int) -> str:
    """The original text of words [i, j) of `norm`, with what lies between them."""
    if i >= j:
        return ""
    return original[norm.ostarts[i] : norm.oends[j - 1]]
