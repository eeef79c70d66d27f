"""Reading a misspelled search word as the nearest words of the index's own vocabulary.

A word of the search that matches nothing in the full-text index (stemmed, as the search
itself matches) is read as the words of the vocabulary nearest to it: at most one edit away
for a word of up to five letters, two beyond, by the optimal string alignment distance (a
Damerau transposition of two neighbouring letters counts as one edit). Of the words found,
those at the smallest distance are kept, at most `MAX_READ_AS`, alphabetically. A word of
fewer than `MIN_LENGTH` letters, a number, a prefix* or an excluded word is never corrected;
a word with no neighbour close enough is left as it is (and still finds nothing).

The vocabulary is every unstemmed, unaccented, lower-case word of the index (migration
0004): FTS5's `fts5vocab` over `search_words` on SQLite, the `search_words` table on
PostgreSQL. Each worker keeps it in memory, grouped by length, for one data version (see
`archive.changes.latest`): read again after a write, and only when a search needs a
correction. A correction is checked against the index before it is used, since the
PostgreSQL table keeps words whose items were since deleted.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import text
from sqlmodel import Session

from archive.db import driver_rows

MIN_LENGTH = 3
MAX_READ_AS = 3


@dataclass(frozen=True)
class Correction:
    word: str
    read_as: tuple[str, ...]


def allowed_edits(word: str) -> int:
    return 1 if len(word) <= 5 else 2


def correctable(word: str) -> bool:
    return len(word) >= MIN_LENGTH and word.isalpha()


class Vocabulary:
    """Words grouped by length, to find the nearest ones to a misspelled word."""

    def __init__(self, words: list[str]) -> None:
        by_length: dict[int, list[str]] = defaultdict(list)
        for word in words:
            if word.isalpha():
                by_length[len(word)].append(word)
        self.by_length = {n: sorted(ws) for n, ws in by_length.items()}

    def nearest(self, word: str) -> list[str]:
        """The vocabulary's words nearest to `word` (lower case), within its allowed edits."""
        edits = allowed_edits(word)
        best = edits + 1
        found: list[str] = []
        for length in range(len(word) - edits, len(word) + edits + 1):
            bucket = self.by_length.get(length)
            if not bucket:
                continue
            for candidate, distance, _ in process.extract(
                word, bucket, scorer=OSA.distance, score_cutoff=min(edits, best), limit=None
            ):
                if distance < best:
                    best, found = distance, [candidate]
                elif distance == best:
                    found.append(candidate)
        return sorted(found)


#: Held while a vocabulary is read: concurrent searches wait for one reading.
_load_lock = threading.Lock()
_cache: dict[str, tuple[int, Vocabulary]] = {}


def vocabulary(session: Session, version: int) -> Vocabulary:
    """This database's vocabulary as it stands at data version `version`."""
    bind = session.get_bind()
    key = getattr(bind, "engine", bind).url.render_as_string(hide_password=True)
    cached = _cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    with _load_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        if bind.dialect.name == "postgresql":
            words = session.execute(text("SELECT word FROM search_words")).scalars().all()
        else:
            words = [
                row[0] for row in driver_rows(session, "SELECT term FROM search_vocabulary", {})
            ]
        loaded = Vocabulary(list(words))
        _cache[key] = (version, loaded)
    return loaded
