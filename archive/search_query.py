"""The search language, parsed once and rendered safely for SQLite FTS5 and PostgreSQL.

A user types words (all must match), ``"exact phrases"``, ``OR`` between terms (uppercase
only), ``-excluded`` words or phrases and ``prefix*``. :func:`parse` turns that text into a
small AST or raises :class:`~archive.errors.BadQuery` saying what is wrong and where;
:func:`to_fts5` and :func:`to_tsquery_sql` render the AST. Nothing the user typed reaches an
engine's own query syntax: FTS5 gets every token inside a double-quoted string, PostgreSQL
gets every value as a bound parameter of ``plainto_tsquery``/``phraseto_tsquery`` (which
ignore operators) or, for a prefix, of ``to_tsquery`` after checking it is letters and digits.

Keeping the two engines' answers the same:

- Words are runs of Unicode letters, digits and marks, as for FTS5's ``unicode61``
  tokenizer. Other punctuation inside a word splits it, and the pieces become a phrase:
  ``Sino-Soviet`` is the phrase "Sino Soviet", ``1,430`` the phrase "1 430". PostgreSQL's
  parser keeps some punctuated forms whole (``07/27/2016``, ``3.14``, the ``-1953`` of
  ``1945-1953``), so there a phrase is also tried exactly as typed, and a number alone also
  matches its signed form, which is how PostgreSQL indexes the end of a year range.
- Stop words ("the", "of", "or") occur in nearly every item, so beside other words the
  parser drops a word or phrase made only of stop words on both engines and lists it in
  :attr:`SearchQuery.ignored` for a notice, and trims stop words from the ends of
  phrases. A query made only of stop words is searched as typed: both indexes hold them
  (FTS5's porter tokenizer has no stop-word list, and migration 0004 gives PostgreSQL a
  Snowball dictionary without one).
- Compatibility forms fold (NFKC: fullwidth letters, ligatures), and Cyrillic ё is е.
- Accents: FTS5 folds them (``remove_diacritics 2``). On PostgreSQL the ``config`` passed to
  :func:`to_tsquery_sql` must fold them too; :func:`pg_search_config_ddl` creates one with
  the ``unaccent`` extension. Query text is NFC-normalized, so a decomposed "é" is one letter.
- A prefix is stemmed on both engines (``delegates*`` looks for ``deleg*``). A prefix that is
  itself a stop word ("over*", "in*") would vanish on PostgreSQL, so it is looked up with the
  ``simple`` configuration there; it then misses the bare stop word, which FTS5 still finds.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from archive.errors import BadQuery

MAX_LENGTH = 500
MAX_TERMS = 32

#: PostgreSQL 15's ``english.stop``, the words its English configuration does not index.
STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing a an the and but if or because as until while of at by for with about against
    between into through during before after above below to from up down in out on off over
    under again further then once here there when where why how all any both each few more
    most other some such no nor not only own same so than too very s t can will just don
    should now
    """.split()  # noqa: SIM905 - kept in the file's order, to compare with the original
)

#: Quote marks that open or close a phrase: the ASCII one and the "smart" ones that phones
#: and word processors substitute for it.
_QUOTES = frozenset('"\u201c\u201d\u201e')
_PARENS = frozenset("()")
_DELIMITERS = _QUOTES | _PARENS
_ALLOWED_CONTROLS = frozenset("\t\n\r")
_APOSTROPHES = frozenset("'\u2019")


def is_word_char(ch: str) -> bool:
    """Letters, digits, marks and private-use characters: what FTS5's unicode61 keeps."""
    category = unicodedata.category(ch)
    return category[0] in "LNM" or category == "Co"


def _is_word(text: str) -> bool:
    return bool(text) and all(is_word_char(ch) for ch in text)


def _fold(word: str) -> str:
    """Lowercase without accents, to compare with the stop-word list."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def fold_word(word: str) -> str:
    """A word as the unstemmed vocabulary holds it: lower case, without accents."""
    return _fold(word)


def is_stop_word(word: str) -> bool:
    return _fold(word) in STOP_WORDS


@dataclass(frozen=True)
class Word:
    text: str

    def __post_init__(self) -> None:
        if not _is_word(self.text):
            raise ValueError(f"a Word is letters and digits only, not {self.text!r}")


@dataclass(frozen=True)
class Phrase:
    """Words that must appear next to each other, in order.

    ``raw`` is the text as typed ("Sino-Soviet", or what was inside the quotes), which
    PostgreSQL tokenizes itself as an alternative; it defaults to the words.
    """

    words: tuple[str, ...]
    raw: str = ""

    def __post_init__(self) -> None:
        if not self.words or not all(_is_word(w) for w in self.words):
            raise ValueError(f"a Phrase is one or more words, not {self.words!r}")
        if not self.raw:
            object.__setattr__(self, "raw", " ".join(self.words))
        if _first_invalid(self.raw) is not None:
            raise ValueError(f"control character in phrase {self.raw!r}")


@dataclass(frozen=True)
class Prefix:
    """A word's beginning: ``Khrush*`` is ``Prefix("Khrush")``."""

    text: str

    def __post_init__(self) -> None:
        if not _is_word(self.text):
            raise ValueError(f"a Prefix is letters and digits only, not {self.text!r}")


Term = Word | Phrase | Prefix
OrGroup = list[Term]
"""Alternatives: a document matches the group if it matches any of its terms."""


@dataclass(frozen=True)
class SearchQuery:
    """Every group must match and no excluded term may.

    ``ignored`` lists what the user typed but the search leaves out (stop words), so that
    the caller can say so.
    """

    groups: list[OrGroup]
    excluded: list[Term] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


# --- parsing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Or:
    position: int


@dataclass(frozen=True)
class _TermToken:
    term: Term
    excluded: bool
    text: str


_Token = _Or | _TermToken


def _first_invalid(text: str) -> int | None:
    """Index of the first control character or lone surrogate, if any."""
    for i, ch in enumerate(text):
        code = ord(ch)
        if (code < 0x20 or 0x7F <= code <= 0x9F) and ch not in _ALLOWED_CONTROLS:
            return i
        if 0xD800 <= code <= 0xDFFF:
            return i
    return None


#: Cyrillic ё is е to both indexes (PostgreSQL's unaccent; a fold in SQLite's triggers).
_YO = str.maketrans("ёЁ", "еЕ")


def fold_forms(text: str) -> str:
    """`text` with compatibility forms folded (NFKC: fullwidth ``Ｓｔａｌｉｎ`` is ``Stalin``,
    ``ﬁ`` is ``fi``) and ё read as е, as the indexes read them."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_YO)


def split_words(text: str) -> list[str]:
    """The words of `text` as the parser sees them: runs of word characters, NFC."""
    words: list[str] = []
    current: list[str] = []
    for ch in text:
        if is_word_char(ch):
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return [unicodedata.normalize("NFC", w) for w in words]


def _words_term(text: str) -> Term | None:
    words = split_words(text)
    if not words:
        return None
    if len(words) == 1:
        return Word(words[0])
    return Phrase(tuple(words), unicodedata.normalize("NFC", text))


def _chunk_term(chunk: str, at: int) -> _Token | None:
    """One run of text between spaces, quotes and parentheses; ``at`` is 1-based."""
    if chunk == "OR":
        return _Or(at)
    if chunk == "NEAR" or chunk.startswith("NEAR/"):
        raise BadQuery(
            f"NEAR (character {at}) is not part of the search syntax; "
            'use "an exact phrase" for words that must be next to each other'
        )
    if chunk == "NOT":
        raise BadQuery(
            f"NOT (character {at}) is not part of the search syntax; "
            "put a minus sign before a word to exclude it, as in -Stalin"
        )
    excluded = chunk.startswith("-")
    body = chunk[1:] if excluded else chunk
    if excluded and not body:
        raise BadQuery(
            f"The minus sign at character {at} has nothing after it; write -word or "
            '-"a phrase" (no space) to exclude something'
        )
    body_at = at + len(chunk) - len(body)
    term: Term | None
    if "*" in body:
        if body.strip("*") == "":
            raise BadQuery(
                f"The * at character {body_at} has no word before it; write the beginning of a "
                "word followed by *, as in Khrush*"
            )
        if not body.endswith("*") or body.count("*") > 1:
            star = body_at + body.index("*")
            raise BadQuery(
                f"The * at character {star} in {chunk!r} can only come at the end of a word, "
                "as in Khrush*"
            )
        stem = body[:-1]
        if not _is_word(stem):
            raise BadQuery(
                f"{chunk!r} (character {at}): a prefix* must be a single word of letters and "
                "digits, without punctuation"
            )
        term = Prefix(unicodedata.normalize("NFC", stem))
    else:
        term = _words_term(body)
    if term is None:
        if excluded:
            raise BadQuery(
                f"{chunk!r} (character {at}) has no letters or digits to exclude after the "
                "minus sign"
            )
        return None  # stray punctuation such as "&" or "—", which the engines skip too
    return _TermToken(term, excluded, chunk)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _PARENS:
            raise BadQuery(
                f"Parentheses (character {i + 1}) are not part of the search syntax; all "
                'words must match anyway, use OR between alternatives and "quotes" for a phrase'
            )
        start = i
        excluded = ch == "-" and i + 1 < n and text[i + 1] in _QUOTES
        if excluded:
            i += 1
            ch = text[i]
        if ch in _QUOTES:
            close = next((j for j in range(i + 1, n) if text[j] in _QUOTES), None)
            if close is None:
                raise BadQuery(
                    f"The quote at character {i + 1} is never closed; add a closing quote "
                    "or remove it"
                )
            inside = text[i + 1 : close]
            if "*" in inside or (close + 1 < n and text[close + 1] == "*"):
                raise BadQuery(
                    f"The phrase at character {i + 1} uses *, but a prefix* only works on "
                    "a single word outside quotes"
                )
            term = _words_term(inside)
            if term is None:
                raise BadQuery(
                    f"The quotes at character {i + 1} contain no words; put a phrase "
                    "between them or remove them"
                )
            tokens.append(_TermToken(term, excluded, text[start : close + 1]))
            i = close + 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in _DELIMITERS:
            j += 1
        token = _chunk_term(text[i:j], i + 1)
        if token is not None:
            tokens.append(token)
        i = j
    return tokens


def _group(tokens: list[_Token]) -> tuple[list[OrGroup], list[Term]]:
    groups: list[OrGroup] = []
    excluded: list[Term] = []
    for k, token in enumerate(tokens):
        if isinstance(token, _Or):
            where = f"OR at character {token.position}"
            if k == 0:
                raise BadQuery(f"{where} has nothing before it; OR goes between two terms")
            if isinstance(tokens[k - 1], _Or):
                raise BadQuery(f"{where} follows another OR; write a term between them")
            if k == len(tokens) - 1:
                raise BadQuery(f"{where} has nothing after it; OR goes between two terms")
            for neighbour in (tokens[k - 1], tokens[k + 1]):
                if isinstance(neighbour, _TermToken) and neighbour.excluded:
                    raise BadQuery(
                        f"{where} joins the excluded term {neighbour.text!r}; an excluded term "
                        "cannot be an alternative, write it on its own"
                    )
            continue
        if token.excluded:
            excluded.append(token.term)
        elif k > 0 and isinstance(tokens[k - 1], _Or):
            groups[-1].append(token.term)
        else:
            groups.append([token.term])
    return groups, excluded


def _without_stop_words(term: Term) -> Term | None:
    """The term as the engines can search it, or None if it is only stop words."""
    if isinstance(term, Word):
        return None if is_stop_word(term.text) else term
    if isinstance(term, Phrase):
        words = list(term.words)
        while words and is_stop_word(words[0]):
            words.pop(0)
        while words and is_stop_word(words[-1]):
            words.pop()
        if not words:
            return None
        return term if len(words) == len(term.words) else Phrase(tuple(words), term.raw)
    return term


def _searchable(terms: list[Term], ignored: list[str]) -> list[Term]:
    """The terms without those made only of stop words, which go to ``ignored``."""
    kept: list[Term] = []
    for term in terms:
        searchable = _without_stop_words(term)
        if searchable is None:
            ignored.append(_describe(term))
        else:
            kept.append(searchable)
    return kept


def _describe(term: Term) -> str:
    if isinstance(term, Word):
        return term.text
    if isinstance(term, Phrase):
        return f'"{term.raw}"'
    return f"{term.text}*"


def parse(text: str) -> SearchQuery:
    """Parse a user's search text, or raise BadQuery saying what is wrong and where."""
    if len(text) > MAX_LENGTH:
        raise BadQuery(f"The search text is {len(text)} characters long; the limit is {MAX_LENGTH}")
    bad = _first_invalid(text)
    if bad is not None:
        raise BadQuery(
            f"The search text contains the invalid character U+{ord(text[bad]):04X} at "
            f"character {bad + 1}; remove it"
        )
    if not text.strip():
        raise BadQuery("The search text is empty; type at least one word to look for")
    tokens = _tokenize(fold_forms(text))
    term_count = sum(isinstance(t, _TermToken) for t in tokens)
    if term_count > MAX_TERMS:
        raise BadQuery(f"The search has {term_count} terms; the limit is {MAX_TERMS}")
    groups, excluded = _group(tokens)
    if not groups:
        if excluded:
            raise BadQuery(
                "The search only excludes terms (-word); neither search engine can look for "
                "everything except something, so add a word to look for"
            )
        raise BadQuery("The search text has no letters or digits to look for")

    ignored: list[str] = []
    kept_groups = [kept for group in groups if (kept := _searchable(group, ignored))]
    kept_excluded = _searchable(excluded, ignored)
    if not kept_groups:
        # only very common words: they are what the user looks for, so they are kept
        return SearchQuery(groups, excluded, [])
    return SearchQuery(kept_groups, kept_excluded, ignored)


# --- rendering -------------------------------------------------------------------------


def _fts5_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts5_term(term: Term) -> str:
    if isinstance(term, Word):
        return _fts5_string(term.text)
    if isinstance(term, Phrase):
        return _fts5_string(" ".join(term.words))
    return _fts5_string(term.text) + " *"


def _fts5_any(terms: Sequence[Term]) -> str:
    if len(terms) == 1:
        return _fts5_term(terms[0])
    return "(" + " OR ".join(_fts5_term(t) for t in terms) + ")"


def to_fts5(q: SearchQuery, columns: Sequence[str] | None = None) -> str:
    """An FTS5 MATCH expression, optionally restricted to some of the table's columns.

    >>> to_fts5(parse('Khrushchev "secret speech" OR Pospelov -Stalin Khrush*'))
    '("Khrushchev" AND ("secret speech" OR "Pospelov") AND "Khrush" *) NOT ("Stalin")'
    """
    expression = " AND ".join(_fts5_any(group) for group in q.groups)
    if q.excluded:
        excluded = " OR ".join(_fts5_term(t) for t in q.excluded)
        expression = f"({expression}) NOT ({excluded})"
    if columns is not None:
        if not columns:
            raise ValueError("columns, when given, must name at least one column")
        names = " ".join(_fts5_string(c) for c in columns)
        expression = f"{{{names}}} : ({expression})"
    return expression


class _TsqueryBuilder:
    def __init__(self, config: str, prefix: str) -> None:
        if not prefix.isidentifier():
            raise ValueError(f"param_prefix must be an identifier, not {prefix!r}")
        self.prefix = prefix
        self.config = f":{prefix}_config"
        self.params: dict[str, str] = {f"{prefix}_config": config}
        self.count = 0

    def bind(self, value: str) -> str:
        name = f"{self.prefix}_{self.count}"
        self.count += 1
        self.params[name] = value
        return f":{name}"

    def term(self, term: Term) -> str:
        if isinstance(term, Word):
            sql = f"plainto_tsquery({self.config}, {self.bind(term.text)})"
            if term.text.isascii() and term.text.isdigit():
                signed = f"plainto_tsquery({self.config}, {self.bind('-' + term.text)})"
                sql = f"({sql} || {signed})"
            return sql
        if isinstance(term, Phrase):
            sql = f"phraseto_tsquery({self.config}, {self.bind(' '.join(term.words))})"
            if any(not (is_word_char(c) or c.isspace() or c in _APOSTROPHES) for c in term.raw):
                sql = f"({sql} || phraseto_tsquery({self.config}, {self.bind(term.raw)}))"
            return sql
        if not _is_word(term.text):  # the one value that meets to_tsquery's own syntax
            raise ValueError(f"unsafe prefix {term.text!r}")
        config = self.config
        if is_stop_word(term.text):
            config = f":{self.prefix}_simple"
            self.params[f"{self.prefix}_simple"] = "simple"
        return f"to_tsquery({config}, {self.bind(term.text)} || ':*')"

    def any(self, terms: Sequence[Term]) -> str:
        if len(terms) == 1:
            return self.term(terms[0])
        return "(" + " || ".join(self.term(t) for t in terms) + ")"


def to_tsquery_sql(
    q: SearchQuery, config: str = "english", *, param_prefix: str = "tsq"
) -> tuple[str, dict[str, str]]:
    """A SQL expression for SQLAlchemy ``text()`` that evaluates to a PostgreSQL tsquery.

    Every value is a bound parameter named ``{param_prefix}_...``; pick another prefix to
    use two queries in one statement.

    >>> sql, params = to_tsquery_sql(parse("Khrush* -Stalin"))
    >>> sql
    "(to_tsquery(:tsq_config, :tsq_0 || ':*') && !!(plainto_tsquery(:tsq_config, :tsq_1)))"
    >>> params
    {'tsq_config': 'english', 'tsq_0': 'Khrush', 'tsq_1': 'Stalin'}
    """
    builder = _TsqueryBuilder(config, param_prefix)
    sql = " && ".join(builder.any(group) for group in q.groups)
    if q.excluded:
        excluded = " || ".join(builder.term(t) for t in q.excluded)
        sql = f"{sql} && !!({excluded})"
    return f"({sql})", builder.params


def terms_for_highlight(q: SearchQuery) -> list[str]:
    """The words looked for, each once and in order; a prefix gives its beginning, so a
    highlighter should mark the words that start with one of these (ignoring case)."""
    seen: dict[str, str] = {}
    for group in q.groups:
        for term in group:
            words = term.words if isinstance(term, Phrase) else (term.text,)
            for word in words:
                seen.setdefault(word.casefold(), word)
    return list(seen.values())


PG_SEARCH_CONFIG = "archive_english"


def pg_search_config_ddl(name: str = PG_SEARCH_CONFIG, unaccent: str = "unaccent") -> list[str]:
    """Statements creating an English text search configuration that ignores accents.

    Pass its name as ``config`` to :func:`to_tsquery_sql` and use it in ``to_tsvector`` for
    the index. ``unaccent`` names the extension's dictionary, schema-qualified if the
    extension lives outside the search path. Needs the ``unaccent`` extension
    (``CREATE EXTENSION IF NOT EXISTS unaccent``; it is trusted, so a database owner can).
    """
    return [
        f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = pg_catalog.english)",
        f"ALTER TEXT SEARCH CONFIGURATION {name} "
        f"ALTER MAPPING FOR hword, hword_part, word WITH {unaccent}, english_stem",
    ]
