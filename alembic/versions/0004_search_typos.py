"""search: an unstemmed vocabulary for typo correction; very common words indexed; ё folded

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 18:10:00

- SQLite: `search_words`, a second FTS5 index of the same rows as `search_fts`, unstemmed
  (`unicode61 remove_diacritics 2`), contentless and without positions (detail=none), so it
  is small; `search_vocabulary` (fts5vocab) lists its words with the number of items holding
  each. Search reads it to correct misspelled words, and to match a `prefix*` on the words as
  written (the porter index reads `news*` as `new*`). `search_titles` indexes document
  titles alone (porter, contentless), so that search can rank the documents whose title
  holds the whole query first without reading the long doclists of the full index. The
  triggers that keep `search_fts` in
  step are rewritten in place to keep these two in step too (every row removed from
  `search_fts` is first removed from them with the same text, as a contentless
  table needs), and to fold Cyrillic ё into е in the indexed copy, as PostgreSQL's unaccent
  does. FTS5's porter tokenizer has no stop words, so very common words are indexed already.
- PostgreSQL: `archive_english` stems with a Snowball dictionary without a stop-word list,
  so that very common words are indexed as FTS5 indexes them; `search_words` holds every
  word (`archive_words`: unaccented, lower case, unstemmed) that `search_vector` has
  indexed. Words are added, never removed: search checks a correction against the index
  before using it. A document text over 50,000 characters is also indexed in overlapping
  chunks (`search_chunks`), since a tsvector keeps word positions up to 16,383 only: search
  looks for phrases there too. Every item is indexed again.
"""

import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORDS_TOKENIZE = "unicode61 remove_diacritics 2"
TITLES_TOKENIZE = "porter unicode61 remove_diacritics 2"  # as search_fts


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _postgresql_upgrade():
            op.execute(statement)
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _postgresql_downgrade():
            op.execute(statement)
    else:
        _sqlite_downgrade()


# --- SQLite -----------------------------------------------------------------------------

_WORDS_OF = "title || ' ' || body"
_DOCUMENT_RIDS = "SELECT rid FROM search_items WHERE type = 'document'"

#: `DELETE FROM search_fts WHERE rowid = (...)` or `... rowid IN (...)`, as 0002 writes them.
_DELETE = re.compile(r"DELETE FROM search_fts WHERE rowid (= |IN )(\((?:[^()]|\([^()]*\))*\));")
#: The end of 0002's `INSERT INTO search_fts ... WHERE i.type = 't' AND i.item_id = X;`.
_INSERT = re.compile(
    r"(INSERT INTO search_fts \(rowid, title, body\) .*? "
    r"WHERE i\.type = '(\w+)' AND i\.item_id = ([\w.]+);)"
)
#: 0002's `_clean(expr)`: the text without the snippet markers.
_CLEAN_START = "replace(replace("
_CLEAN_END = ", char(3), ' ')"
_YO = "replace(replace({}, 'ё', 'е'), 'Ё', 'Е')"


def _with_words(sql: str) -> str:
    """A trigger of 0002 that also keeps `search_words` in step, with ё folded."""

    def delete(match: re.Match[str]) -> str:
        condition = match.group(1) + match.group(2)
        return (
            "INSERT INTO search_words (search_words, rowid, words) "
            f"SELECT 'delete', rowid, {_WORDS_OF} FROM search_fts WHERE rowid {condition};"
            "INSERT INTO search_titles (search_titles, rowid, title) "
            f"SELECT 'delete', rowid, title FROM search_fts WHERE rowid {condition} "
            f"AND rowid IN ({_DOCUMENT_RIDS});" + match.group(0)
        )

    def insert(match: re.Match[str]) -> str:
        statement, type_, item = match.groups()
        statement = _fold_yo(statement)
        rid = f"(SELECT rid FROM search_items WHERE type = '{type_}' AND item_id = {item})"
        statement += (
            "INSERT INTO search_words (rowid, words) "
            f"SELECT rowid, {_WORDS_OF} FROM search_fts WHERE rowid = {rid};"
        )
        if type_ == "document":
            statement += (
                "INSERT INTO search_titles (rowid, title) "
                f"SELECT rowid, title FROM search_fts WHERE rowid = {rid};"
            )
        return statement

    rewritten, deletes = _DELETE.subn(delete, sql)
    rewritten, inserts = _INSERT.subn(insert, rewritten)
    if sql.count("search_fts") != deletes + inserts:
        raise RuntimeError(f"0004 cannot rewrite this search trigger: {sql}")
    return rewritten


def _fold_yo(statement: str) -> str:
    """Wrap every `_clean(expr)` of an insert in the ё → е fold."""
    out, at = [], 0
    while (start := statement.find(_CLEAN_START, at)) >= 0:
        end = statement.index(_CLEAN_END, start) + len(_CLEAN_END)
        out.append(statement[at:start] + _YO.format(statement[start:end]))
        at = end
    out.append(statement[at:])
    return "".join(out)


def _search_triggers() -> list[tuple[str, str]]:
    rows = op.get_bind().execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND sql LIKE '%search_fts%' ORDER BY name"
        )
    )
    return [(name, sql) for name, sql in rows]


def _sqlite_upgrade() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE search_words USING fts5("
        f"words, content='', detail='none', tokenize='{WORDS_TOKENIZE}')"
    )
    op.execute("CREATE VIRTUAL TABLE search_vocabulary USING fts5vocab(search_words, 'row')")
    op.execute(
        "CREATE VIRTUAL TABLE search_titles USING fts5("
        f"title, content='', tokenize='{TITLES_TOKENIZE}')"
    )
    for name, sql in _search_triggers():
        op.execute(f"DROP TRIGGER {name}")
        op.execute(_with_words(sql))
    # existing rows: ё folded, then every row's words
    op.execute(
        f"UPDATE search_fts SET title = {_YO.format('title')}, body = {_YO.format('body')} "
        "WHERE title GLOB '*[ёЁ]*' OR body GLOB '*[ёЁ]*'"
    )
    op.execute(f"INSERT INTO search_words (rowid, words) SELECT rowid, {_WORDS_OF} FROM search_fts")
    op.execute(
        "INSERT INTO search_titles (rowid, title) SELECT rowid, title FROM search_fts "
        f"WHERE rowid IN ({_DOCUMENT_RIDS})"
    )


def _sqlite_downgrade() -> None:
    for name, sql in _search_triggers():
        if "search_words" not in sql:
            continue
        original = re.sub(
            r"INSERT INTO search_words \(search_words, rowid, words\) .*? rowid (= |IN )"
            r"\((?:[^()]|\([^()]*\))*\);",
            "",
            sql,
        )
        original = re.sub(
            r"INSERT INTO search_titles \(search_titles, rowid, title\) .*? rowid IN "
            r"\(SELECT rid FROM search_items WHERE type = 'document'\);",
            "",
            original,
        )
        original = re.sub(
            r"INSERT INTO search_(words|titles) \(rowid, (words|title)\) SELECT rowid, .*? "
            r"item_id = [\w.]+\);",
            "",
            original,
        )
        original = original.replace(
            "replace(replace(" + _CLEAN_START, _CLEAN_START
        ).replace(", 'ё', 'е'), 'Ё', 'Е')", "")
        op.execute(f"DROP TRIGGER {name}")
        op.execute(original)
    op.execute("DROP TABLE IF EXISTS search_vocabulary")
    op.execute("DROP TABLE IF EXISTS search_words")
    op.execute("DROP TABLE IF EXISTS search_titles")


# --- PostgreSQL -------------------------------------------------------------------------

_CONFIG = "archive_english"
_WORDS_CONFIG = "archive_words"

# As 0002's, and each indexed text's words go to search_words. Volatile now: it writes.
_SEARCH_VECTOR = f"""
CREATE OR REPLACE FUNCTION search_vector(title text, body text) RETURNS tsvector
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
    indexed integer := length(coalesce(body, ''));
    vector tsvector;
BEGIN
    IF octet_length(coalesce(body, '')) <= 250000 THEN
        PERFORM search_add_words(coalesce(title, '') || ' ' || coalesce(body, ''));
        RETURN setweight(to_tsvector('{_CONFIG}', coalesce(title, '')), 'A')
            || setweight(to_tsvector('{_CONFIG}', coalesce(body, '')), 'D');
    END IF;
    LOOP
        BEGIN
            vector := setweight(to_tsvector('{_CONFIG}', coalesce(title, '')), 'A')
                || setweight(to_tsvector('{_CONFIG}', left(body, indexed)), 'D');
            PERFORM search_add_words(coalesce(title, '') || ' ' || left(body, indexed));
            RETURN vector;
        EXCEPTION WHEN program_limit_exceeded THEN
            indexed := indexed / 2;
        END;
    END LOOP;
END
$$"""

# New words only, in order (two writers adding the same words wait for each other in the
# same order rather than deadlock); words with digits are left out.
_ADD_WORDS = f"""
CREATE FUNCTION search_add_words(content text) RETURNS void
LANGUAGE sql VOLATILE SET search_path FROM CURRENT AS $$
    INSERT INTO search_words (word)
    SELECT w FROM unnest(tsvector_to_array(to_tsvector('{_WORDS_CONFIG}', content))) AS w
    WHERE w !~ '[0-9]' AND NOT EXISTS (SELECT 1 FROM search_words s WHERE s.word = w)
    ORDER BY w
    ON CONFLICT DO NOTHING
$$"""

_OLD_SEARCH_VECTOR = f"""
CREATE OR REPLACE FUNCTION search_vector(title text, body text) RETURNS tsvector
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    indexed integer := length(coalesce(body, ''));
BEGIN
    IF octet_length(coalesce(body, '')) <= 250000 THEN
        RETURN setweight(to_tsvector('{_CONFIG}', coalesce(title, '')), 'A')
            || setweight(to_tsvector('{_CONFIG}', coalesce(body, '')), 'D');
    END IF;
    LOOP
        BEGIN
            RETURN setweight(to_tsvector('{_CONFIG}', coalesce(title, '')), 'A')
                || setweight(to_tsvector('{_CONFIG}', left(body, indexed)), 'D');
        EXCEPTION WHEN program_limit_exceeded THEN
            indexed := indexed / 2;
        END;
    END LOOP;
END
$$"""

_REINDEX = [
    "SELECT search_index_document(id) FROM documents ORDER BY id",
    "UPDATE search_items i SET tsv = search_vector(s.speaker, "
    "s.exact || coalesce(E'\\n' || s.note, '')) FROM spans s "
    "WHERE i.type = 'span' AND s.id = i.item_id",
    "UPDATE search_items i SET tsv = search_vector(CASE WHEN jsonb_typeof(c.tags) = 'array' "
    "THEN (SELECT string_agg(value, ', ') FROM jsonb_array_elements_text(c.tags)) END, "
    "c.statement || coalesce(E'\\n' || c.note, '')) FROM claims c "
    "WHERE i.type = 'claim' AND c.id = i.item_id",
]


# A tsvector keeps word positions up to 16,383 only (and 256 per word), so a phrase late in
# a long text cannot be matched there: a document text over CHUNKED characters is also
# indexed in overlapping chunks (search_chunks), which search consults for phrases.
CHUNKED = 50_000
CHUNK = 10_000
CHUNK_OVERLAP = 500

_CHUNKS = [
    "CREATE TABLE search_chunks ("
    " rid bigint NOT NULL REFERENCES search_items (rid) ON DELETE CASCADE,"
    " chunk integer NOT NULL,"
    " tsv tsvector NOT NULL,"
    " PRIMARY KEY (rid, chunk))",
    f"""
CREATE FUNCTION search_chunks_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM search_chunks WHERE rid = NEW.rid;
    INSERT INTO search_chunks (rid, chunk, tsv)
    SELECT NEW.rid, k, to_tsvector('{_CONFIG}',
                                   substr(t.text, k * {CHUNK} + 1, {CHUNK + CHUNK_OVERLAP}))
    FROM documents d
    JOIN document_texts t ON t.document_id = d.id AND t.revision = d.revision
    CROSS JOIN LATERAL generate_series(0, (length(t.text) - 1) / {CHUNK}) AS k
    WHERE d.id = NEW.item_id AND length(t.text) > {CHUNKED};
    RETURN NULL;
END
$$""",
    "CREATE TRIGGER search_items_chunks AFTER INSERT OR UPDATE OF tsv ON search_items "
    "FOR EACH ROW WHEN (NEW.type = 'document') EXECUTE FUNCTION search_chunks_trigger()",
    "CREATE INDEX ix_search_chunks_tsv ON search_chunks USING gin (tsv)",
]


def _postgresql_upgrade() -> list[str]:
    return [
        "CREATE TEXT SEARCH DICTIONARY archive_english_stem "
        "(TEMPLATE = snowball, Language = english)",
        f"ALTER TEXT SEARCH CONFIGURATION {_CONFIG} "
        "ALTER MAPPING FOR asciiword, asciihword, hword_asciipart WITH archive_english_stem",
        f"ALTER TEXT SEARCH CONFIGURATION {_CONFIG} "
        "ALTER MAPPING FOR word, hword, hword_part WITH unaccent, archive_english_stem",
        f"CREATE TEXT SEARCH CONFIGURATION {_WORDS_CONFIG} (COPY = pg_catalog.simple)",
        f"ALTER TEXT SEARCH CONFIGURATION {_WORDS_CONFIG} "
        "ALTER MAPPING FOR word, hword, hword_part WITH unaccent, simple",
        "CREATE TABLE search_words (word text PRIMARY KEY)",
        _ADD_WORDS,
        _SEARCH_VECTOR,
        *_CHUNKS,
        *_REINDEX,
    ]


def _postgresql_downgrade() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS search_items_chunks ON search_items",
        "DROP FUNCTION IF EXISTS search_chunks_trigger()",
        "DROP TABLE IF EXISTS search_chunks",
        _OLD_SEARCH_VECTOR,
        "DROP FUNCTION IF EXISTS search_add_words(text)",
        "DROP TABLE IF EXISTS search_words",
        f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {_WORDS_CONFIG}",
        f"ALTER TEXT SEARCH CONFIGURATION {_CONFIG} "
        "ALTER MAPPING FOR asciiword, asciihword, hword_asciipart WITH english_stem",
        f"ALTER TEXT SEARCH CONFIGURATION {_CONFIG} "
        "ALTER MAPPING FOR word, hword, hword_part WITH unaccent, english_stem",
        "DROP TEXT SEARCH DICTIONARY IF EXISTS archive_english_stem",
        *_REINDEX,
    ]
