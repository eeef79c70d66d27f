"""`Idempotency-Key` on POST: a retry returns the first result instead of a duplicate.

The concurrent case (16 simultaneous retries against a real server) is in
tests/archive/test_concurrency.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlmodel import Session

from archive import keys
from archive.models import Document, IdempotencyRecord, utcnow
from tests.api.openapi_walk import body_example, operations, resolve

PROBLEM = "application/problem+json"
DOC = {"title": "Notes on the Twentieth Congress", "text": "Khrushchev spoke for four hours."}


def _documents(session: Session) -> list[str]:
    session.expire_all()
    return list(session.execute(select(Document.id).order_by(Document.id)).scalars())


def test_a_retried_create_returns_the_first_result(writer: TestClient, session: Session) -> None:
    before = _documents(session)
    first = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "retry-1"})
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "retry-1"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    for header in ("location", "etag", "content-type"):
        assert again.headers[header] == first.headers[header]
    assert _documents(session) == sorted([*before, first.json()["id"]])

    without = writer.post("/v1/documents", json=DOC)
    assert without.status_code == 201 and without.json()["id"] != first.json()["id"]


def test_the_replay_is_the_first_response_even_after_a_change(writer: TestClient) -> None:
    first = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "k-change"})
    url = first.headers["location"]
    assert writer.patch(url, json={"title": "Renamed"}).status_code == 200
    again = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "k-change"})
    assert again.json()["title"] == DOC["title"]


def test_a_retry_that_spells_the_same_json_differently_is_the_same_request(
    writer: TestClient, session: Session
) -> None:
    compact = '{"title":"Notes on the Twentieth Congress","text":"Khrushchev spoke."}'
    spaced = '{ "text": "Khrushchev spoke.",\n  "title": "Notes on the Twentieth Congress" }'
    headers = {"Idempotency-Key": "respaced", "Content-Type": "application/json"}
    first = writer.post("/v1/documents", content=compact, headers=headers)
    assert first.status_code == 201
    before = _documents(session)
    again = writer.post("/v1/documents", content=spaced, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content and _documents(session) == before


def test_the_same_key_with_another_body_is_refused(writer: TestClient, session: Session) -> None:
    writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "reused"})
    before = _documents(session)
    other = writer.post(
        "/v1/documents", json={**DOC, "title": "Another"}, headers={"Idempotency-Key": "reused"}
    )
    assert other.status_code == 422
    assert other.headers["content-type"] == PROBLEM
    assert "Idempotency-Key" in other.json()["detail"] and "reused" in other.json()["detail"]
    assert _documents(session) == before
    elsewhere = writer.post("/v1/claims", json=DOC, headers={"Idempotency-Key": "reused"})
    assert elsewhere.status_code == 422 and "different request" in elsewhere.json()["detail"]


def test_keys_are_scoped_per_api_key(
    writer: TestClient,
    session: Session,
    connection,  # noqa: ANN001
) -> None:
    with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
        _, other_secret = keys.create_key(s, "second-teacher", "write")
        s.commit()
    mine = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "shared"})
    theirs = writer.post(
        "/v1/documents",
        json=DOC,
        headers={"Idempotency-Key": "shared", "Authorization": f"Bearer {other_secret}"},
    )
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["id"] in _documents(session)


def test_a_failed_request_is_not_remembered(writer: TestClient, session: Session) -> None:
    """A failure changes nothing, so the same key may be used again, with a fixed body."""
    taken = writer.post(
        "/v1/documents", json={**DOC, "id": "fear-backstage"}, headers={"Idempotency-Key": "f"}
    )
    assert taken.status_code == 409
    invalid = writer.post("/v1/documents", json={"title": ""}, headers={"Idempotency-Key": "f"})
    assert invalid.status_code == 422
    session.expire_all()
    assert session.execute(select(IdempotencyRecord)).first() is None
    fixed = writer.post(
        "/v1/documents", json={**DOC, "id": "congress-notes"}, headers={"Idempotency-Key": "f"}
    )
    assert fixed.status_code == 201 and fixed.json()["id"] == "congress-notes"


def test_the_record_commits_with_the_create(writer: TestClient, session: Session) -> None:
    created = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "atomic"})
    session.expire_all()
    record = session.execute(select(IdempotencyRecord)).scalar_one()
    assert (record.principal, record.key, record.status_code) == ("teacher", "atomic", 201)
    assert record.path == "/v1/documents"
    assert created.json()["id"] in record.body


def test_an_expired_key_runs_again(writer: TestClient, session: Session) -> None:
    first = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "old"})
    session.execute(update(IdempotencyRecord).values(created_at=utcnow() - timedelta(days=2)))
    session.flush()
    again = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "old"})
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("value", ["", "x" * 256, "with space", "naïve"])
def test_a_malformed_key_is_a_422(writer: TestClient, value: str) -> None:
    response = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": value.encode()})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


def test_a_quoted_key_is_the_same_key(writer: TestClient) -> None:
    """RFC 8941 string form, as the IETF draft writes it."""
    first = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": '"abc-123"'})
    again = writer.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "abc-123"})
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content


def test_without_a_key_the_route_decides(client: TestClient) -> None:
    response = client.post("/v1/documents", json=DOC, headers={"Idempotency-Key": "anon"})
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "template"), operations("POST"))
def test_every_post_takes_part(
    method: str, template: str, writer: TestClient, admin_key: str
) -> None:
    """Every POST route takes part, including routes that know nothing about it: its
    documented example sent twice with one key gives the first result twice (a failure is
    not remembered: it runs again)."""
    path = resolve(writer, template)
    assert path, template
    kwargs, headers = body_example(method, template)
    headers = {**headers, "Authorization": f"Bearer {admin_key}", "Idempotency-Key": "every"}
    first = writer.request(method, path, headers=headers, **kwargs)
    again = writer.request(method, path, headers=headers, **kwargs)
    assert again.status_code == first.status_code
    if first.status_code < 300:
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
    else:
        assert "idempotent-replayed" not in again.headers
