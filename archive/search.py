"""Full-text search over documents, spans and claims, on SQLite FTS5 or PostgreSQL.

The index is built and kept in step by the database itself (migration 0002): one row per
item in `search_items`, with a `title` part (document title, span speaker, claim tags)
ranked ten times above the `body` (document text, span quote and note, claim statement and
note). :func:`search` runs a query parsed by :mod:`archive.search_query`:

- ranking: BM25 on SQLite (``bm25(search_fts, 10.0, 1.0)``), ``ts_rank_cd`` with the same
  10:1 weights and length normalization on PostgreSQL; ties are broken by the index row,
  so that the cursor, which encodes both, pages through equal scores without repeats;
- snippets: FTS5 ``snippet()`` or ``ts_headline`` mark the matches with the private
  characters U+0002/U+0003 (the index never holds them), which are then removed and
  recorded as code-point offsets into the plain snippet;
- filters and facets apply to an item's document: a span belongs to its document, a claim
  to the documents its evidence quotes;
- a document whose title holds the whole query scores TITLE_BONUS more (SQLite reads this
  from `search_titles`, an index of titles alone), so that it ranks first;
- a word that matches nothing is read as its nearest words (`archive.typos`), and then the
  items that match the query as typed score EXACT_BONUS more;
- a long text's snippet comes from a window around the query's first word (LONG_TEXT), and
  on PostgreSQL a phrase is also looked for in a long text's chunks (`search_chunks`).

The hot path is raw SQL, no ORM: a search is two statements driven by the full-text index
(the best matches with their snippets; the facets, whose total is the count), and a third
when claims match (their documents' facets). On SQLite they go straight to the driver.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice, product
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from archive import changes, typos
from archive.db import driver_rows, folded_sql
from archive.documents import check_published, folded_pattern, pad_published
from archive.errors import BadQuery, InvalidInput
from archive.models import DOCUMENT_KINDS
from archive.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from archive.search_query import (
    PG_SEARCH_CONFIG,
    OrGroup,
    Phrase,
    Prefix,
    SearchQuery,
    Term,
    Word,
    fold_word,
    parse,
    to_fts5,
    to_tsquery_sql,
)

TYPES = ("document", "span", "claim")
FACETS = ("type", "kind", "creator", "year")

#: Title (A) against body (D) on PostgreSQL, as ``bm25(search_fts, 10.0, 1.0)`` on SQLite.
PG_WEIGHTS = "'{0.1, 0.1, 0.1, 1.0}'"
#: ts_rank_cd's normalization: divide by the number of distinct words. Of its options, this
#: one orders the bundled corpus most like BM25 does (short, dense items first).
PG_NORMALIZATION = 8
SNIPPET_TOKENS = 24
#: Added to the score of a document whose title alone holds the whole query, so that it
#: ranks above every item that holds it only in its text (BM25 and ts_rank_cd stay far
#: below); and of an item that matches the query as typed when it also matches some words
#: only as corrected (`archive.typos`), so that exact matches come first.
TITLE_BONUS = 1000.0
EXACT_BONUS = 2000.0
#: At most this many phrases replace a phrase with corrected words.
MAX_PHRASE_READINGS = 4
#: A text longer than this (in characters) gets its snippet from a window of WINDOW
#: characters around the first place that holds a word of the query, rather than from the
#: whole text: FTS5's snippet() and ts_headline read every match of the whole text, which
#: took a minute (SQLite) or three seconds (PostgreSQL) for a common word of a 5 MB text.
LONG_TEXT = 50_000
WINDOW = 3_000
WINDOW_BEFORE = 100  # characters of the window before the place found
#: Words of the query looked for in a long text's window, at most.
MAX_NEEDLES = 4
START, STOP = "\x02", "\x03"
ELLIPSIS = "…"

Params = dict[str, Any]  # bound parameters of a statement
Counters = dict[str, Counter[str]]  # facet name → value → matches


@dataclass(frozen=True)
class Filters:
    """What a result must belong to. Document filters (`document`, `kind`, `creator`,
    `published_*`) apply to a span's document and to the documents a claim's evidence
    quotes; `speaker` keeps only spans."""

    type: str | None = None
    document: str | None = None
    kind: str | None = None
    creator: str | None = None
    speaker: str | None = None
    published_from: str | None = None
    published_to: str | None = None

    def check(self) -> None:
        if self.type is not None and self.type not in TYPES:
            raise InvalidInput(f"type: must be one of {', '.join(TYPES)}")
        if self.kind is not None and self.kind not in DOCUMENT_KINDS:
            raise InvalidInput(f"kind: must be one of {', '.join(DOCUMENT_KINDS)}")
        check_published(self.published_from, "published_from")
        check_published(self.published_to, "published_to")


@dataclass
class Hit:
    type: str
    id: str
    document_id: str | None
    title: str
    score: float
    snippet: str
    highlights: list[list[int]]


@dataclass
class Results:
    query: str
    total: int
    items: list[Hit]
    facets: dict[str, list[dict[str, Any]]]
    next_cursor: str | None = None
    ignored: list[str] = field(default_factory=list)
    corrections: list[typos.Correction] = field(default_factory=list)


# --- snippets ------------------------------------------------------------------------------


def plain_snippet(marked: str) -> tuple[str, list[list[int]]]:
    """Remove the highlight markers; return the text and the [start, end) of each highlight.

    Whitespace runs (line breaks between paragraphs) become one space, so the snippet reads
    as a line; offsets count code points of the result.
    """
    out: list[str] = []
    highlights: list[list[int]] = []
    start: int | None = None
    pending_space = False
    for ch in marked.strip():
        if ch == START:
            if pending_space and out:
                out.append(" ")
            pending_space = False
            start = len(out)
        elif ch == STOP:
            if start is not None and len(out) > start:
                if highlights and highlights[-1][1] == start:
                    highlights[-1][1] = len(out)  # adjacent words of a phrase: one range
                else:
                    highlights.append([start, len(out)])
            start = None
        elif ch.isspace():
            pending_space = True
        else:
            if pending_space and out:
                out.append(" ")
            pending_space = False
            out.append(ch)
    return "".join(out), highlights


_TOKEN = re.compile(r"\w+")


def needles(query: SearchQuery) -> list[str]:
    """What marks a long text's window (see LONG_TEXT): a phrase's words as typed, and a
    word's first letters, which its other endings share (`delegat` of "delegates"); lower
    case, in the query's order. The window is around the first one the text holds."""
    found: list[str] = []
    for group in query.groups:
        for term in group:
            if isinstance(term, Phrase):
                needle = " ".join(term.words).lower()
            else:
                needle = _word_needle(term.text.lower())
            if needle not in found:
                found.append(needle)
    return found[:MAX_NEEDLES]


def _word_needle(word: str) -> str:
    return word if len(word) <= 4 else word[: max(4, len(word) - 2)]


def window_snippet(window: str, marks: list[str]) -> str:
    """A snippet of SNIPPET_TOKENS words of a long text's window, with START/STOP around
    the words that begin like a needle's words, from a little before the first of them."""
    words = {_word_needle(w) for needle in marks for w in needle.split()}
    tokens = list(_TOKEN.finditer(window))[1:]  # the window may begin inside a word
    if not tokens:
        return ""

    def marked(token: re.Match[str]) -> bool:
        folded = token.group().lower()
        return any(folded.startswith(w) for w in words)

    first = 0
    for needle in marks:  # around the first needle found, as the window was chosen
        heads = {_word_needle(w) for w in needle.split()}
        found = (k for k, t in enumerate(tokens) if t.group().lower().startswith(tuple(heads)))
        first = next(found, -1)
        if first >= 0:
            break
    first = max(first, 0)
    low = max(0, first - SNIPPET_TOKENS // 4)
    shown = tokens[low : low + SNIPPET_TOKENS]
    out, at = [ELLIPSIS], shown[0].start()
    for token in shown:
        out.append(window[at : token.start()])
        out.append(f"{START}{token.group()}{STOP}" if marked(token) else token.group())
        at = token.end()
    out.append(ELLIPSIS)
    return "".join(out)


def _best_snippet(body: str | None, title: str | None) -> tuple[str, list[list[int]]]:
    """The body's snippet when it shows a match, else the title's when that does."""
    body_plain = plain_snippet(body or "")
    if body_plain[1]:
        return body_plain
    title_plain = plain_snippet(title or "")
    if title_plain[1]:
        return title_plain
    return body_plain if body_plain[0] else title_plain


# --- the two engines -----------------------------------------------------------------------


class _Engine:
    """What differs between SQLite and PostgreSQL: matching, ranking, snippets.

    `source` and `match` make the FROM and WHERE of every matching item, with
    `search_items` as `i`; the other SQL comes from the methods.
    """

    dialect: str
    source: str
    match: str

    def hits_sql(self, conditions: list[str], cursor: bool, params: dict[str, Any]) -> str:
        """The best `:n` matches in order: (rid, score, type, id, document id, title, body
        snippet, title snippet). Snippets are made for the first `:shown` of them only: the
        last row a page asks for (`limit + 1`) is there to tell whether there are more."""
        raise NotImplementedError

    def bonus(self, title: SearchQuery | None, exact: SearchQuery | None, params: Params) -> str:
        """SQL added to an item's score: TITLE_BONUS when it is a document whose title holds
        `title`, EXACT_BONUS when it matches `exact`."""
        raise NotImplementedError

    def missing_sql(self, words: list[str], params: Params) -> str:
        """One row: for each word, whether it matches nothing in the index."""
        raise NotImplementedError

    def prefix_conditions(self, query: SearchQuery, params: Params) -> list[str]:
        """Conditions that keep a `prefix*` to the words it begins as written."""
        return []

    def creator_matches(self, table: str) -> str:
        raise NotImplementedError

    def folded(self, expression: str) -> str:
        """SQL for `archive.db.fold(expression)`, to compare with a `folded_pattern`."""
        return folded_sql(expression, self.dialect)

    def count_facets(self, session: Session, where: str, params: Params, into: Counters) -> None:
        """Count every match `into` counters by type, kind, year and creator; claims count
        only under type here (see `_facets`)."""
        raise NotImplementedError

    def rows(self, session: Session, sql: str, params: dict[str, Any]) -> list[Any]:
        return list(session.execute(text(sql), params).all())


#: The ranked rows of `best`, numbered 1, 2, ... in their order.
_NUMBERED_TOP = (
    "top AS (SELECT rid, score, row_number() OVER (ORDER BY score DESC, rid) AS place FROM best)"
)


class _SQLite(_Engine):
    # CROSS JOIN keeps the full-text index as the outer loop; the planner would otherwise
    # scan search_items and run the MATCH once for every row.
    dialect = "sqlite"
    source = "search_fts CROSS JOIN search_items i ON i.rid = search_fts.rowid"
    match = "search_fts MATCH :m"

    def __init__(self, query: SearchQuery, params: dict[str, Any]) -> None:
        params["m"] = to_fts5(query)
        self.score_bonus = ""

    def bonus(self, title: SearchQuery | None, exact: SearchQuery | None, params: Params) -> str:
        parts = []
        if title is not None:
            params["title_m"] = to_fts5(title)
            parts.append(
                "CASE WHEN search_fts.rowid IN (SELECT rowid FROM search_titles "
                f"WHERE search_titles MATCH :title_m) THEN {TITLE_BONUS} ELSE 0.0 END"
            )
        if exact is not None:
            params["exact_m"] = to_fts5(exact)
            parts.append(
                "CASE WHEN search_fts.rowid IN (SELECT rowid FROM search_fts "
                f"WHERE search_fts MATCH :exact_m) THEN {EXACT_BONUS} ELSE 0.0 END"
            )
        return "".join(f" + {p}" for p in parts)

    def prefix_conditions(self, query: SearchQuery, params: Params) -> list[str]:
        # The porter index reads a prefix stemmed, and "news" stems to "new": `news*` would
        # find "new". A prefix that is a group of its own must also begin a word of the
        # unstemmed index (search_words). (Among alternatives it is left stemmed.)
        conditions = []
        for k, group in enumerate(query.groups):
            if len(group) == 1 and isinstance(group[0], Prefix):
                params[f"prefix_{k}"] = to_fts5(SearchQuery(groups=[group]))
                conditions.append(
                    "search_fts.rowid IN (SELECT rowid FROM search_words "
                    f"WHERE search_words MATCH :prefix_{k})"
                )
        return conditions

    def missing_sql(self, words: list[str], params: Params) -> str:
        checks = []
        for k, word in enumerate(words):
            params[f"w{k}"] = to_fts5(SearchQuery(groups=[[Word(word)]]))
            checks.append(f"NOT EXISTS (SELECT 1 FROM search_fts WHERE search_fts MATCH :w{k})")
        return "SELECT " + ", ".join(checks)

    def hits_sql(self, conditions: list[str], cursor: bool, params: dict[str, Any]) -> str:
        # without a filter, search_items is not needed to rank: the index alone answers
        source = self.source if conditions else "search_fts"
        where = "".join(f" AND {c}" for c in conditions)
        if cursor:
            where += " AND (score < :after_score OR (score = :after_score AND rid > :after_rid))"

        def snippet(column: int) -> str:
            shown = "top.place <= :shown"
            if column == 1:
                shown += f" AND length(search_fts.body) <= {LONG_TEXT}"
            return (
                f"CASE WHEN {shown} THEN snippet(search_fts, {column}, char(2), "
                f"char(3), '{ELLIPSIS}', {SNIPPET_TOKENS}) END"
            )

        first = ", ".join(
            f"nullif(instr(lower(search_fts.body), :needle_{k}), 0)"
            for k in range(len(params.get("needles", ())))
        )
        start = f"max(1, coalesce({first}, 1) - {WINDOW_BEFORE})" if first else "1"
        window = (
            f"CASE WHEN top.place <= :shown AND length(search_fts.body) > {LONG_TEXT} THEN "
            f"substr(search_fts.body, CASE WHEN {start} > length(search_fts.body) THEN 1 "
            f"ELSE {start} END, {WINDOW}) END"
        )

        # The snippets come from a second look-up of each of the top rows (MATCH with
        # rowid = ...): computed in the ranking query, they would be made for every match.
        return (
            "WITH best AS ("
            f"SELECT search_fts.rowid AS rid, -bm25(search_fts, 10.0, 1.0){self.score_bonus} "
            "AS score "
            f"FROM {source} WHERE {self.match}{where} ORDER BY score DESC, rid LIMIT :n), "
            f"{_NUMBERED_TOP} "
            "SELECT top.rid, top.score, i.type, i.item_id, i.document_id, "
            f"coalesce(d.title, c.statement, ''), {snippet(1)}, {snippet(0)}, {window} "
            "FROM top CROSS JOIN search_fts CROSS JOIN search_items i ON i.rid = top.rid "
            "LEFT JOIN documents d ON d.id = i.document_id "
            "LEFT JOIN claims c ON i.type = 'claim' AND c.id = i.item_id "
            f"WHERE {self.match} AND search_fts.rowid = top.rid ORDER BY top.place"
        )

    def count_facets(self, session: Session, where: str, params: Params, into: Counters) -> None:
        # Matches are grouped by search_items.facets, the id of their (type, kind, year,
        # creators): SQLite groups one small integer far faster than the four values. The
        # few hundred groups are summed by each facet here, each creator list parsed once
        # per worker: summed in SQL, with json_each over every group's creators, they took
        # about 4 ms more per common-word search.
        groups = self.rows(
            session,
            "SELECT s.type, s.kind, s.year, s.creators, g.n FROM ("
            f"SELECT i.facets AS id, count(*) AS n FROM {self.source} "
            f"WHERE {self.match}{where} GROUP BY i.facets) AS g "
            "JOIN search_facets s ON s.id = g.id",
            params,
        )
        types, kinds, years, creators = (into[f] for f in ("type", "kind", "year", "creator"))
        for type_, kind, year, group_creators, n in groups:
            types[type_] += n
            if type_ != "claim":
                if kind:
                    kinds[kind] += n
                if year:
                    years[year] += n
                for name in _stored_names(group_creators):
                    creators[name] += n

    def creator_matches(self, table: str) -> str:
        name = self.folded("json_extract(cr.value, '$.name')")
        return (
            f"EXISTS (SELECT 1 FROM json_each({table}.creators) AS cr "
            f"WHERE {name} LIKE :creator ESCAPE '\\')"
        )

    def rows(self, session: Session, sql: str, params: dict[str, Any]) -> list[Any]:
        return driver_rows(session, sql, params)


class _PostgreSQL(_Engine):
    dialect = "postgresql"
    source = "search_items i"

    def __init__(self, query: SearchQuery, params: dict[str, Any]) -> None:
        tsquery, binds = to_tsquery_sql(query, config=PG_SEARCH_CONFIG)
        params.update(binds)
        self.tsquery = tsquery
        self.match = f"i.tsv @@ {tsquery}"
        if any(isinstance(term, Phrase) for group in query.groups for term in group):
            # a phrase late in a long text is only in its chunks (migration 0004)
            self.match = (
                f"i.rid IN (SELECT rid FROM search_items WHERE tsv @@ {tsquery} "
                f"UNION SELECT rid FROM search_chunks WHERE tsv @@ {tsquery})"
            )
        self.score_bonus = ""

    def bonus(self, title: SearchQuery | None, exact: SearchQuery | None, params: Params) -> str:
        parts = []
        if title is not None:
            tsquery, binds = to_tsquery_sql(title, config=PG_SEARCH_CONFIG, param_prefix="tt")
            params.update(binds)
            # every lexeme of the query restricted to weight A, the title's: 'x' -> 'x':A
            params.update({"title_re1": "':\\*", "title_to1": "':*A", "title_re2": "'(?=[ )]|$)"})
            params["title_to2"] = "':A"
            in_title = (
                f"regexp_replace(regexp_replace(({tsquery})::text, :title_re1, :title_to1, "
                "'g'), :title_re2, :title_to2, 'g')::tsquery"
            )
            parts.append(
                f"CASE WHEN i.type = 'document' AND i.tsv @@ {in_title} THEN {TITLE_BONUS} "
                "ELSE 0.0 END"
            )
        if exact is not None:
            tsquery, binds = to_tsquery_sql(exact, config=PG_SEARCH_CONFIG, param_prefix="te")
            params.update(binds)
            parts.append(f"CASE WHEN i.tsv @@ {tsquery} THEN {EXACT_BONUS} ELSE 0.0 END")
        return "".join(f" + {p}" for p in parts)

    def missing_sql(self, words: list[str], params: Params) -> str:
        params["w_config"] = PG_SEARCH_CONFIG
        checks = []
        for k, word in enumerate(words):
            params[f"w{k}"] = word
            checks.append(
                "NOT EXISTS (SELECT 1 FROM search_items "
                f"WHERE tsv @@ plainto_tsquery(:w_config, :w{k}))"
            )
        return "SELECT " + ", ".join(checks)

    def hits_sql(self, conditions: list[str], cursor: bool, params: dict[str, Any]) -> str:
        where = "".join(f" AND {c}" for c in conditions)
        after = (
            " WHERE score < :after_score OR (score = :after_score AND rid > :after_rid)"
            if cursor
            else ""
        )
        options = (
            f"StartSel={START}, StopSel={STOP}, MaxWords={SNIPPET_TOKENS}, "
            f"MinWords={SNIPPET_TOKENS // 2}, ShortWord=3, FragmentDelimiter={ELLIPSIS}, "
        )
        params["headline"] = options + "MaxFragments=1"
        # A long text is read once, in `ft`, to find its window in `bw`: where the first
        # needle found occurs, in lower case or capitalized (lower() of 5 MB takes 100 ms).
        first = ", ".join(
            f"nullif(strpos(ft.full, {case}(:needle_{k})), 0)"
            for k in range(len(params.get("needles", ())))
            for case in ("", "initcap")
        )
        start = f"greatest(1, coalesce({first}, 1) - {WINDOW_BEFORE})" if first else "1"
        full_text = (
            "CROSS JOIN LATERAL (SELECT t.text || '' AS full, "
            f"octet_length(t.text) > {LONG_TEXT} AS long OFFSET 0) AS ft "
            "CROSS JOIN LATERAL (SELECT CASE WHEN ft.long THEN "
            f"substr(ft.full, {start}, {WINDOW}) ELSE ft.full END AS shown OFFSET 0) AS bw "
        )
        body = (
            "CASE i.type WHEN 'document' THEN bw.shown "
            "WHEN 'span' THEN s.exact || coalesce(E'\\n' || s.note, '') "
            "ELSE c.statement || coalesce(E'\\n' || c.note, '') END"
        )
        title = (
            "CASE i.type WHEN 'document' THEN d.title WHEN 'span' THEN s.speaker "
            "ELSE (SELECT string_agg(value, ', ') FROM jsonb_array_elements_text("
            "CASE WHEN jsonb_typeof(c.tags) = 'array' THEN c.tags ELSE '[]' END)) END"
        )

        def headline(expr: str, tsquery: str = self.tsquery) -> str:
            return (
                f"CASE WHEN top.place <= :shown THEN ts_headline('{PG_SEARCH_CONFIG}', "
                f"translate(coalesce({expr}, ''), E'\\x02\\x03', '  '), {tsquery}, "
                ":headline) END"
            )

        # When no fragment of a long text holds every word (they are far apart), ts_headline
        # gives the text's first words, unmarked; then the best fragment with any of them.
        any_word = f"replace(({self.tsquery})::text, '&', '|')::tsquery"
        body_snippet = (
            "CASE WHEN strpos(hb.h, chr(2)) > 0 THEN hb.h "
            f"ELSE coalesce({headline(body, any_word)}, hb.h) END"
        )

        # float8: a float4 read back as text does not compare equal to itself in the cursor
        return (
            "WITH best AS (SELECT rid, score FROM ("
            f"SELECT i.rid, ts_rank_cd({PG_WEIGHTS}, i.tsv, {self.tsquery}, "
            f"{PG_NORMALIZATION})::float8{self.score_bonus} AS score "
            f"FROM {self.source} WHERE {self.match}{where}"
            f") AS hits{after} ORDER BY score DESC, rid LIMIT :n), {_NUMBERED_TOP} "
            "SELECT top.rid, top.score, i.type, i.item_id, i.document_id, "
            f"coalesce(d.title, c.statement, ''), {body_snippet}, {headline(title)}, NULL "
            "FROM top JOIN search_items i ON i.rid = top.rid "
            "LEFT JOIN documents d ON d.id = i.document_id "
            "LEFT JOIN document_texts t ON i.type = 'document' "
            "AND t.document_id = d.id AND t.revision = d.revision "
            "LEFT JOIN spans s ON i.type = 'span' AND s.id = i.item_id "
            "LEFT JOIN claims c ON i.type = 'claim' AND c.id = i.item_id "
            f"{full_text}CROSS JOIN LATERAL (SELECT {headline(body)} AS h) AS hb "
            "ORDER BY top.place"
        )

    def count_facets(self, session: Session, where: str, params: Params, into: Counters) -> None:
        for facet, value, count in self.rows(session, self._facets_sql(where), params):
            if value is not None and value != "":
                into[facet][str(value)] += int(count)

    def _facets_sql(self, where: str) -> str:
        items = f"FROM {self.source} WHERE {self.match}{where}"
        creators = "CASE WHEN jsonb_typeof(i.creators) = 'array' THEN i.creators ELSE '[]' END"
        return (
            "SELECT CASE WHEN grouping(i.type) = 0 THEN 'type' "
            "WHEN grouping(i.kind) = 0 THEN 'kind' ELSE 'year' END, "
            "coalesce(i.type, i.kind, substr(i.published, 1, 4)), count(*) "
            f"{items} GROUP BY GROUPING SETS "
            "((i.type), (i.kind), (substr(i.published, 1, 4))) "
            "UNION ALL SELECT 'creator', cr.name, count(*) "
            "FROM search_items i CROSS JOIN LATERAL (SELECT DISTINCT c ->> 'name' AS name "
            f"FROM jsonb_array_elements({creators}) AS c) AS cr "
            f"WHERE {self.match}{where} AND i.type <> 'claim' GROUP BY cr.name"
        )

    def creator_matches(self, table: str) -> str:
        name = self.folded("cr.value ->> 'name'")
        return (
            f"CASE WHEN jsonb_typeof({table}.creators) = 'array' THEN EXISTS ("
            f"SELECT 1 FROM jsonb_array_elements({table}.creators) AS cr "
            f"WHERE {name} LIKE :creator ESCAPE '\\') ELSE false END"
        )


def _engine_for(session: Session, query: SearchQuery, params: dict[str, Any]) -> _Engine:
    if session.get_bind().dialect.name == "postgresql":
        return _PostgreSQL(query, params)
    return _SQLite(query, params)


def _prefer_the_index(session: Session) -> None:
    """On PostgreSQL, have this transaction's searches use the GIN index. The planner
    counts a table of large (TOASTed) tsvectors as small and reads it whole (a scan of the
    table or of another index), decompressing every text's vector: 200 ms for a word in 6
    of 10,000 documents, against 4 ms from the index. Bitmap scans are left."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_indexscan = off"))


# --- filters -------------------------------------------------------------------------------


def _document_conditions(
    filters: Filters, engine: _Engine, table: str, params: dict[str, Any]
) -> list[str]:
    """Conditions on a row with kind, creators and published (`search_items` or documents)."""
    conditions = []
    if filters.kind is not None:
        params["kind"] = filters.kind
        conditions.append(f"{table}.kind = :kind")
    if filters.creator:
        params["creator"] = folded_pattern(filters.creator)
        conditions.append(engine.creator_matches(table))
    if filters.published_from:
        # an item matches every range its (partial) date overlaps, as in /v1/documents
        params["published_from"] = pad_published(filters.published_from, high=False)
        conditions.append(
            f"{table}.published || substr('-12-31', length({table}.published) - 3) "
            ">= :published_from"
        )
    if filters.published_to:
        params["published_to"] = pad_published(filters.published_to, high=True)
        conditions.append(
            f"{table}.published || substr('-01-01', length({table}.published) - 3) <= :published_to"
        )
    return conditions


_CLAIM_DOCUMENTS = (
    "SELECT 1 FROM evidence e JOIN spans s ON s.id = e.span_id "
    "JOIN documents d ON d.id = s.document_id WHERE e.claim_id = i.item_id"
)


def _conditions(
    filters: Filters, engine: _Engine, params: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """SQL conditions on `i` (search_items) for the filters, with their parameters; and
    those a claim's evidence document `d` must meet."""
    conditions = []
    if filters.type is not None:
        params["type"] = filters.type
        conditions.append("i.type = :type")
    if filters.speaker:
        params["speaker"] = folded_pattern(filters.speaker)
        speaker = engine.folded("i.speaker")
        conditions.append(f"i.type = 'span' AND {speaker} LIKE :speaker ESCAPE '\\'")
    own = _document_conditions(filters, engine, "i", params)
    of_claim = _document_conditions(filters, engine, "d", params)
    if filters.document is not None:
        params["document"] = filters.document
        own.append("i.document_id = :document")
        of_claim.append("d.id = :document")
    if own:
        claims = " AND ".join([_CLAIM_DOCUMENTS, *of_claim])
        conditions.append(
            f"((i.type <> 'claim' AND {' AND '.join(own)}) "
            f"OR (i.type = 'claim' AND EXISTS ({claims})))"
        )
    return conditions, of_claim


# --- facets --------------------------------------------------------------------------------


def _names(creators: Any) -> list[str]:
    if isinstance(creators, str):
        try:
            creators = json.loads(creators)
        except ValueError:
            return []
    if not isinstance(creators, list):
        return []
    names = {str(c.get("name")) for c in creators if isinstance(c, dict) and c.get("name")}
    return sorted(names)


@lru_cache(maxsize=4096)
def _stored_names(creators: str) -> tuple[str, ...]:
    """The creator names in creators stored as JSON text. The same few creator lists recur
    in every search, so each is parsed once per worker."""
    return tuple(_names(creators))


def _facet_list(counter: Counter[str]) -> list[dict[str, Any]]:
    return [
        {"value": value, "count": count}
        for value, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _facets(
    session: Session,
    engine: _Engine,
    conditions: list[str],
    claim_documents: list[str],
    params: dict[str, Any],
) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    """How many items match, and how they divide by type, kind, creator and year.

    Documents and spans count under their document's values; a claim counts once under
    each value of the documents its evidence quotes (those that pass the filters).
    """
    where = "".join(f" AND {c}" for c in conditions)
    counters: Counters = {name: Counter() for name in FACETS}
    engine.count_facets(session, where, params, counters)
    total = sum(counters["type"].values())
    if counters["type"]["claim"]:
        claims: dict[str, set[tuple[str, str]]] = {}
        for claim_id, kind, creators, year in engine.rows(
            session,
            "SELECT DISTINCT i.item_id, d.kind, d.creators, substr(d.published, 1, 4) "
            f"FROM {engine.source} JOIN evidence e ON e.claim_id = i.item_id "
            "JOIN spans s ON s.id = e.span_id JOIN documents d ON d.id = s.document_id "
            f"WHERE {engine.match} AND i.type = 'claim'{where}"
            + "".join(f" AND {c}" for c in claim_documents),
            params,
        ):
            claims.setdefault(claim_id, set()).update(
                [("kind", kind), ("year", year)]
                + [("creator", name) for name in _creator_names(creators)]
            )
        for values in claims.values():
            for facet, value in values:
                if value:
                    counters[facet][value] += 1
    return total, {name: _facet_list(counter) for name, counter in counters.items()}


def _creator_names(creators: Any) -> tuple[str, ...]:
    """`_stored_names` of creators as SQLite gives them (JSON text) or PostgreSQL (jsonb,
    parsed)."""
    if not isinstance(creators, str):
        creators = json.dumps(creators, sort_keys=True)
    return _stored_names(creators)


# --- search --------------------------------------------------------------------------------


def _ranking(query: SearchQuery, filters: Filters) -> str:
    """What orders a search's results, as a short digest: the parsed query and the filters.
    A cursor carries it, since its (score, rid) position means nothing in another ranking;
    texts that parse alike (`Stalin`, `stalin`) share it."""
    ranked_by = repr((query.groups, query.excluded)).casefold() + repr(filters)
    return hashlib.blake2b(ranked_by.encode(), digest_size=6).hexdigest()


@dataclass(frozen=True)
class _Position:
    """Where a search cursor points: after (score, rid), in the ranking `ranking` (see
    `_ranking`) of the archive as it stood at change `at`. Cursors made by earlier versions
    carry neither of the last two."""

    score: float
    rid: int
    ranking: str | None
    at: int | None


def _cursor(cursor: str | None) -> _Position | None:
    position = decode_cursor(cursor, "score", "rid")
    if position is None:
        return None
    score, rid = position["score"], position["rid"]
    ranking, at = position.get("for"), position.get("at")
    if (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not math.isfinite(score)
        or isinstance(rid, bool)
        or not isinstance(rid, int)
        or not 0 <= rid < 2**63
        or not isinstance(ranking, str | None)
        or isinstance(at, bool)
        or not isinstance(at, int | None)
    ):
        raise BadQuery("cursor: not a cursor for this search; use next_cursor as given")
    return _Position(float(score), rid, ranking, at)


def _check_position(after: _Position, ranking: str, version: int) -> None:
    """BadQuery when the cursor cannot continue this search: it was made for another one,
    or the archive changed since. A write moves scores (BM25 weighs each word by how many
    items hold it), so a page after it could repeat or skip results."""
    if after.ranking not in (None, ranking):
        raise BadQuery(
            "cursor: made for another search or other filters; repeat the search that gave "
            "it, or start again without a cursor"
        )
    if after.at not in (None, version):
        raise BadQuery(
            "cursor: the archive has changed since this search's first page, so its ranking "
            "may have too; start the search again without a cursor"
        )


def _display_score(score: float) -> float:
    """Six significant digits of the engine's score, after any bonus (see TITLE_BONUS),
    which is kept whole: ts_rank_cd's small scores stay apart above 1,000."""
    bonus = math.floor(score / TITLE_BONUS) * TITLE_BONUS if score >= TITLE_BONUS else 0.0
    return bonus + float(f"{score - bonus:.6g}")


def search(
    session: Session,
    q: str,
    filters: Filters | None = None,
    *,
    limit: int = 20,
    cursor: str | None = None,
    version: int | None = None,
) -> Results:
    """Items matching the search text `q`, best first. BadQuery when `q` cannot be parsed,
    or when `cursor` is not a cursor of this search as the archive now stands. `version`
    is `changes.latest(session)` when the caller has read it already.

    A word that matches nothing in the index is read as its nearest words (see
    `archive.typos`), and `corrections` says so. Its words are looked up only when the
    search finds nothing, or when it has alternatives (`OR`), one of which might be
    misspelled: a search that finds something without alternatives has none."""
    filters = filters or Filters()
    filters.check()
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: must be between 1 and {MAX_LIMIT}")
    after = _cursor(cursor)
    query = parse(q)
    ranking = _ranking(query, filters)
    if version is None:
        version = changes.latest(session)
    if after is not None:
        _check_position(after, ranking, version)
    _prefer_the_index(session)
    found = _run(session, query, None, filters, limit, after)
    corrections: list[typos.Correction] = []
    if found.total == 0 or any(len(group) > 1 for group in query.groups):
        corrected, corrections, exact = _corrected(session, query, version)
        if corrections:
            found = _run(session, corrected, exact, filters, limit, after)
    next_cursor = None
    if found.more:
        rid, score = found.rows[-1][0], found.rows[-1][1]
        next_cursor = encode_cursor(
            {"score": float(score), "rid": int(rid), "for": ranking, "at": version}
        )
    return Results(
        query=q,
        total=found.total,
        items=[_hit(row) for row in found.rows],
        facets=found.facets,
        next_cursor=next_cursor,
        ignored=list(query.ignored),
        corrections=corrections,
    )


@dataclass
class _Found:
    rows: list[Any]
    more: bool
    total: int
    facets: dict[str, list[dict[str, Any]]]


def _run(
    session: Session,
    query: SearchQuery,
    exact: SearchQuery | None,
    filters: Filters,
    limit: int,
    after: _Position | None,
) -> _Found:
    """One search: a page of rows from `after`, the total and the facets. Documents whose
    title holds the whole query come first, then (when `exact` is given) items that match
    `exact`, the query without its corrected words."""
    params: dict[str, Any] = {}
    engine = _engine_for(session, query, params)
    conditions, claim_documents = _conditions(filters, engine, params)
    conditions += engine.prefix_conditions(query, params)
    hit_params = dict(params, n=limit + 1, shown=limit)
    marks = needles(query)
    hit_params["needles"] = marks
    for k, needle in enumerate(marks):
        hit_params[f"needle_{k}"] = needle
    engine.score_bonus = engine.bonus(SearchQuery(groups=query.groups), exact, hit_params)
    if after is not None:
        hit_params["after_score"], hit_params["after_rid"] = after.score, after.rid
    sql = engine.hits_sql(conditions, after is not None, hit_params)
    del hit_params["needles"]
    rows = engine.rows(session, sql, hit_params)
    rows = [_windowed(row, marks) for row in rows]
    total, facets = _facets(session, engine, conditions, claim_documents, params)
    return _Found(rows[:limit], len(rows) > limit, total, facets)


def _corrected(
    session: Session, query: SearchQuery, version: int
) -> tuple[SearchQuery, list[typos.Correction], SearchQuery | None]:
    """The query with each word that matches nothing in the index read as its nearest
    words; the corrections made; and the query without the corrected words, when some
    alternatives (OR) are left in every group (else None: nothing can match it)."""
    typed: dict[str, str] = {}  # folded word -> as first typed
    for group in query.groups:
        for term in group:
            words = (
                term.words
                if isinstance(term, Phrase)
                else ((term.text,) if isinstance(term, Word) else ())
            )
            for word in words:
                folded = fold_word(word)
                if typos.correctable(folded):
                    typed.setdefault(folded, word)
    if not typed:
        return query, [], None
    missing = _missing(session, list(typed))
    if not missing:
        return query, [], None
    vocabulary = typos.vocabulary(session, version)
    nearest = {word: vocabulary.nearest(word) for word in missing}
    candidates = sorted({w for words in nearest.values() for w in words})
    absent = _missing(session, candidates) if candidates else set()
    read_as = {
        word: tuple([w for w in words if w not in absent][: typos.MAX_READ_AS])
        for word, words in nearest.items()
    }
    read_as = {word: words for word, words in read_as.items() if words}
    if not read_as:
        return query, [], None
    corrections = [
        typos.Correction(typed[word], read_as[word]) for word in typed if word in read_as
    ]
    groups: list[OrGroup] = []
    exact_groups: list[OrGroup] = []
    for group in query.groups:
        terms: list[Term] = []
        kept: list[Term] = []
        for term in group:
            readings = _readings(term, read_as)
            if readings is None:
                kept.append(term)
                readings = [term]
            terms.extend(t for t in readings if t not in terms)
        groups.append(terms)
        exact_groups.append(kept)
    exact = None
    if all(exact_groups) and exact_groups != groups:
        exact = SearchQuery(groups=exact_groups)
    return SearchQuery(groups, query.excluded, query.ignored), corrections, exact


def _readings(term: Term, read_as: dict[str, tuple[str, ...]]) -> list[Term] | None:
    """The terms `term` is read as, or None when none of its words is corrected."""
    if isinstance(term, Prefix):
        return None
    if isinstance(term, Word):
        words = read_as.get(fold_word(term.text))
        return None if words is None else [Word(w) for w in words]
    choices = [read_as.get(fold_word(w), (w,)) for w in term.words]
    if all(len(c) == 1 and c[0] == w for c, w in zip(choices, term.words, strict=True)):
        return None
    return [Phrase(words) for words in islice(product(*choices), MAX_PHRASE_READINGS)]


def _missing(session: Session, words: list[str]) -> set[str]:
    """Which of these words match nothing in the whole index (as the search matches them,
    stemmed)."""
    params: Params = {}
    engine = _engine_for(session, SearchQuery(groups=[[Word(words[0])]]), {})
    row = engine.rows(session, engine.missing_sql(words, params), params)[0]
    return {word for word, absent in zip(words, row, strict=True) if absent}


def _windowed(row: Sequence[Any], marks: list[str]) -> Sequence[Any]:
    """The row with a long text's window (its last column) made into its snippet."""
    if row[-1] is None:
        return row[:-1]
    return (*row[:6], window_snippet(row[-1], marks), row[7])


def _hit(row: Sequence[Any]) -> Hit:
    _, score, type_, item_id, document_id, title, body_snippet, title_snippet = row
    snippet, highlights = _best_snippet(body_snippet, title_snippet)
    return Hit(
        type=type_,
        id=item_id,
        document_id=document_id,
        title=title,
        score=_display_score(float(score)),
        snippet=snippet,
        highlights=highlights,
    )
