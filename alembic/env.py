"""Alembic environment: the same migrations on SQLite (batch mode) and PostgreSQL.

The database comes from the caller (`archive.db.migrate` passes a connection) or, for the
`alembic` command line, from `ARCHIVE_DATABASE_URL`.
"""

from __future__ import annotations

from sqlalchemy import Connection

import archive.models  # noqa: F401 - registers the tables on the metadata
from alembic import context
from archive.db import engine_for, include_object
from archive.models import metadata
from archive.settings import get_settings

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    url = get_settings().database_url
    if config.file_config.has_section(config.config_ini_section):
        url = config.get_main_option("sqlalchemy.url") or url
    with engine_for(url).connect() as connection:
        run(connection)
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; give a database URL.")
main()
