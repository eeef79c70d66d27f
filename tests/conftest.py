"""Test fixtures: the real migrations on a real database, the real HTTP stack.

The suite runs on SQLite by default (a fresh file per run). Set
`ARCHIVE_TEST_DATABASE_URL=postgresql://user@host/db` to run the same tests on PostgreSQL:
that database is emptied (schema `public` dropped) at the start, so give it a scratch one.

Each test runs inside a transaction that is rolled back afterwards (the session the app uses
joins it through savepoints), so tests see the migrated, corpus-loaded archive and cannot
disturb each other. Tests that need real commits (CLI, concurrency) use `fresh_database`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from archive import bundled, keys
from archive.db import make_engine, normalize_url
from archive.settings import Settings
from tests.api.apps import app_on

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARCHIVE_SHARED_DIR", ROOT.parent / "shared"))


def _test_url(tmp_dir: Path) -> str:
    url = os.environ.get("ARCHIVE_TEST_DATABASE_URL")
    return normalize_url(url) if url else f"sqlite:///{tmp_dir / 'archive-test.db'}"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = _test_url(tmp_path_factory.mktemp("db"))
    if make_url(url).get_backend_name() == "postgresql":
        _reset_postgres(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The migrated test database, holding the bundled corpus."""
    engine = make_engine(database_url)
    bundled.initialize(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def dialect(engine: Engine) -> str:
    return engine.dialect.name


@pytest.fixture
def connection(engine: Engine) -> Iterator:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session(connection) -> Iterator[Session]:  # noqa: ANN001
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        yield session


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def app(settings: Settings, connection):  # noqa: ANN001, ANN201
    return app_on(connection, settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _key(connection, name: str, scope: str) -> str:  # noqa: ANN001
    with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
        _, secret = keys.create_key(s, name, scope)
        s.commit()
    return secret


@pytest.fixture
def write_key(connection) -> str:  # noqa: ANN001
    return _key(connection, "teacher", "write")


@pytest.fixture
def admin_key(connection) -> str:  # noqa: ANN001
    return _key(connection, "archivist", "admin")


@pytest.fixture
def writer(client: TestClient, write_key: str) -> TestClient:
    client.headers["Authorization"] = f"Bearer {write_key}"
    return client


@pytest.fixture
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as the suite's, committed to for real."""
    if make_url(database_url).get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"archive_fresh_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from archive.db import engine_for

        engine_for.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def seeds() -> dict[str, str]:
    """The bundled documents' texts by id, read from the package data."""
    return {d["id"]: d["text"] for d in bundled.documents()}


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert SHARED.is_dir(), f"the shared folder is expected at {SHARED} (ARCHIVE_SHARED_DIR)"
    return SHARED
