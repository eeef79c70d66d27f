"""A POST that committed but whose response was lost (the worker crashed before storing it)
is answered on retry from what it committed, not with a 409 for ever."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from api.app import create_app
from archive import bundled, idempotency, keys
from archive.db import engine_for, session_scope
from archive.settings import Settings


@pytest.fixture
def committed(fresh_database: str):  # noqa: ANN201
    """The real app on a database of its own (its writes commit), and a write key."""
    engine = engine_for(fresh_database)
    bundled.initialize(engine)
    with session_scope(engine, write=True) as session:
        _, secret = keys.create_key(session, "retrier", "write")
    app = create_app(Settings(database_url=fresh_database))
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        yield client
    app.state.engine.dispose()


@pytest.mark.parametrize(
    ("path", "body", "prefix"),
    [
        (
            "/v1/documents",
            {"title": "Lost answer", "text": "Committed, never answered."},
            "/v1/documents/",
        ),
        ("/v1/claims", {"statement": "A claim whose answer was lost."}, "/v1/claims/"),
    ],
)
def test_a_retry_after_a_lost_response_is_answered_from_the_committed_record(
    committed: TestClient, monkeypatch: pytest.MonkeyPatch, path: str, body: dict, prefix: str
) -> None:
    headers = {"Idempotency-Key": "6d0c3f6e-1b1e-4c5e-9a55-0c7f2b1d9e18"}
    real = idempotency.complete

    def crash(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OperationalError("UPDATE idempotency_records", {}, Exception("server closed"))

    monkeypatch.setattr(idempotency, "complete", crash)
    first = committed.post(path, json=body, headers=headers)
    assert first.status_code == 201, first.text  # sent, but (say) lost on the way
    monkeypatch.setattr(idempotency, "complete", real)
    before = committed.get(path.replace("/v1/", "/v1/") + "?limit=100").json()["total"]

    retry = committed.post(path, json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["location"].startswith("http://testserver" + prefix)
    assert retry.json()["id"] == first.json()["id"]
    assert committed.get(path + "?limit=100").json()["total"] == before  # nothing new
    # another body with the same key is still refused
    other = committed.post(path, json={**body, "extra_note": 1}, headers=headers)
    assert other.status_code == 422
