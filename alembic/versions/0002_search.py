"""full-text search index over documents, spans and claims

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:10:00

One row per searchable item in `search_items` (type, id, the document it belongs to and that
document's facets, so that filters and facets need no join), kept in step by triggers on
documents, document_texts, spans and claims: every write path (ORM, bulk Core inserts,
cascading deletes) updates the index in its own transaction without the domain's help.

- SQLite: `search_fts`, an FTS5 table (porter stemming, unicode61 without diacritics) whose
  rowid is `search_items.rid`, with two columns: `title` (document title, span speaker,
  claim tags) ranked above `body` (document text, span quote and note, claim statement and
  note). It keeps its own copy of the text, which `snippet()` needs.
- PostgreSQL: a weighted tsvector column `search_items.tsv` (title A, body D) in the
  `archive_english` configuration (english stemming + unaccent) with a GIN index.

The characters U+0002 and U+0003 mark highlights in snippets (archive/search.py), so the
indexed copy of the text on SQLite has them replaced by spaces (they separate words anyway).
"""

from collections.abc import Sequence

from alembic import op
from archive.search_query import PG_SEARCH_CONFIG, pg_search_config_ddl

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS5_TOKENIZE = "porter unicode61 remove_diacritics 2"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _postgresql_upgrade():
            op.execute(statement)
    else:
        for statement in _sqlite_upgrade():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        statements = [
            *(f"DROP TRIGGER IF EXISTS search_{t} ON {t}" for t in _PG_TRIGGER_TABLES),
            *(f"DROP FUNCTION IF EXISTS search_{t}_trigger()" for t in _PG_TRIGGER_TABLES),
            "DROP FUNCTION IF EXISTS search_index_document(text)",
            "DROP FUNCTION IF EXISTS search_document_frequency(tsquery)",
            "DROP FUNCTION IF EXISTS search_vector(text, text)",
            "DROP TABLE IF EXISTS search_items",
            f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {PG_SEARCH_CONFIG}",
            "DROP EXTENSION IF EXISTS unaccent",
        ]
    else:
        statements = [
            *(f"DROP TRIGGER IF EXISTS {name}" for name in _SQLITE_TRIGGERS),
            "DROP TABLE IF EXISTS search_fts",
            "DROP TABLE IF EXISTS search_items",
            "DROP TABLE IF EXISTS search_facets",
        ]
    for statement in statements:
        op.execute(statement)


# --- SQLite -----------------------------------------------------------------------------


def _clean(expr: str) -> str:
    """The text without the snippet markers (see the module docstring)."""
    return f"replace(replace({expr}, char(2), ' '), char(3), ' ')"


_DOCUMENT_TITLE = _clean("d.title")
_DOCUMENT_BODY = _clean("coalesce(t.text, '')")
_SPAN_TITLE = _clean("coalesce(s.speaker, '')")
_SPAN_BODY = _clean("s.exact || coalesce(char(10) || s.note, '')")
_CLAIM_TITLE = _clean(
    "coalesce(CASE WHEN json_type(c.tags) = 'array' THEN "
    "(SELECT group_concat(value, ', ') FROM json_each(c.tags)) END, '')"
)
_CLAIM_BODY = _clean("c.statement || coalesce(char(10) || c.note, '')")


def _sqlite_document_fts(doc: str, *, require_text: bool = True) -> str:
    """(Re)insert the FTS row of document `doc` (an SQL expression)."""
    join = "JOIN" if require_text else "LEFT JOIN"
    return (
        "INSERT INTO search_fts (rowid, title, body) "
        f"SELECT i.rid, {_DOCUMENT_TITLE}, {_DOCUMENT_BODY} "
        "FROM search_items i JOIN documents d ON d.id = i.item_id "
        f"{join} document_texts t ON t.document_id = d.id AND t.revision = d.revision "
        f"WHERE i.type = 'document' AND i.item_id = {doc};"
    )


def _sqlite_delete_fts(type_: str, item: str) -> str:
    return (
        "DELETE FROM search_fts WHERE rowid = "
        f"(SELECT rid FROM search_items WHERE type = '{type_}' AND item_id = {item});"
    )


def _sqlite_span_fts(span: str) -> str:
    return (
        f"INSERT INTO search_fts (rowid, title, body) SELECT i.rid, {_SPAN_TITLE}, {_SPAN_BODY} "
        "FROM search_items i JOIN spans s ON s.id = i.item_id "
        f"WHERE i.type = 'span' AND i.item_id = {span};"
    )


def _sqlite_claim_fts(claim: str) -> str:
    return (
        f"INSERT INTO search_fts (rowid, title, body) "
        f"SELECT i.rid, {_CLAIM_TITLE}, {_CLAIM_BODY} "
        "FROM search_items i JOIN claims c ON c.id = i.item_id "
        f"WHERE i.type = 'claim' AND i.item_id = {claim};"
    )


_IS_CURRENT_TEXT = "{row}.revision = (SELECT revision FROM documents WHERE id = {row}.document_id)"

_SQLITE_TRIGGER_BODIES: dict[str, tuple[str, str]] = {
    # name: (event and condition, body)
    "search_documents_insert": (
        "AFTER INSERT ON documents",
        "INSERT INTO search_items (type, item_id, document_id, kind, creators, published) "
        "VALUES ('document', NEW.id, NEW.id, NEW.kind, NEW.creators, NEW.published);"
        + _sqlite_document_fts("NEW.id"),
    ),
    "search_documents_update_text": (
        "AFTER UPDATE OF title, revision ON documents",
        _sqlite_delete_fts("document", "NEW.id") + _sqlite_document_fts("NEW.id"),
    ),
    "search_documents_update_facets": (
        "AFTER UPDATE OF kind, creators, published ON documents",
        "UPDATE search_items SET kind = NEW.kind, creators = NEW.creators, "
        "published = NEW.published WHERE document_id = NEW.id;",
    ),
    "search_documents_delete": (
        "AFTER DELETE ON documents",
        "DELETE FROM search_fts WHERE rowid IN "
        "(SELECT rid FROM search_items WHERE document_id = OLD.id);"
        "DELETE FROM search_items WHERE document_id = OLD.id;",
    ),
    "search_document_texts_insert": (
        "AFTER INSERT ON document_texts WHEN " + _IS_CURRENT_TEXT.format(row="NEW"),
        _sqlite_delete_fts("document", "NEW.document_id") + _sqlite_document_fts("NEW.document_id"),
    ),
    "search_document_texts_update": (
        "AFTER UPDATE OF text ON document_texts WHEN " + _IS_CURRENT_TEXT.format(row="NEW"),
        _sqlite_delete_fts("document", "NEW.document_id") + _sqlite_document_fts("NEW.document_id"),
    ),
    "search_document_texts_delete": (
        "AFTER DELETE ON document_texts WHEN " + _IS_CURRENT_TEXT.format(row="OLD"),
        _sqlite_delete_fts("document", "OLD.document_id")
        + _sqlite_document_fts("OLD.document_id", require_text=False),
    ),
    "search_spans_insert": (
        "AFTER INSERT ON spans",
        "INSERT INTO search_items "
        "(type, item_id, document_id, kind, creators, published, speaker) "
        "SELECT 'span', NEW.id, NEW.document_id, d.kind, d.creators, d.published, NEW.speaker "
        "FROM documents d WHERE d.id = NEW.document_id;" + _sqlite_span_fts("NEW.id"),
    ),
    "search_spans_update": (
        "AFTER UPDATE OF exact, speaker, note, document_id ON spans",
        _sqlite_delete_fts("span", "OLD.id")
        + "UPDATE search_items SET speaker = NEW.speaker, document_id = NEW.document_id, "
        "kind = d.kind, creators = d.creators, published = d.published "
        "FROM (SELECT kind, creators, published FROM documents WHERE id = NEW.document_id) d "
        "WHERE type = 'span' AND item_id = NEW.id;" + _sqlite_span_fts("NEW.id"),
    ),
    "search_spans_delete": (
        "AFTER DELETE ON spans",
        _sqlite_delete_fts("span", "OLD.id")
        + "DELETE FROM search_items WHERE type = 'span' AND item_id = OLD.id;",
    ),
    "search_claims_insert": (
        "AFTER INSERT ON claims",
        "INSERT INTO search_items (type, item_id) VALUES ('claim', NEW.id);"
        + _sqlite_claim_fts("NEW.id"),
    ),
    "search_claims_update": (
        "AFTER UPDATE OF statement, note, tags ON claims",
        _sqlite_delete_fts("claim", "NEW.id") + _sqlite_claim_fts("NEW.id"),
    ),
    "search_claims_delete": (
        "AFTER DELETE ON claims",
        _sqlite_delete_fts("claim", "OLD.id")
        + "DELETE FROM search_items WHERE type = 'claim' AND item_id = OLD.id;",
    ),
}
_SQLITE_FACET_VALUES = (
    "NEW.type, coalesce(NEW.kind, ''), coalesce(substr(NEW.published, 1, 4), ''), "
    "coalesce(NEW.creators, '')"
)
_SQLITE_FACETS = (
    f"INSERT OR IGNORE INTO search_facets (type, kind, year, creators) "
    f"VALUES ({_SQLITE_FACET_VALUES});"
    "UPDATE search_items SET facets = (SELECT id FROM search_facets "
    f"WHERE (type, kind, year, creators) = ({_SQLITE_FACET_VALUES})) WHERE rid = NEW.rid;"
)
_SQLITE_FACET_TRIGGERS = {
    "search_items_facets_insert": "AFTER INSERT ON search_items",
    "search_items_facets_update": "AFTER UPDATE OF type, kind, published, creators ON search_items",
}
_SQLITE_TRIGGERS = [*_SQLITE_TRIGGER_BODIES, *_SQLITE_FACET_TRIGGERS]


def _sqlite_upgrade() -> list[str]:
    statements = [
        "CREATE TABLE search_items ("
        " rid INTEGER PRIMARY KEY,"
        " type TEXT NOT NULL,"
        " item_id TEXT NOT NULL,"
        " document_id TEXT,"
        " kind TEXT,"
        " creators TEXT,"
        " published TEXT,"
        " speaker TEXT,"
        " facets INTEGER)",
        "CREATE UNIQUE INDEX ix_search_items_key ON search_items (type, item_id)",
        "CREATE INDEX ix_search_items_document_id ON search_items (document_id)",
        # Each distinct (type, kind, year, creators) once: a search counts its facets by
        # this one integer, which SQLite groups far faster than the four values.
        "CREATE TABLE search_facets ("
        " id INTEGER PRIMARY KEY,"
        " type TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " year TEXT NOT NULL,"
        " creators TEXT NOT NULL)",
        "CREATE UNIQUE INDEX ix_search_facets_key ON search_facets (type, kind, year, creators)",
        *(
            f"CREATE TRIGGER {name} {event} BEGIN {_SQLITE_FACETS} END"
            for name, event in _SQLITE_FACET_TRIGGERS.items()
        ),
        f"CREATE VIRTUAL TABLE search_fts USING fts5(title, body, tokenize='{FTS5_TOKENIZE}')",
        # existing rows
        "INSERT INTO search_items (type, item_id, document_id, kind, creators, published) "
        "SELECT 'document', id, id, kind, creators, published FROM documents ORDER BY id",
        "INSERT INTO search_items "
        "(type, item_id, document_id, kind, creators, published, speaker) "
        "SELECT 'span', s.id, s.document_id, d.kind, d.creators, d.published, s.speaker "
        "FROM spans s JOIN documents d ON d.id = s.document_id ORDER BY s.id",
        "INSERT INTO search_items (type, item_id) SELECT 'claim', id FROM claims ORDER BY id",
        "INSERT INTO search_fts (rowid, title, body) "
        f"SELECT i.rid, {_DOCUMENT_TITLE}, {_DOCUMENT_BODY} "
        "FROM search_items i JOIN documents d ON d.id = i.item_id "
        "JOIN document_texts t ON t.document_id = d.id AND t.revision = d.revision "
        "WHERE i.type = 'document'",
        f"INSERT INTO search_fts (rowid, title, body) SELECT i.rid, {_SPAN_TITLE}, {_SPAN_BODY} "
        "FROM search_items i JOIN spans s ON s.id = i.item_id WHERE i.type = 'span'",
        "INSERT INTO search_fts (rowid, title, body) "
        f"SELECT i.rid, {_CLAIM_TITLE}, {_CLAIM_BODY} "
        "FROM search_items i JOIN claims c ON c.id = i.item_id WHERE i.type = 'claim'",
    ]
    for name, (event, body) in _SQLITE_TRIGGER_BODIES.items():
        statements.append(f"CREATE TRIGGER {name} {event} BEGIN {body} END")
    return statements


# --- PostgreSQL -------------------------------------------------------------------------

_PG_TRIGGER_TABLES = ("documents", "document_texts", "spans", "claims")

# PostgreSQL refuses a tsvector over 1 MB; a text under 250,000 bytes always fits (a
# tsvector takes at most about 3.7 bytes per byte of text). Longer texts are indexed as
# far as they fit, halving the indexed length until they do.
_PG_FUNCTIONS = [
    f"""
CREATE FUNCTION search_vector(title text, body text) RETURNS tsvector
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    indexed integer := length(coalesce(body, ''));
BEGIN
    IF octet_length(coalesce(body, '')) <= 250000 THEN
        RETURN setweight(to_tsvector('{PG_SEARCH_CONFIG}', coalesce(title, '')), 'A')
            || setweight(to_tsvector('{PG_SEARCH_CONFIG}', coalesce(body, '')), 'D');
    END IF;
    LOOP
        BEGIN
            RETURN setweight(to_tsvector('{PG_SEARCH_CONFIG}', coalesce(title, '')), 'A')
                || setweight(to_tsvector('{PG_SEARCH_CONFIG}', left(body, indexed)), 'D');
        EXCEPTION WHEN program_limit_exceeded THEN
            indexed := indexed / 2;
        END;
    END LOOP;
END
$$""",
    """
CREATE FUNCTION search_index_document(doc text) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO search_items AS s (type, item_id, document_id, kind, creators, published, tsv)
    SELECT 'document', d.id, d.id, d.kind, d.creators, d.published,
           search_vector(d.title, t.text)
    FROM documents d
    LEFT JOIN document_texts t ON t.document_id = d.id AND t.revision = d.revision
    WHERE d.id = doc
    ON CONFLICT (type, item_id) DO UPDATE
    SET kind = excluded.kind, creators = excluded.creators, published = excluded.published,
        tsv = excluded.tsv;
END
$$""",
    # How many documents hold a word, from the GIN index: the planner would rather scan the
    # table for a common word, which means reading (and decompressing) every tsvector.
    """
CREATE FUNCTION search_document_frequency(query tsquery) RETURNS bigint
LANGUAGE sql STABLE SET enable_seqscan = off SET search_path FROM CURRENT AS $$
    SELECT count(*) FROM search_items WHERE type = 'document' AND tsv @@ query
$$""",
    """
CREATE FUNCTION search_documents_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_items WHERE document_id = OLD.id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- the text usually arrives just after: then its own trigger indexes the document
        IF EXISTS (SELECT 1 FROM document_texts
                   WHERE document_id = NEW.id AND revision = NEW.revision) THEN
            PERFORM search_index_document(NEW.id);
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.title IS DISTINCT FROM OLD.title OR NEW.revision IS DISTINCT FROM OLD.revision THEN
        PERFORM search_index_document(NEW.id);
    END IF;
    IF (NEW.kind, NEW.creators, NEW.published)
            IS DISTINCT FROM (OLD.kind, OLD.creators, OLD.published) THEN
        UPDATE search_items
        SET kind = NEW.kind, creators = NEW.creators, published = NEW.published
        WHERE document_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$""",
    """
CREATE FUNCTION search_document_texts_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    changed document_texts;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.text IS NOT DISTINCT FROM OLD.text THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM documents
               WHERE id = changed.document_id AND revision = changed.revision) THEN
        PERFORM search_index_document(changed.document_id);
    END IF;
    RETURN NULL;
END
$$""",
    """
CREATE FUNCTION search_spans_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_items WHERE type = 'span' AND item_id = OLD.id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE'
            AND (NEW.exact, NEW.speaker, NEW.note, NEW.document_id)
                IS NOT DISTINCT FROM (OLD.exact, OLD.speaker, OLD.note, OLD.document_id) THEN
        RETURN NULL;
    END IF;
    INSERT INTO search_items
        (type, item_id, document_id, kind, creators, published, speaker, tsv)
    SELECT 'span', NEW.id, NEW.document_id, d.kind, d.creators, d.published, NEW.speaker,
           search_vector(NEW.speaker, NEW.exact || coalesce(E'\\n' || NEW.note, ''))
    FROM documents d WHERE d.id = NEW.document_id
    ON CONFLICT (type, item_id) DO UPDATE
    SET document_id = excluded.document_id, kind = excluded.kind,
        creators = excluded.creators, published = excluded.published,
        speaker = excluded.speaker, tsv = excluded.tsv;
    RETURN NULL;
END
$$""",
    """
CREATE FUNCTION search_claims_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_items WHERE type = 'claim' AND item_id = OLD.id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.statement, NEW.note, NEW.tags)
            IS NOT DISTINCT FROM (OLD.statement, OLD.note, OLD.tags) THEN
        RETURN NULL;
    END IF;
    INSERT INTO search_items (type, item_id, tsv)
    VALUES ('claim', NEW.id, search_vector(
        CASE WHEN jsonb_typeof(NEW.tags) = 'array' THEN
            (SELECT string_agg(value, ', ') FROM jsonb_array_elements_text(NEW.tags))
        END,
        NEW.statement || coalesce(E'\\n' || NEW.note, '')))
    ON CONFLICT (type, item_id) DO UPDATE SET tsv = excluded.tsv;
    RETURN NULL;
END
$$""",
]


def _postgresql_upgrade() -> list[str]:
    statements = [
        "CREATE EXTENSION IF NOT EXISTS unaccent",
        *pg_search_config_ddl(),
        "CREATE TABLE search_items ("
        " rid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        " type varchar(16) NOT NULL,"
        " item_id varchar(64) NOT NULL,"
        " document_id varchar(64),"
        " kind varchar(16),"
        " creators jsonb,"
        " published varchar(10),"
        " speaker text,"
        " tsv tsvector NOT NULL)",
        "CREATE UNIQUE INDEX ix_search_items_key ON search_items (type, item_id)",
        "CREATE INDEX ix_search_items_document_id ON search_items (document_id)",
        *_PG_FUNCTIONS,
    ]
    for table in _PG_TRIGGER_TABLES:
        statements.append(
            f"CREATE TRIGGER search_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION search_{table}_trigger()"
        )
    # existing rows: the triggers' own upserts, once for every row
    statements += [
        "SELECT search_index_document(id) FROM documents ORDER BY id",
        "INSERT INTO search_items "
        "(type, item_id, document_id, kind, creators, published, speaker, tsv) "
        "SELECT 'span', s.id, s.document_id, d.kind, d.creators, d.published, s.speaker, "
        "search_vector(s.speaker, s.exact || coalesce(E'\\n' || s.note, '')) "
        "FROM spans s JOIN documents d ON d.id = s.document_id ORDER BY s.id",
        "INSERT INTO search_items (type, item_id, tsv) "
        "SELECT 'claim', c.id, search_vector(CASE WHEN jsonb_typeof(c.tags) = 'array' THEN "
        "(SELECT string_agg(value, ', ') FROM jsonb_array_elements_text(c.tags)) END, "
        "c.statement || coalesce(E'\\n' || c.note, '')) FROM claims c ORDER BY c.id",
        # built after the rows are in: faster than maintaining it row by row
        "CREATE INDEX ix_search_items_tsv ON search_items USING gin (tsv)",
    ]
    return statements
