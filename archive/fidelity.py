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

`score` is the Indel similarity of the normalized quote and the part of the source it
covers (1.0 for "exact" and "normalized"), so an elision or a change costs in proportion to
its length. `diff` is the word diff as `{"op", "source", "quote"}` items, where `op` is
"equal", "delete" (source words the quote leaves out), "insert" (quote words the source does
not have) or "replace"; the strings are the original text of those words, punctuation
between them included.
"""

from __future__ import annotations

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
    stripped = quote.strip()
    if stripped and stripped in source:
        return Fidelity("exact", 1.0, diff)
    covered = " ".join(s.words[ops[0][1] : ops[-1][2]])
    if covered == q.text:
        return Fidelity("normalized", 1.0, diff)
    score = Indel.normalized_similarity(q.text, covered)
    if _only_equal_and_delete(ops):
        return Fidelity("elided", score, diff)
    return Fidelity("altered", score, diff)


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
