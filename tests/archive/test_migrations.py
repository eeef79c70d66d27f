"""The migrations build exactly the models' schema, and run down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from archive.db import downgrade, include_object, make_engine, migrate
from archive.models import metadata

TABLES = {
    "documents",
    "document_texts",
    "spans",
    "citations",
    "citation_spans",
    "claims",
    "evidence",
    "api_keys",
    "changes",
    "idempotency_records",
}


def test_autogenerate_finds_no_difference(fresh_database: str) -> None:
    engine = make_engine(fresh_database)
    migrate(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": include_object,
                "render_as_batch": conn.dialect.name == "sqlite",
            },
        )
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_downgrade_upgrade(fresh_database: str) -> None:
    engine = make_engine(fresh_database)
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()
