"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout and foreign keys on. Its Python driver's own
transaction handling is switched off so that SQLAlchemy emits BEGIN itself: this makes
savepoints work, and lets write sessions take the write lock up front (`BEGIN IMMEDIATE`),
which is what keeps concurrent writers from failing with "database is locked" on upgrade.

Case-insensitive filters compare `folded(column)` with `fold(value)`: lower case, one
letter for one, the curly apostrophes ‘ ’ read as a straight ', and ς as σ. PostgreSQL's
`lower()` folds every script (with a UTF-8 `LC_CTYPE`); SQLite's folds ASCII only, so
every SQLite connection gets `archive_fold()`, Python's own `fold`, and `folded` compiles
to it there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Text, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 15_000
# When the current read must stop (time.monotonic()); None: no budget. Set per request by
# the API (api/deps.get_session); SQLite's progress handler interrupts a statement past it.
READ_DEADLINE: ContextVar[float | None] = ContextVar("archive_read_deadline", default=None)
PROGRESS_STEPS = 1000  # SQLite VM steps between two looks at the deadline


def _past_deadline() -> int:
    deadline = READ_DEADLINE.get()
    return 1 if deadline is not None and time.monotonic() > deadline else 0


SQLITE_MMAP_BYTES = 256 * 1024 * 1024


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` and `postgres://` URLs and use the psycopg 3 driver."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def make_engine(url: str, **kwargs: object) -> Engine:
    url = normalize_url(url)
    kwargs.setdefault("json_serializer", _json)
    if make_url(url).get_backend_name() == "sqlite":
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_timeout", 10)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


# Python's lower() maps İ to two characters (i and a combining dot), where PostgreSQL's
# gives "i"; it also writes a word-final sigma as ς, where PostgreSQL keeps σ.
_BEFORE_LOWER = str.maketrans({"\u0130": "i"})
# The apostrophes a title, a name or a statement may be typed with, all read as "'"; and ς
# as σ, so that "ΟΔΟΣ" finds "οδος" whichever way its last letter was lower-cased.
_AFTER_LOWER = str.maketrans({"\u2018": "'", "\u2019": "'", "\u03c2": "\u03c3"})
# translate()'s arguments after lower() in SQL, as `_AFTER_LOWER`: ‘ ’ ς become ' ' σ
# (a ' is written '' inside an SQL literal).
_FOLD_TRANSLATE = "'\u2018\u2019\u03c2', '" + "''" * 2 + "\u03c3'"


def fold(value: str) -> str:
    """`value` as the case-insensitive filters compare it: lower case (every script, one
    letter for one, as PostgreSQL's lower() does), with ‘ and ’ read as ' and ς as σ."""
    if value.isascii():
        return value.lower()
    return value.translate(_BEFORE_LOWER).lower().translate(_AFTER_LOWER)


def driver_rows(session: Session, sql: str, params: dict[str, Any]) -> list[Any]:
    """SQLite: run `sql` straight on the driver, in the session's transaction. For search's
    hot path: the SQL already uses sqlite3's own :name parameters, and SQLAlchemy's layers
    would double the time a selective search takes."""
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        return cursor.execute(sql, params).fetchall()
    finally:
        cursor.close()


def driver_executemany(session: Session, sql: str, rows: list[Any]) -> None:
    """SQLite: `executemany` straight on the driver, in the session's transaction. For bulk
    writes of many small rows (the passage index's chunks and buckets), where SQLAlchemy's
    handling of each row's parameters costs more than SQLite's work."""
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def folded_sql(expression: str, dialect: str) -> str:
    """SQL for `fold(expression)` in this dialect: `archive_fold()` on SQLite, which is
    Python's `fold` (registered on every connection, below), and `lower()` with
    `translate()` elsewhere."""
    if dialect == "sqlite":
        return f"archive_fold({expression})"
    return f"translate(lower({expression}), {_FOLD_TRANSLATE})"


def _sqlite_fold(value: object) -> object:
    return fold(value) if isinstance(value, str) else value


class folded(FunctionElement):  # noqa: N801 - used like func.lower
    """`fold(column)` in a SQLAlchemy expression (see `folded_sql`)."""

    type = Text()
    name = "folded"
    inherit_cache = True


@compiles(folded)
def _folded(element: folded, compiler, **kw) -> str:  # noqa: ANN001
    return folded_sql(compiler.process(element.clauses, **kw), compiler.dialect.name)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see module doc)
        dbapi_connection.create_function("archive_fold", 1, _sqlite_fold, deterministic=True)
        dbapi_connection.set_progress_handler(_past_deadline, PROGRESS_STEPS)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Read the file through a memory map rather than a read() per page: a tenth less CPU
        # per full-text search over 10,000 documents (tests/bench/bench_search.py).
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine (and so one connection pool) per database URL and process."""
    return make_engine(url)


def writer(engine: Engine) -> Engine:
    """The same engine, but transactions take SQLite's write lock at BEGIN."""
    return engine.execution_options(sqlite_immediate=True) if is_sqlite(engine) else engine


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(writer(engine) if write else engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# Objects the migrations create by hand (full-text indexes and their shadow tables, the
# passage index of archive.lookup.index) that have no model; autogenerate must leave them
# alone.
UNMODELLED_PREFIXES = ("search_", "sqlite_", "passage_")


def refresh_statistics(engine: Engine) -> None:
    """After a bulk load: on PostgreSQL, ANALYZE, so that the planner knows the new rows at
    once rather than when autovacuum gets to them (it would plan the first searches and
    lookups for nearly empty tables); on SQLite, fold the write-ahead log into the database
    file (`checkpoint`). SQLite's planner needs no statistics: its joins that matter are
    ordered in the SQL (CROSS JOIN)."""
    if is_sqlite(engine):
        checkpoint(engine, truncate=True)
        return
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()


def checkpoint(engine: Engine, *, truncate: bool = False) -> None:
    """SQLite: copy the pages in the write-ahead log back into the database file.

    A bulk load leaves its pages in the log; a process that opens the file next rebuilds
    the log's index and then reads those pages from the log, with a lookup and a read() per
    page instead of the memory map, until something checkpoints: searches took about 6%
    longer on 10,000 documents. `truncate` also empties the log file, waiting (up to the
    busy timeout) for readers of older snapshots; otherwise it copies what it can at once
    and never waits. Nothing to do on PostgreSQL."""
    if not is_sqlite(engine):
        return
    mode = "TRUNCATE" if truncate else "PASSIVE"
    with engine.connect() as connection:
        connection.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    """Alembic's filter: compare only what the models describe."""
    if type_ == "table" and name and name.startswith(UNMODELLED_PREFIXES):
        return False
    return not (type_ == "index" and name and name.startswith("ix_search_"))


def migrations_path() -> Path:
    """The Alembic scripts: `alembic/` in a checkout, `archive/migrations` when installed."""
    here = Path(__file__).resolve().parent
    source = here.parent / "alembic"
    if (source / "env.py").exists():
        return source
    return here / "migrations"


def alembic_config(engine: Engine):  # noqa: ANN201 - alembic.config.Config
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (Alembic upgrade) on this engine's database."""
    from alembic import command

    config = alembic_config(engine)
    with writer(engine).begin() as connection:  # concurrent starts migrate one at a time
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
