"""Text normalization for quote matching, with a map back to offsets in the original text.

A quote a teacher pastes rarely matches the archive byte for byte: it was retyped, copied
from a textbook or a web page, and lost or gained curly quotes, dashes, line breaks, footnote
markers and editorial brackets on the way. `normalize` reduces a text to a sequence of words
that survives all of that, and remembers where each word came from, so that a match found
in normalized text can be reported at its offsets in the original.

What normalization does (applied alike to queries and to documents, so they are comparable):

- Unicode NFKC, then Latin/Greek/Cyrillic diacritics folded (``József`` → ``jozsef``,
  ``ё`` → ``е``: people often drop them when retyping), then case-folded.
- The text becomes its words joined by single spaces. Everything between words is dropped:
  punctuation, every kind of quotation mark, dashes and hyphens (``not-so-secret`` →
  ``not so secret``), ``...`` and ``…``, whitespace and line breaks. Dropping punctuation
  rather than unifying it is deliberate: a retyped quote gets commas, full stops and quote
  marks wrong far more often than words, and the words alone locate a passage.
- A number's thousands and decimal separators are dropped (``1,430`` → ``1430``).
- Apostrophes inside a word (straight, curly, prime, backtick) are dropped, joining the word
  (``Stalin’s`` → ``stalins``, as a student who types ``Stalins`` would), except that
  unambiguous contractions are expanded: ``n't`` → `` not`` (``can't`` → ``cannot``,
  ``won't`` → ``will not``, ``shan't`` → ``shall not``), ``'re`` → `` are``, ``'ve`` →
  `` have``, ``'ll`` → `` will``, ``'m`` → `` am``, ``let's`` → ``let us``. ``'s`` and ``'d``
  are ambiguous (is/has/possessive, had/would) and are only joined.
- Editorial brackets are removed with their contents (``[Stalin]``, ``[...]``,
  ``[Animation in the hall.]``); a stray ``]`` is punctuation.
- Footnote markers glued to the text are removed: trailing digits (at most three) glued to
  a word (``personality1`` → ``personality``); a number of at most three digits glued to a
  closing mark that itself follows text (``“revisionist”26``, ``roots.”11``, ``Lenin…12``);
  and a note number glued to a year (``19563`` → ``1956``, ``195628`` → ``1956``; a
  five-to-seven digit run that starts with a year 1000-2099 and goes on with a number that
  has no leading zero, so ``20000`` stays). A word glued to a year is split
  (``and1950`` → ``and 1950``). These rules misread a few real tokens (``T34`` → ``t``,
  ``12345`` → ``1234``), but they misread them identically in the query and the text.

Not handled: scripts written without spaces between words (Chinese, Japanese, Thai) are kept
as long runs, which match only as whole runs.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from operator import add

_CATEGORIES = [unicodedata.category(chr(cp)) for cp in range(0x10000)]


def _bmp_class(predicate: Callable[[str], bool]) -> str:
    """A regex character class body for every BMP code point whose category passes."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF or not predicate(_CATEGORIES[cp]):
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


# Combining marks and invisible format characters (soft hyphen, zero-width joiners) belong
# to the word they sit in; Python's \w does not include them.
_INWORD = _bmp_class(lambda cat: cat[0] == "M" or cat == "Cf")
_APOSTROPHES = "'\u2019\u2018\u02bc\u2032`\u00b4"
_W = rf"[\w{_INWORD}]"
# One capturing group, so that `split` alternates separators and tokens (words, apostrophes
# inside them included). Numbers with separators and editorial brackets are found afterwards:
# alternatives in this pattern would double the time of the whole normalization.
_TOKEN = re.compile(rf"({_W}+(?:[{_APOSTROPHES}]{_W}+)*)")
_BRACKET = re.compile(r"\[[^\[\]]{0,200}\]")
_APOSTROPHE_SPLIT = re.compile(f"[{_APOSTROPHES}]")
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_FORMAT = re.compile(f"[{_bmp_class(lambda cat: cat == 'Cf')}]")
_NOT_WORD = re.compile(f"[^\\w{_bmp_class(lambda cat: cat[0] == 'M')}]|_")
_LETTERS_DIGITS = re.compile(r"([^\W\d_]+)(\d+)")
_YEAR_NOTE = re.compile(r"(1\d{3}|20\d{2})[1-9]\d{0,2}")
# A footnote number may be glued to one of these when it closes a passage: `”26`, `.”11`, `…12`.
_CLOSERS = frozenset(".,;!?…)]»\"'\u201d\u2019")
_NEGATED = {"ca": "cannot", "wo": "will", "sha": "shall"}
_SUFFIXES = {"re": "are", "ve": "have", "ll": "will", "m": "am"}


class _Builder:
    """Collects normalized words with their original offsets, in parallel arrays."""

    __slots__ = ("words", "ostarts", "oends", "precise")

    def __init__(self) -> None:
        self.words: list[str] = []
        self.ostarts: list[int] = []
        self.oends: list[int] = []
        self.precise: list[bool] = []  # one normalized character per original one, in order

    def add(self, word: str, start: int, end: int, precise: bool) -> None:
        self.words.append(word)
        self.ostarts.append(start)
        self.oends.append(end)
        self.precise.append(precise)

    def plain(self, tokens: list[str], starts: list[int], ends: list[int]) -> None:
        """Add plain ASCII words, which normalize to themselves in lower case."""
        self.words.extend(map(str.lower, tokens))
        self.ostarts.extend(starts)
        self.oends.extend(ends)
        self.precise.extend([True] * len(tokens))

    def emit(self, word: str, start: int, end: int, precise: bool) -> None:
        """Add a word, taking glued footnote numbers off it."""
        if not word:
            return
        if word.isdigit():
            if precise and 5 <= len(word) <= 7 and _YEAR_NOTE.fullmatch(word):
                self.add(word[:4], start, start + 4, True)
            else:
                self.add(word, start, end, precise)
            return
        m = _LETTERS_DIGITS.fullmatch(word)
        if m is None:
            self.add(word, start, end, precise)
            return
        letters, digits = m.groups()
        cut = start + len(letters) if precise else end
        self.add(letters, start, cut, precise)
        if len(digits) > 3:  # a word glued to a number (`and1950`), not a note marker
            self.emit(digits, cut if precise else start, end, precise)

    def token(self, text: str, token: str, start: int) -> None:
        """Add the words of one token that is not plain ASCII letters."""
        end = start + len(token)
        if token.isascii() and token.isalnum():
            if not (token.isdigit() and len(token) <= 3 and _glued_to_closer(text, start)):
                self.emit(token.lower(), start, end, True)
            return
        pieces: list[tuple[str, int, int]] = []  # apostrophe-separated pieces, folded
        pos = start
        for raw in _APOSTROPHE_SPLIT.split(token):
            pieces.append((_fold(raw), pos, pos + len(raw)))
            pos += len(raw) + 1
        if len(pieces) == 1:
            folded = pieces[0][0]
            if not (folded.isdigit() and len(folded) <= 3 and _glued_to_closer(text, start)):
                self.emit(folded, start, end, len(folded) == len(token))
            return
        if len(pieces) == 2:
            (head, h0, h1), (tail, t0, _) = pieces
            head_precise = len(head) == h1 - h0
            if tail == "t" and head.endswith("n") and len(head) > 1:
                base = head[:-1]
                if base == "ca":
                    self.add("cannot", start, end, False)
                    return
                cut = h0 + len(base) if head_precise else h1
                self.add(_NEGATED.get(base, base), h0, cut, head_precise and base not in _NEGATED)
                self.add("not", cut, end, False)
                return
            if tail in _SUFFIXES or (tail == "s" and head == "let"):
                self.emit(head, h0, h1, head_precise)
                self.add(_SUFFIXES.get(tail, "us"), t0 - 1, end, False)
                return
        self.emit("".join(p[0] for p in pieces), start, end, False)


def _fold(s: str) -> str:
    """NFKC, diacritics folded, case-folded; only letters, digits and marks are kept."""
    if s.isascii():
        return s.lower() if s.isalnum() else _NOT_WORD.sub("", s.lower())
    t = _DIACRITICS.sub("", unicodedata.normalize("NFKD", s))
    t = unicodedata.normalize("NFKC", _FORMAT.sub("", t).casefold())
    return _NOT_WORD.sub("", t)


def _glued_to_closer(text: str, start: int) -> bool:
    return start >= 2 and text[start - 1] in _CLOSERS and not text[start - 2].isspace()


@dataclass(frozen=True, eq=False)
class Normalized:
    """A normalized text and where each of its words lies in the original.

    `text` is the normalized words joined by single spaces; word k is `words[k]`, found at
    `starts[k]` in `text` and at [`ostarts[k]`, `oends[k]`) in the original. Offsets into
    `text` map back with `to_original`; original offsets map forward with `from_original`.
    """

    text: str
    words: tuple[str, ...]
    starts: array[int]
    ostarts: array[int]
    oends: array[int]
    precise: bytes = field(repr=False)

    def __len__(self) -> int:
        return len(self.text)

    def word_at(self, i: int) -> int:
        """Index of the word containing normalized offset `i` (or the word before the space)."""
        return max(0, bisect_right(self.starts, i) - 1)

    def word_end(self, k: int) -> int:
        """Offset in `text` just after word k."""
        return self.starts[k] + len(self.words[k])

    def to_original(self, i: int, j: int) -> tuple[int, int]:
        """The original [start, end) that normalized [i, j) came from.

        Inside a word whose characters correspond one to one (most words), the map is exact;
        inside a word that normalization reshaped (`don't` → `do not`, `ß` → `ss`) it widens
        to the whole original word. A range of only a separating space maps to the original
        gap between the two words.
        """
        n = len(self.text)
        i, j = max(0, min(i, n)), max(0, min(j, n))
        if not self.words:
            return (0, 0)
        start = self._start(i)
        if j <= i:
            return (start, start)
        end = self._end(j)
        if end < start:  # only a separating space: the gap between the two words
            return (end, start)
        return (start, end)

    def _start(self, i: int) -> int:
        k = self.word_at(i)
        offset = i - self.starts[k]
        if offset >= len(self.words[k]):  # on the space after word k (or the very end)
            return self.ostarts[k + 1] if k + 1 < len(self.words) else self.oends[k]
        return self.ostarts[k] + offset if self.precise[k] else self.ostarts[k]

    def _end(self, j: int) -> int:
        k = self.word_at(j - 1)
        offset = j - self.starts[k]
        if self.precise[k] and offset < len(self.words[k]):
            return self.ostarts[k] + offset
        return self.oends[k]

    def from_original(self, start: int, end: int) -> tuple[int, int]:
        """The normalized [i, j) covering the words that overlap original [start, end).

        Returns an empty range at the next word when no word overlaps.
        """
        first = bisect_right(self.ostarts, start) - 1
        if first < 0 or self.oends[first] <= start:
            first += 1
        last = bisect_right(self.ostarts, max(start, end - 1)) - 1
        if first > last or first >= len(self.words):
            at = self.starts[first] if first < len(self.words) else len(self.text)
            return (at, at)
        return (self.starts[first], self.word_end(last))


def normalize(text: str) -> Normalized:
    """Normalize `text` for quote matching (see the module docstring for what that means)."""
    parts = _TOKEN.split(text)  # separator, token, separator, token, ..., separator
    tokens = parts[1::2]
    bounds = list(accumulate(map(len, parts)))
    starts, ends = bounds[0:-1:2], bounds[1::2]  # of each token in `text`
    # Most tokens are plain ASCII words and are only lower-cased, in bulk; the others
    # (and the tokens inside editorial brackets) go through `_Builder.token` one by one.
    special = [k for k, t in enumerate(tokens) if not (t.isascii() and t.isalpha())]
    dropped: set[int] = set()
    if "[" in text:
        for m in _BRACKET.finditer(text):
            dropped.update(range(bisect_left(starts, m.start()), bisect_left(starts, m.end())))
        special = sorted(dropped.union(special))
    out = _Builder()
    done = 0  # tokens before this index are in `out`
    for k in special:
        if k < done:
            continue  # consumed as part of a number
        out.plain(tokens[done:k], starts[done:k], ends[done:k])
        done = k + 1
        if k in dropped:
            continue
        token = tokens[k]
        if token.isdigit() and parts[2 * k + 2] in (",", ".") and k + 1 < len(tokens):
            # a number with thousands or decimal separators: 1,430 / 26,000 / 3.5
            last = k
            while (
                last + 1 < len(tokens)
                and parts[2 * last + 2] in (",", ".")
                and tokens[last + 1].isdigit()
                and last + 1 not in dropped
            ):
                last += 1
            if last > k:
                digits = "".join(tokens[k : last + 1])
                out.add(_fold(digits), starts[k], ends[last], False)
                done = last + 1
                continue
        out.token(text, token, starts[k])
    out.plain(tokens[done:], starts[done:], ends[done:])
    words = out.words
    # word k starts after the k words before it and their k separating spaces
    offsets = map(add, accumulate(map(len, words), initial=0), range(len(words)))
    return Normalized(
        text=" ".join(words),
        words=tuple(words),
        starts=array("l", offsets),
        ostarts=array("l", out.ostarts),
        oends=array("l", out.oends),
        precise=bytes(out.precise),
    )
