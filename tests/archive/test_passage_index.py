"""The passage index follows every text write, and `archive check` notices when it does not.

Each test looks at what a user of quote lookup would notice (a text is found, or no longer
found) and at what `check` reports; the statement test watches what the lookup sends to the
database, so that no quotation, however long, makes a statement past a driver's limits.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session

from archive import documents
from archive.bundled import initialize
from archive.db import downgrade, make_engine, migrate
from archive.documents import sha256
from archive.errors import InvalidInput
from archive.lookup import index
from archive.lookup import run as lookup
from archive.lookup.run import MAX_QUERY
from archive.revisions import replace_text
from archive.transfer import import_lines

PASSAGE = "The harvest reports from the eastern provinces were rewritten twice before dawn."
TYPED = "The harvest reports from the eastern provinces were rewriten twice before dawn"


def holders(session: Session, query: str = TYPED) -> set[str]:
    return {m["document_id"] for m in lookup.lookup(session, query, limit=100)["matches"]}


def doc(doc_id: str, body: str) -> dict:
    return {"id": doc_id, "title": doc_id.title(), "text": body}


def test_a_new_text_is_found_and_the_index_checks_out(session: Session) -> None:
    assert holders(session) == set()
    documents.create_document(session, doc("harvest", f"Minutes. {PASSAGE} Nothing else."))
    assert holders(session) == {"harvest"}
    assert index.check(session) == []


def test_a_replaced_text_is_found_by_its_new_words_only(session: Session) -> None:
    documents.create_document(session, doc("harvest", f"Minutes. {PASSAGE}"))
    replace_text(session, "harvest", "Minutes. The reports were burned, all of them, unread.")
    assert holders(session) == set()
    assert holders(session, "the reports were burned all of them unread") == {"harvest"}
    assert index.check(session) == []


def test_a_deleted_document_is_no_longer_found(session: Session) -> None:
    documents.create_document(session, doc("harvest", PASSAGE))
    documents.create_document(session, doc("copy", f"As quoted: {PASSAGE}"))
    documents.delete_document(session, "harvest")
    assert holders(session) == {"copy"}
    assert index.check(session) == []


def test_an_import_indexes_its_texts(session: Session) -> None:
    import json

    lines = [
        json.dumps({"type": "document", **doc(f"report-{n}", f"Report {n}. {PASSAGE}")})
        for n in range(3)
    ]
    import_lines(session, lines)
    assert holders(session) == {"report-0", "report-1", "report-2"}
    assert index.check(session) == []


def test_a_rolled_back_write_and_a_failed_import_leave_the_index_as_it_was(
    fresh_database: str,
) -> None:
    import json

    engine = make_engine(fresh_database)
    initialize(engine, empty=True)
    try:
        with Session(engine) as session:
            documents.create_document(session, doc("harvest", PASSAGE))
            session.rollback()
        good = json.dumps({"type": "document", **doc("report", PASSAGE)})
        bad = json.dumps({"type": "document", "id": "broken", "title": "Broken"})  # no text
        with Session(engine) as session, pytest.raises(InvalidInput):
            import_lines(session, [good, bad])
        with Session(engine) as session:
            session.rollback()
            assert holders(session) == set()
            assert session.execute(text("SELECT count(*) FROM passage_chunks")).scalar() == 0
            assert session.execute(text("SELECT count(*) FROM passage_postings")).scalar() == 0
            assert index.check(session) == []
    finally:
        engine.dispose()


def test_check_reports_missing_and_stale_entries(session: Session) -> None:
    documents.create_document(session, doc("harvest", f"Minutes. {PASSAGE}"))
    assert index.check(session) == []
    [bucket] = session.execute(
        text("SELECT bucket FROM passage_postings ORDER BY length(data) DESC LIMIT 1")
    ).one()
    data = session.execute(
        text("SELECT data FROM passage_postings WHERE bucket = :b"), {"b": bucket}
    ).scalar_one()
    session.execute(text("DELETE FROM passage_postings WHERE bucket = :b"), {"b": bucket})
    assert any("postings missing" in p for p in index.check(session))
    session.execute(
        text("INSERT INTO passage_postings (bucket, data) VALUES (:b, :d)"),
        {"b": bucket, "d": bytes(data) + b"\x01\x00\x00\x00\xff\xff\xff\x00"},
    )
    problems = index.check(session)
    assert any("stale postings" in p for p in problems)
    session.execute(text("UPDATE passage_chunks SET char_start = char_start + 1 WHERE seq = 1"))
    assert any("do not match its current text" in p for p in index.check(session))
    index.rebuild(session)
    assert index.check(session) == []
    assert holders(session) == {"harvest"}


def test_the_migration_indexes_existing_texts_and_downgrades(fresh_database: str) -> None:
    engine = make_engine(fresh_database)
    try:
        migrate(engine, "0002")
        body = f"Minutes. {PASSAGE}"
        with engine.begin() as conn:  # as a text stored before the index existed
            conn.execute(
                text(
                    "INSERT INTO documents (id, title, kind, creators, revision, text_sha256, "
                    "length, created_at, updated_at) VALUES ('harvest', 'Harvest', 'secondary', "
                    "'[]', 1, :digest, :length, :now, :now)"
                ),
                {"digest": sha256(body), "length": len(body), "now": "2026-12-01T00:00:00"},
            )
            conn.execute(
                text(
                    "INSERT INTO document_texts (document_id, revision, text, sha256, created_at) "
                    "VALUES ('harvest', 1, :body, :digest, :now)"
                ),
                {"body": body, "digest": sha256(body), "now": "2026-12-01T00:00:00"},
            )
        migrate(engine, "0003")
        with Session(engine) as session:
            assert holders(session) == {"harvest"}
            assert index.check(session) == []
        downgrade(engine, "0002")
        with Session(engine) as session:
            names = session.execute(text("SELECT * FROM documents")).all()
            assert len(names) == 1
        migrate(engine)
    finally:
        engine.dispose()


def test_a_long_quotation_sends_small_statements(session: Session, engine: Engine) -> None:
    """The longest quotation the API takes: every statement has a handful of parameters
    and a text that does not grow with the quotation."""
    body = " ".join(
        f"Paragraph {n}: the committee met again, and the minutes say so." for n in range(600)
    )
    documents.create_document(session, doc("minutes", body))
    start = body.index("Paragraph 20:")
    query = body[start : body.rindex(" so.", start, start + MAX_QUERY) + 4]
    assert MAX_QUERY - 100 < len(query) <= MAX_QUERY
    seen: list[tuple[str, int]] = []

    def watch(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        count = len(parameters) if isinstance(parameters, dict | list | tuple) else 0
        seen.append((statement, count))

    bind = session.connection()
    event.listen(bind, "before_cursor_execute", watch)
    try:
        matches = lookup.lookup(session, query, limit=10)["matches"]
    finally:
        event.remove(bind, "before_cursor_execute", watch)
    assert matches and matches[0]["document_id"] == "minutes"
    assert matches[0]["match"] == "exact"
    assert seen
    assert max(count for _, count in seen) <= 8
    assert max(len(statement) for statement, _ in seen) < 2000
