"""Database faults as the client sees them: only an outage is a 503 to retry.

A statement stopped by its time budget is a 504 without `Retry-After` (retrying it as it
is would fail again); a statement with more parameters than the database takes is a 400;
neither is logged with its SQL text or parameters. (Outages themselves, a 503 with
`Retry-After`, are tested against a real stopped database in tests/archive/test_faults.py.)
"""

from __future__ import annotations

import logging
import sqlite3

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, bindparam, text

from api.deps import SessionDep

PROBLEM = "application/problem+json"
SECRET_WORD = "Pospelov-secret-parameter"


def _archive_log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("archive"))


def _no_sql_in(log: str) -> None:
    assert log
    assert "SELECT" not in log.upper().replace("SELECTOR", ""), log
    assert SECRET_WORD not in log, log


def test_a_statement_over_its_time_budget_is_a_504_without_retry_after(
    client: TestClient, connection, engine: Engine, dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    if dialect == "sqlite":
        # SQLite's way of stopping a statement: a progress handler that says stop
        raw = connection.connection.driver_connection
        raw.set_progress_handler(lambda: 1, 1)
        try:
            response = client.get("/v1/documents", params={"creator": SECRET_WORD})
        finally:
            raw.set_progress_handler(None, 1)
    else:
        # Another connection holds the table; the request waits until its timeout stops it
        connection.exec_driver_sql("SET LOCAL statement_timeout = '300ms'")
        with engine.connect() as other:
            other.exec_driver_sql("LOCK TABLE documents IN ACCESS EXCLUSIVE MODE")
            try:
                response = client.get("/v1/documents", params={"creator": SECRET_WORD})
            finally:
                other.rollback()
    assert response.status_code == 504, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "retry-after" not in response.headers
    assert "time budget" in response.json()["detail"]
    assert "unavailable" not in response.json()["detail"]
    assert "time budget" in _archive_log(caplog)
    _no_sql_in(_archive_log(caplog))


def _probe_app(app: FastAPI) -> FastAPI:
    """The app with one more route, which sends a statement with as many parameters as the
    query string asks for: no route takes an unbounded list today, but one could."""

    @app.get("/v1/probe-many-parameters")
    def probe(session: SessionDep, n: int) -> dict:
        values = [SECRET_WORD] * n
        statement = text("SELECT count(*) FROM documents WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        return {"count": session.execute(statement, {"ids": values}).scalar_one()}

    return app


def test_a_statement_with_too_many_parameters_is_a_400_not_a_503(
    app: FastAPI, connection, dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    if dialect == "sqlite":
        most = connection.connection.driver_connection.getlimit(
            sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
        )
    else:
        most = 65_535  # the protocol's limit
    with TestClient(_probe_app(app), raise_server_exceptions=False) as client:
        assert client.get("/v1/probe-many-parameters", params={"n": 3}).json() == {"count": 0}
        response = client.get("/v1/probe-many-parameters", params={"n": most + 1})
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == PROBLEM
        assert "retry-after" not in response.headers
        assert "fewer" in response.json()["detail"]
        # the database is not broken by it: the next request is answered
        assert client.get("/v1/documents").status_code == 200
    _no_sql_in(_archive_log(caplog))
