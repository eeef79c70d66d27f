"""CORS as a browser sees it: the preflight before a PATCH with If-Match, and the answer."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from archive.settings import Settings

TEACHER = "https://teacher.example.org"
STRANGER = "https://elsewhere.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "PATCH",
    "Access-Control-Request-Headers": "authorization, content-type, if-match, idempotency-key",
}


def preflight(client: TestClient, origin: str):  # noqa: ANN201
    return client.options("/v1/documents/fear-backstage", headers={"Origin": origin, **PREFLIGHT})


def test_by_default_any_origin_may_call(client: TestClient) -> None:
    response = preflight(client, STRANGER)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "PATCH" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert {"authorization", "if-match", "idempotency-key"} <= set(allowed.split(", "))
    read = client.get("/v1/documents/fear-backstage", headers={"Origin": STRANGER})
    assert read.headers["access-control-allow-origin"] == "*"
    exposed = read.headers["access-control-expose-headers"].lower()
    assert {"etag", "location", "link", "retry-after"} <= set(exposed.split(", "))


class TestRestrictedOrigins:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(database_url=database_url, cors_origins=f"{TEACHER}, https://b.example")

    def test_an_allowed_origin_gets_the_headers(self, client: TestClient) -> None:
        response = preflight(client, TEACHER)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == TEACHER
        assert "Origin" in response.headers["vary"]
        read = client.get("/v1/documents", headers={"Origin": TEACHER})
        assert read.headers["access-control-allow-origin"] == TEACHER
        assert "etag" in read.headers["access-control-expose-headers"].lower()

    def test_another_origin_does_not(self, client: TestClient) -> None:
        response = preflight(client, STRANGER)
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert STRANGER in response.json()["detail"]
        assert "access-control-allow-origin" not in response.headers
        read = client.get("/v1/documents", headers={"Origin": STRANGER})
        assert read.status_code == 200  # not a browser: the server answers, the browser hides it
        assert "access-control-allow-origin" not in read.headers


def test_origins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVE_CORS_ORIGINS", f"{TEACHER},https://b.example")
    assert Settings().cors_origins == [TEACHER, "https://b.example"]
