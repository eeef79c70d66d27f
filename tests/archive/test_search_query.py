"""The search language: syntax, errors, and the same answers from SQLite FTS5 and PostgreSQL.

The PostgreSQL tests use ARCHIVE_TEST_PG_URL (default: the local test server) and are
skipped only when that server cannot be reached. Everything they create lives in one
transaction that is rolled back.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import OperationalError

from archive.errors import BadQuery
from archive.search_query import (
    MAX_LENGTH,
    MAX_TERMS,
    Phrase,
    Prefix,
    SearchQuery,
    Word,
    parse,
    pg_search_config_ddl,
    terms_for_highlight,
    to_fts5,
    to_tsquery_sql,
)

PG_URL = os.environ.get("ARCHIVE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Sentences from archive/corpus/seeds/, numbered as the rows of both test tables.
ROWS = {
    1: "The text was prepared collectively and Khrushchev gave the speech to 1,430 congress "
    "delegates on 25 February.",
    2: "On February 24, 1956 before assembled delegates to the Communist Party’s Twentieth "
    "Congress as well as observers from foreign Communist parties, Nikita Khrushchev "
    "delivered a speech denouncing Stalin for his transgressions.",
    3: "Present at this Congress as a delegate is the former Minister of State Security "
    "Comrade Ignatiev.",
    4: "The prime minister, Imre Nagy, sought to regain control through concessions that "
    "included abolishing the one-party system and freeing from prison the virulently "
    "anticommunist Cardinal Jozsef Mindszenty, but as the insurgency expanded, the Soviet "
    "Presidium decided to send in troops.",
    5: "In the eventual Sino-Soviet split of 1962, relations between China and Soviet Union "
    "broke down to such an extent that open conflict almost broke out27.",
    6: "Khrushchev's speech did not remain secret very long.",
    7: "The decision to expose and denounce Stalin's crimes was made by the collective "
    "leadership after it had heard the findings of a special commission (headed by the "
    "former Pravda editor Petr Pospelov) on the repression of Party members between 1935 "
    "and 1940.",
    8: "Khrushchev also referred to the 1949-52 “Leningrad Affair” – a post-war Stalinist "
    "purge of the Soviet Union’s political elite14.",
}

# query -> the rows a reader would expect; both engines must return exactly these.
EXPECTED = {
    "Ignatiev": {3},  # a rare word
    '"congress delegates"': {1},  # a phrase needs the words side by side
    "congress delegates": {1, 2, 3},  # words need not be adjacent; "delegate" is stemmed
    "delegates": {1, 2, 3},
    "the congress": {1, 2, 3},  # "the" is not indexed on PostgreSQL, so ignored on both
    "Khrushchev -Stalin": {1, 6, 8},
    'Soviet -"Sino-Soviet"': {4, 8},
    "Nagy OR Pospelov": {4, 7},
    "Congress OR Nagy -delegate": {4},
    "Khrush*": {1, 2, 6, 8},
    "Mindszénty": {4},  # the text has "Mindszenty"
    "MINDSZÉ*": {4},
    "Sino-Soviet": {5},
    "1,430": {1},
    "Stalin's": {2, 7},
    "“Leningrad Affair”": {8},
    "1949-52": {8},  # PostgreSQL indexes "1949-52" as 1949 and -52
    "52": {8},
}


# --- the language ------------------------------------------------------------------------


def test_words_must_all_match() -> None:
    q = parse("secret speech")
    assert q.groups == [[Word("secret")], [Word("speech")]]
    assert to_fts5(q) == '"secret" AND "speech"'


def test_quotes_make_a_phrase() -> None:
    q = parse('"secret speech" Khrushchev')
    assert q.groups == [[Phrase(("secret", "speech"))], [Word("Khrushchev")]]
    assert to_fts5(q) == '"secret speech" AND "Khrushchev"'


def test_smart_quotes_from_phones_and_word_processors_also_make_a_phrase() -> None:
    assert parse("“Imre Nagy”").groups == [[Phrase(("Imre", "Nagy"))]]


def test_inside_quotes_operators_are_ordinary_text() -> None:
    q = parse('"Pravda (Moscow) OR -Izvestia"')
    typed = "Pravda (Moscow) OR -Izvestia"
    assert q.groups == [[Phrase(("Pravda", "Moscow", "OR", "Izvestia"), typed)]]
    assert to_fts5(q) == '"Pravda Moscow OR Izvestia"'


def test_uppercase_or_joins_alternatives() -> None:
    q = parse("Khrushchev Nagy OR Pospelov OR Mikoyan")
    assert q.groups == [
        [Word("Khrushchev")],
        [Word("Nagy"), Word("Pospelov"), Word("Mikoyan")],
    ]
    assert to_fts5(q) == '"Khrushchev" AND ("Nagy" OR "Pospelov" OR "Mikoyan")'


def test_lowercase_or_is_a_word_not_an_operator() -> None:
    q = parse("Nagy or Pospelov")
    assert q.groups == [[Word("Nagy")], [Word("Pospelov")]]
    assert q.ignored == ["or"]  # a stop word, so left out, which the caller can report


def test_minus_excludes_a_word_or_a_phrase() -> None:
    q = parse('Khrushchev -Stalin -"Leningrad Affair"')
    assert q.groups == [[Word("Khrushchev")]]
    assert q.excluded == [Word("Stalin"), Phrase(("Leningrad", "Affair"))]
    assert to_fts5(q) == '("Khrushchev") NOT ("Stalin" OR "Leningrad Affair")'


def test_star_makes_a_prefix() -> None:
    q = parse("Khrush* speech")
    assert q.groups == [[Prefix("Khrush")], [Word("speech")]]
    assert to_fts5(q) == '"Khrush" * AND "speech"'


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("Khrushchev's", ("Khrushchev",)),  # "s" is a stop word, trimmed as PostgreSQL does
        ("Khrushchev’s", ("Khrushchev",)),
        ("1,430", ("1", "430")),
        ("Sino-Soviet", ("Sino", "Soviet")),
        ("07/27/2016", ("07", "27", "2016")),
    ],
)
def test_punctuation_inside_a_word_splits_it_into_a_phrase(typed: str, words: tuple) -> None:
    q = parse(typed)
    assert q.groups == [[Phrase(words, typed)]]


def test_punctuation_around_a_word_is_dropped() -> None:
    assert parse("Stalin, Beria…").groups == [[Word("Stalin")], [Word("Beria")]]


def test_stop_words_are_left_out_and_reported() -> None:
    q = parse('the speech of "the Twentieth Congress" -a')
    assert q.groups == [
        [Word("speech")],
        [Phrase(("Twentieth", "Congress"), "the Twentieth Congress")],
    ]
    assert q.excluded == []
    assert q.ignored == ["the", "of", "a"]


def test_a_prefix_that_is_a_stop_word_is_kept() -> None:
    sql, params = to_tsquery_sql(parse("over* Stalin"))
    assert "to_tsquery(:tsq_simple, :tsq_0 || ':*')" in sql  # "over" would vanish in english
    assert params["tsq_simple"] == "simple"


def test_decomposed_accents_are_composed() -> None:
    assert parse("Mindsze\u0301nty").groups == [[Word("Mindszénty")]]


def test_fts5_columns() -> None:
    q = parse("Khrushchev -Stalin")
    assert to_fts5(q, ["title", "body"]) == '{"title" "body"} : (("Khrushchev") NOT ("Stalin"))'


def test_tsquery_sql_binds_every_value() -> None:
    q = parse("""Khrushchev "secret speech" OR Pospelov Khrush* -Stalin 1953 '; DROP""")
    sql, params = to_tsquery_sql(q, "archive_english")
    assert sql == (
        "(plainto_tsquery(:tsq_config, :tsq_0)"
        " && (phraseto_tsquery(:tsq_config, :tsq_1) || plainto_tsquery(:tsq_config, :tsq_2))"
        " && to_tsquery(:tsq_config, :tsq_3 || ':*')"
        " && (plainto_tsquery(:tsq_config, :tsq_4) || plainto_tsquery(:tsq_config, :tsq_5))"
        " && plainto_tsquery(:tsq_config, :tsq_6)"
        " && !!(plainto_tsquery(:tsq_config, :tsq_7)))"
    )
    assert params == {
        "tsq_config": "archive_english",
        "tsq_0": "Khrushchev",
        "tsq_1": "secret speech",
        "tsq_2": "Pospelov",
        "tsq_3": "Khrush",
        "tsq_4": "1953",
        "tsq_5": "-1953",  # how PostgreSQL indexes the end of "1945-1953"
        "tsq_6": "DROP",
        "tsq_7": "Stalin",
    }


def test_tsquery_phrase_is_also_tried_as_typed() -> None:
    sql, params = to_tsquery_sql(parse("07/27/2016"), param_prefix="q")
    assert sql == "((phraseto_tsquery(:q_config, :q_0) || phraseto_tsquery(:q_config, :q_1)))"
    assert params == {"q_config": "english", "q_0": "07 27 2016", "q_1": "07/27/2016"}


def test_terms_for_highlight_are_the_positive_words_once_each() -> None:
    q = parse('Khrush* "secret speech" OR Speech -Stalin the')
    assert terms_for_highlight(q) == ["Khrush", "secret", "speech"]


@pytest.mark.parametrize("bad", ["Khrush:*|x", "a b", "", "x'"])
def test_a_term_built_by_hand_is_checked_too(bad: str) -> None:
    with pytest.raises(ValueError):
        Prefix(bad)


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "empty"),
        ("   \t", "empty"),
        ('"', "quote at character 1 is never closed"),
        ('Khrushchev "secret speech', "quote at character 12 is never closed"),
        ('"secret" speech"', "quote at character 16 is never closed"),
        ('""', "quotes at character 1 contain no words"),
        ("NEAR(secret speech)", "NEAR (character 1) is not part of the search syntax"),
        ("secret NEAR speech", "NEAR (character 8) is not part of the search syntax"),
        ("(secret OR open) speech", "Parentheses (character 1) are not part"),
        ("Nagy (1956)", "Parentheses (character 6)"),
        ("NOT Stalin", "NOT (character 1) is not part of the search syntax"),
        ("-", "minus sign at character 1 has nothing after it"),
        ("Khrushchev - Stalin", "minus sign at character 12 has nothing after it"),
        ("Khrushchev -…", "no letters or digits to exclude"),
        ("OR Stalin", "OR at character 1 has nothing before it"),
        ("Stalin OR", "OR at character 8 has nothing after it"),
        ("Stalin OR OR Beria", "OR at character 11 follows another OR"),
        ("Stalin OR -Beria", "joins the excluded term '-Beria'"),
        ("-Stalin", "only excludes terms"),
        ('-Stalin -"secret speech"', "everything except"),
        ("*", "* at character 1 has no word before it"),
        ("Khrush *", "* at character 8 has no word before it"),
        ("Khr*sh", "* at character 4 in 'Khr*sh' can only come at the end of a word"),
        ("Khrush**", "can only come at the end of a word"),
        ("Sino-Sov*", "a prefix* must be a single word"),
        ('"secret spee*"', "phrase at character 1 uses *"),
        ('"secret speech"*', "phrase at character 1 uses *"),
        ("Stalin\x00", "invalid character U+0000 at character 7"),
        ("Stalin\x1b[1m", "U+001B"),
        ("Stalin\x85", "U+0085"),
        ("x" * (MAX_LENGTH + 1), f"{MAX_LENGTH + 1} characters long; the limit is {MAX_LENGTH}"),
        (" ".join(["Stalin"] * (MAX_TERMS + 1)), f"{MAX_TERMS + 1} terms; the limit is 32"),
        ("…", "no letters or digits to look for"),
    ],
)
def test_unparseable_text_is_a_bad_query_that_says_what_and_where(typed: str, message: str) -> None:
    with pytest.raises(BadQuery) as raised:
        parse(typed)
    assert message in raised.value.detail


def test_a_query_of_only_very_common_words_looks_for_them() -> None:
    q = parse('"to be or not to be"')
    assert q.groups == [[Phrase(("to", "be", "or", "not", "to", "be"))]]
    assert q.ignored == []
    q = parse("to be OR not -Stalin")
    assert q.groups == [[Word("to")], [Word("be"), Word("not")]]
    assert q.excluded == [Word("Stalin")] and q.ignored == []


def test_fullwidth_letters_and_cyrillic_yo_fold() -> None:
    assert parse("Ｓｔａｌｉｎ").groups == [[Word("Stalin")]]
    assert parse("Хрущёв").groups == [[Word("Хрущев")]]


def test_the_limits_themselves_are_allowed() -> None:
    assert len(parse("x" * MAX_LENGTH).groups) == 1
    assert len(parse(" ".join(["Stalin"] * MAX_TERMS)).groups) == MAX_TERMS


def test_tabs_and_newlines_are_whitespace_not_errors() -> None:
    assert parse("secret\tspeech\r\n").groups == [[Word("secret")], [Word("speech")]]


# --- engines -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(title, body, "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.executemany(
        "INSERT INTO docs (rowid, title, body) VALUES (?, ?, ?)",
        [(i, f"Row {i}", body) for i, body in ROWS.items()],
    )
    yield db
    db.close()


def fts_rows(db: sqlite3.Connection, q: SearchQuery) -> set[int]:
    return {r[0] for r in db.execute("SELECT rowid FROM docs WHERE docs MATCH ?", (to_fts5(q),))}


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[Connection, str]]:
    """A connection in a transaction holding a scratch schema; yields it and the config."""
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        connection = engine.connect()
    except OperationalError as error:
        engine.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}: {error.orig}")
    transaction = connection.begin()
    schema = f"test_search_query_{os.getpid()}"
    config = f"{schema}.archive_english"
    try:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS unaccent"))
        where = connection.execute(
            text(
                "SELECT extnamespace::regnamespace::text FROM pg_extension "
                "WHERE extname = 'unaccent'"
            )
        ).scalar_one()
        connection.execute(text(f"CREATE SCHEMA {schema}"))
        for statement in pg_search_config_ddl(config, f"{where}.unaccent"):
            connection.execute(text(statement))
        connection.execute(
            text(
                f"CREATE TABLE {schema}.docs (id int PRIMARY KEY, body text NOT NULL, "
                f"tsv tsvector GENERATED ALWAYS AS (to_tsvector('{config}', body)) STORED)"
            )
        )
        connection.execute(
            text(f"INSERT INTO {schema}.docs (id, body) VALUES (:id, :body)"),
            [{"id": i, "body": body} for i, body in ROWS.items()],
        )
        yield connection, config
    finally:
        transaction.rollback()
        connection.close()
        engine.dispose()


def pg_rows(pg: tuple[Connection, str], q: SearchQuery) -> set[int]:
    connection, config = pg
    schema = config.split(".")[0]
    sql, params = to_tsquery_sql(q, config)
    with connection.begin_nested():
        found = connection.execute(text(f"SELECT id FROM {schema}.docs WHERE tsv @@ {sql}"), params)
        return set(found.scalars())


@pytest.mark.parametrize(("typed", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_sqlite_finds_the_expected_rows(
    fts: sqlite3.Connection, typed: str, expected: set[int]
) -> None:
    assert fts_rows(fts, parse(typed)) == expected


@pytest.mark.parametrize(("typed", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_postgresql_finds_the_same_rows(
    pg: tuple[Connection, str], typed: str, expected: set[int]
) -> None:
    assert pg_rows(pg, parse(typed)) == expected


def test_fts5_column_filter_limits_where_words_are_found(fts: sqlite3.Connection) -> None:
    q = parse("Row")
    title = {
        r[0]
        for r in fts.execute("SELECT rowid FROM docs WHERE docs MATCH ?", (to_fts5(q, ["title"]),))
    }
    body = {
        r[0]
        for r in fts.execute("SELECT rowid FROM docs WHERE docs MATCH ?", (to_fts5(q, ["body"]),))
    }
    assert (title, body) == (set(ROWS), set())


# --- anything a user might type ----------------------------------------------------------

FRAGMENTS = [
    " ",
    " ",
    '"',
    "“",
    "”",
    "*",
    "-",
    "(",
    ")",
    "OR",
    "NEAR",
    "NOT",
    "AND",
    "or",
    "the",
    ":",
    "'",
    "^",
    "+",
    "{",
    "}",
    "\\",
    ",",
    ".",
    "/",
    "@",
    "&",
    "|",
    "!",
    "<->",
    ":*",
    "\x00",
    "\x1f",
    "\x7f",
    "\x85",
    "\t",
    "é",
    "e\u0301",
    "\u0301",
    "ß",
    "İ",
    "\u200b",
    "\ue000",
    "💥",
    "²",
    "Khrush",
    "speech",
    "1953",
    "1,430",
    "NEAR/2",
    "col:",
    "\ud800",
]
user_text = st.one_of(
    st.text(),
    st.text(st.characters(exclude_categories=())),  # surrogates too, as JSON can carry them
    st.lists(st.sampled_from(FRAGMENTS), max_size=16).map("".join),
)

_SQL_TOKEN = re.compile(r"\s+|[()]|&&|\|\||!!|':\*'|:tsq_\w+|,|(plain|phrase)?to_tsquery")


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=user_text)
def test_any_text_is_a_bad_query_or_runs_on_sqlite(fts: sqlite3.Connection, typed: str) -> None:
    try:
        q = parse(typed)
    except BadQuery:
        return
    fts.execute("SELECT rowid FROM docs WHERE docs MATCH ?", (to_fts5(q),)).fetchall()
    fts.execute(
        "SELECT rowid FROM docs WHERE docs MATCH ?", (to_fts5(q, ["title", "body"]),)
    ).fetchall()
    assert terms_for_highlight(q)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(typed=user_text)
def test_any_text_is_a_bad_query_or_runs_on_postgresql(
    pg: tuple[Connection, str], typed: str
) -> None:
    try:
        q = parse(typed)
    except BadQuery:
        return
    sql, params = to_tsquery_sql(q)
    leftover = _SQL_TOKEN.sub("", sql)
    assert leftover == "", f"text outside bound parameters: {leftover!r}"
    assert set(re.findall(r":(tsq_\w+)", sql)) <= set(params)
    pg_rows(pg, q)
