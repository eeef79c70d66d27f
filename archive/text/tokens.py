"""Index words and shingles: how the passage index sees a text, computed in bulk with numpy.

The passage index (`archive.lookup.index`) stores, for every current text, the hashes of its
*shingles*: each run of `SHINGLE` consecutive words. A quotation's shingles are looked up
there to find the places it may come from. Query and texts go through the same function
here, so what counts is that it is fast (the index is built for every text written, an
import of 10,000 documents passes 8 million words through it) and that it sets aside what
a retyped copy loses, as `archive.text.normalize` does for the alignment:

- case, and Latin, Greek and Cyrillic diacritics (``József`` is ``jozsef``, ``ё`` is ``е``;
  each letter folds to the first letter of its compatibility decomposition, so fullwidth
  ``Ｓ`` is ``s``);
- punctuation, quotation marks, dashes and whitespace, which only separate words;
- apostrophes inside a word (``Stalin’s`` is ``stalins``), combining marks and invisible
  format characters (soft hyphen, zero-width joiners);
- footnote numbers: digits glued after a letter (``personality1`` is ``personality``), and
  numbers of at most three digits standing alone (note markers after a closing quote, page
  numbers), which a copy may or may not carry.

What it does not do, unlike `normalize`: expand contractions (``can't`` is ``cant``, not
``cannot``), join a number's separators or drop editorial brackets. A copy that differs
from its source there spoils the few shingles around the difference, no more; the
alignment that follows compares the normalized words.

A word's hash is a polynomial over its folded code points, computed for all words of a
text at once from prefix sums (modulo 2**64, where the base is invertible); a shingle's
hash mixes its words' hashes into 32 bits. Characters outside the Basic Multilingual Plane
separate words.
"""

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SHINGLE = 3  # words in a shingle
_U64 = np.uint64

# ASCII: letters (lower-cased) and digits stay, NUL marks a chunk boundary,
# everything else separates words; bytes of other characters are handled in `_bytes`.
_ASCII = bytes(
    c + 32
    if 65 <= c <= 90
    else c
    if (48 <= c <= 57 or 97 <= c <= 122 or c == 0 or c >= 128)
    else 32
    for c in range(256)
)
_DELETED_ASCII = b"'`"  # apostrophes join the letters around them
_MARK = 1  # an apostrophe, when offsets are kept: left out after folding
_ASCII_MARKED = bytes(_MARK if chr(c) in "'`" else _ASCII[c] for c in range(256))
# U+2000-U+207F (general punctuation: quotation marks, dashes, ellipsis, primes) separate
# words, except these, which are apostrophes: ‘ ’ ‛ ′
_APOSTROPHES_E2_80 = np.array([0x98, 0x99, 0x9B, 0xB2], np.uint8)


@dataclass(frozen=True, slots=True)
class Words:
    """The index words of some pieces of text: `hashes[k]` (64 bits) of word k, which lies
    in piece `pieces[k]`."""

    hashes: np.ndarray
    pieces: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)


def _bytes(pieces: list[str]) -> np.ndarray:
    """The pieces, NUL between them, folded to bytes where words are runs of bytes above
    0x20: lower case, diacritics and apostrophes gone, punctuation made spaces.

    Most texts are ASCII but for their typography (quotation marks, dashes): those are
    folded byte by byte; a text with other characters is lower-cased and decomposed first.
    """
    text = "\x00".join(pieces)
    raw = text.encode("utf-8", "replace")
    if raw.isascii():
        return np.frombuffer(raw.translate(_ASCII, _DELETED_ASCII), np.uint8)
    folded = _fold(raw, track=False, check=True)
    if folded is None:  # letters to fold
        text = unicodedata.normalize("NFKD", text.lower()).replace("\u03c2", "\u03c3")
        folded = _fold(text.encode("utf-8", "replace"), track=False, check=False)
    assert folded is not None
    return folded[0]


def _fold(raw: bytes, *, track: bool, check: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """UTF-8 bytes folded byte by byte (see `_bytes`), and with `track` the offset in `raw`
    of each byte kept; None, when `check`, if `raw` has letters beyond ASCII to fold."""
    if track:
        a = np.frombuffer(raw.translate(_ASCII_MARKED) + b"\x00\x00", np.uint8).copy()
    else:
        a = np.frombuffer(raw.translate(_ASCII, _DELETED_ASCII) + b"\x00\x00", np.uint8).copy()
    at = np.flatnonzero(a >= 0xC2)  # the lead bytes worth a look (and a few others)
    lead, second, third = a[at], a[at + 1], a[at + 2]
    punctuation = (lead == 0xE2) & ((second == 0x80) | (second == 0x81))
    minus = (lead == 0xE2) & (second == 0x88) & (third == 0x92)
    if check and not ((lead == 0xC2) | punctuation | minus).all():
        return None
    # combining marks (U+0300-U+036F), the modifier apostrophe ʼ and the acute accent ´
    drop2 = (lead == 0xCC) | (lead == 0xCD) | ((lead == 0xCA) & (second == 0xBC))
    drop2 |= (lead == 0xC2) & (second == 0xB4)
    # the rest of Latin-1's symbols (« » § ¶ · ° ¡ ¿ ...) separate words
    space2 = (lead == 0xC2) & (second >= 0x80) & (second <= 0xBF) & ~drop2
    # general punctuation (U+2000-U+207F: quotation marks, dashes, primes) separates words,
    # but for these apostrophes: ‘ ’ ‛ ′; so does the minus sign
    drop3 = punctuation & (second == 0x80) & np.isin(third, _APOSTROPHES_E2_80)
    space3 = (punctuation & ~drop3) | minus
    for k in (0, 1, 2):
        a[at[space3] + k] = 32
        if k < 2:
            a[at[space2] + k] = 32
    dropped = np.concatenate([at[drop2], at[drop2] + 1, at[drop3], at[drop3] + 1, at[drop3] + 2])
    a = a[:-2]
    if not track:
        return (np.delete(a, dropped) if len(dropped) else a), np.zeros(0, np.int64)
    keep = a != _MARK
    keep[dropped] = False
    return a[keep], np.flatnonzero(keep)


def words(pieces: list[str]) -> Words:
    """The index words of each piece of text (see the module docstring), in order.

    A word is hashed from its length and its first and last eight bytes (one and the same
    for words of at most eight bytes), read straight from the byte array: work per word,
    not per byte. Digits glued after a letter (`personality1`, a note number) are not part
    of the word; a bare number of at most three digits (a note or page number) is no word.
    """
    a = _bytes(pieces)
    hashes, starts, _ = _hash_words(a)
    piece = np.searchsorted(np.flatnonzero(a == 0), starts)
    return Words(hashes, piece)


def word_spans(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The index words of `text` as `words` finds them, with where each lies in `text`:
    (hashes, starts, ends), offsets in characters. For the small stretches a lookup reads.

    Folding byte by byte keeps each byte's offset; a text whose letters need decomposing
    is folded a character at a time instead (the same folding, kept per character)."""
    if not text:
        empty = np.zeros(0, np.int64)
        return np.zeros(0, _U64), empty, empty
    raw = text.encode("utf-8", "replace")
    folded = _fold(raw, track=True, check=True)
    if folded is not None:
        a, kept = folded
        hashes, starts, ends = _hash_words(a)
        if raw.isascii():
            return hashes, kept[starts], kept[ends - 1] + 1
        lead = (np.frombuffer(raw, np.uint8) & 0xC0) != 0x80  # bytes that begin a character
        char = np.cumsum(lead) - 1
        return hashes, char[kept[starts]], char[kept[ends - 1]] + 1
    pieces = [_folded_char(c) for c in text]
    a = np.frombuffer(b"".join(pieces), np.uint8)
    source = np.repeat(np.arange(len(text)), [len(f) for f in pieces])
    hashes, starts, ends = _hash_words(a)
    return hashes, source[starts], source[ends - 1] + 1


@lru_cache(maxsize=4096)
def _folded_char(c: str) -> bytes:
    if c == "\x00":
        return b" "
    return _bytes([c]).tobytes()


def _hash_words(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The words of folded bytes: (hashes, starts, ends), offsets into `a`."""
    edges = np.diff((a > 32).view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    padded = np.zeros(len(a) + 16, np.uint8)
    padded[8 : len(a) + 8] = a
    # the digits at a word's end, up to three, and whether a letter comes before them
    trailing = np.zeros(len(starts), np.int64)
    for k in (1, 2, 3):
        byte = padded[ends + 8 - k]
        more = (trailing == k - 1) & (byte >= 48) & (byte <= 57) & (ends - k >= starts)
        trailing += more
    before = padded[ends + 7 - trailing]
    glued = (trailing > 0) & (ends - trailing > starts) & ~((before >= 48) & (before <= 57))
    ends = ends - np.where(glued, trailing, 0)
    lengths = (ends - starts).astype(_U64)
    bare = (trailing == lengths) & (lengths <= 3)
    eight = np.ndarray((len(a),), dtype="<u8", buffer=padded, offset=8, strides=(1,))
    short = lengths < 8
    mask = np.where(short, (_U64(1) << (_U64(8) * np.minimum(lengths, 7))) - _U64(1), ~_U64(0))
    head = eight[starts] & mask
    tail = np.where(short, head, eight[np.maximum(ends - 8, starts)])
    with np.errstate(over="ignore"):
        hashes = head * _U64(0x9E3779B97F4A7C15) ^ tail * _U64(0xC2B2AE3D27D4EB4F) ^ lengths
        hashes ^= hashes >> _U64(29)
        hashes *= _U64(0xBF58476D1CE4E5B9)
    keep = ~bare
    return hashes[keep], starts[keep], ends[keep]


def shingles(hashes: np.ndarray) -> np.ndarray:
    """32-bit hashes of each run of `SHINGLE` consecutive word hashes (one fewer than
    the words, twice over; none for fewer words)."""
    if len(hashes) < SHINGLE:
        return np.zeros(0, np.uint32)
    a, b, c = hashes[:-2], hashes[1:-1], hashes[2:]
    with np.errstate(over="ignore"):
        h = a * _U64(0x9E3779B97F4A7C15) ^ b * _U64(0xC2B2AE3D27D4EB4F) ^ c
        h ^= h >> _U64(31)
        h *= _U64(0xBF58476D1CE4E5B9)
        h ^= h >> _U64(29)
    return (h >> _U64(32)).astype(np.uint32)


def text_shingles(text: str) -> np.ndarray:
    """The shingle hashes of a text, in text order (the query side of the index)."""
    return shingles(words([text]).hashes)
