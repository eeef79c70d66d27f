"""Limits: body size (413), page size (422), rate (429 with Retry-After)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.limits import OWN_LIMITS
from archive.lookup.run import MAX_MATCHES
from archive.settings import Settings
from tests.api.apps import app_on
from tests.api.openapi_walk import op, operations, required_query, resolve

PROBLEM = "application/problem+json"
MAX_BODY = 4096


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The suite's app, with a small body limit (overrides conftest's `settings`)."""
    return Settings(database_url=database_url, max_body_bytes=MAX_BODY)


def _problem(response, status: int) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


def test_a_body_over_the_limit_is_413(writer: TestClient) -> None:
    before = writer.get("/v1/documents").json()["total"]
    text = "Khrushchev " * (MAX_BODY // 10)
    body = _problem(writer.post("/v1/documents", json={"title": "Big", "text": text}), 413)
    assert str(MAX_BODY) in body["detail"]
    assert writer.get("/v1/documents").json()["total"] == before
    small = writer.post("/v1/documents", json={"title": "Small", "text": text[:1000]})
    assert small.status_code == 201


def test_a_chunked_body_over_the_limit_is_413(writer: TestClient) -> None:
    """No Content-Length: the bytes are counted as they arrive."""

    def chunks() -> Iterator[bytes]:
        yield b'{"title": "Streamed", "text": "'
        for _ in range(MAX_BODY // 512 + 2):
            yield b"x" * 512
        yield b'"}'

    response = writer.post(
        "/v1/documents", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    _problem(response, 413)
    _problem(writer.patch("/v1/documents/fear-backstage", content=chunks()), 413)


def test_an_import_over_the_limit_is_413_and_imports_nothing(
    client: TestClient, admin_key: str
) -> None:
    """The import reads its NDJSON body whole; streamed past the limit, it is refused before
    a line is imported."""

    def lines() -> Iterator[bytes]:
        for n in range(MAX_BODY // 64 + 2):
            yield b'{"title": "Line %05d", "text": "padding padding padding padding padding"}\n' % n

    before = client.get("/v1/documents").json()["total"]
    response = client.post(
        "/v1/import",
        content=lines(),
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/x-ndjson"},
    )
    assert str(MAX_BODY) in _problem(response, 413)["detail"]
    assert client.get("/v1/documents").json()["total"] == before


def test_a_chunked_body_under_the_limit_is_read(writer: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "Streamed", '
        yield b'"text": "a short text"}'

    response = writer.post(
        "/v1/documents", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


LISTS = [
    path
    for _, path in operations("GET")
    if any(p["name"] == "limit" and p["in"] == "query" for p in op("GET", path)["parameters"])
    and path not in OWN_LIMITS
]


def test_only_the_quote_lookup_is_not_a_list() -> None:
    """Every GET with a `limit` is a paged list, bar the lookup, which answers every match."""
    assert LISTS
    assert OWN_LIMITS == ("/v1/quotes",)
    [limit] = [p for p in op("GET", "/v1/quotes")["parameters"] if p["name"] == "limit"]
    assert limit["schema"]["maximum"] == MAX_MATCHES


@pytest.mark.parametrize("template", LISTS)
def test_every_list_refuses_a_limit_over_100(client: TestClient, template: str) -> None:
    path = resolve(client, template)
    assert path
    query = required_query("GET", template)
    body = _problem(client.get(path, params={**query, "limit": 101}), 422)
    assert "limit" in body["detail"]
    assert client.get(path, params={**query, "limit": 100}).status_code == 200


def _app(database_url: str, connection, **limits: int):  # noqa: ANN001, ANN202
    """An app with these limits, on the test's connection (like conftest's `app`)."""
    return app_on(connection, Settings(database_url=database_url, **limits))


def test_rate_limit_per_client_address(database_url: str, connection) -> None:  # noqa: ANN001
    app = _app(database_url, connection, rate_limit_per_address=5, rate_limit_per_key=0)
    school = TestClient(app, client=("203.0.113.7", 5000))
    home = TestClient(app, client=("198.51.100.2", 5000))
    assert [school.get("/v1/documents").status_code for _ in range(5)] == [200] * 5
    refused = school.get("/v1/documents/fear-backstage")
    body = _problem(refused, 429)
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 60
    assert "203.0.113.7" in body["detail"] and f"retry in {retry} s" in body["detail"]
    assert home.get("/v1/documents").status_code == 200, "another address has its own budget"
    assert school.get("/v1/health").status_code == 200, "health checks are never limited"


def test_rate_limit_per_key(database_url: str, connection, write_key: str) -> None:  # noqa: ANN001
    app = _app(database_url, connection, rate_limit_per_address=1000, rate_limit_per_key=3)
    client = TestClient(app)
    keyed = {"Authorization": f"Bearer {write_key}"}
    assert [client.get("/v1/documents", headers=keyed).status_code for _ in range(3)] == [200] * 3
    refused = client.post("/v1/documents", json={"title": "t", "text": "t"}, headers=keyed)
    assert "this API key" in _problem(refused, 429)["detail"]
    assert "retry-after" in refused.headers
    assert client.get("/v1/documents").status_code == 200, "the address still has budget"


def test_the_window_resets(database_url: str, connection) -> None:  # noqa: ANN001
    app = _app(database_url, connection, rate_limit_per_address=2, rate_limit_window_seconds=1)
    client = TestClient(app)
    while True:  # start at the beginning of a window, so that two requests fit in it
        if time.time() % 1 < 0.5:
            break
        time.sleep(0.05)
    assert client.get("/v1/documents").status_code == 200
    assert client.get("/v1/documents").status_code == 200
    refused = client.get("/v1/documents")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    time.sleep(1.0)
    assert client.get("/v1/documents").status_code == 200


def test_rate_limiting_defaults() -> None:
    """Off for the embedded SQLite mode, on for PostgreSQL; 0 turns it off."""
    assert Settings(database_url="sqlite:///a.db").rate_limits() == (0, 0)
    assert Settings(database_url="postgresql://u@h/db").rate_limits() == (1200, 1200)
    explicit = Settings(database_url="postgresql://u@h/db", rate_limit_per_address=0)
    assert explicit.rate_limits() == (0, 1200)
    assert Settings(database_url="sqlite:///a.db", rate_limit_per_key=7).rate_limits() == (0, 7)
