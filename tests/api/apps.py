"""Apps for tests: the real application, its sessions joined to the test's connection."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from sqlalchemy import Connection
from sqlmodel import Session

from api.app import create_app
from api.deps import get_session
from archive.settings import Settings


def app_on(connection: Connection, settings: Settings) -> FastAPI:
    """`create_app(settings)` whose every session is a savepoint in `connection`'s
    transaction, so that the test's rollback undoes whatever the requests wrote."""
    app = create_app(settings)

    def session() -> Iterator[Session]:
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as s:
            yield s

    app.dependency_overrides[get_session] = session
    return app
