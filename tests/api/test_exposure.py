"""What a client can learn or plant without a key: the document count only to a key when
reads need one, and never a Host header of its choosing in ids or links."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from archive.settings import Settings
from tests.api.apps import app_on

EVIL = "evil.example"


def test_with_private_reads_health_answers_but_counts_only_for_a_key(
    database_url: str, connection, write_key: str
) -> None:
    app = app_on(connection, Settings(database_url=database_url, public_reads=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        anonymous = client.get("/v1/health")
        assert anonymous.status_code == 200
        assert anonymous.json() == {"status": "ok", "database": anonymous.json()["database"]}
        keyed = client.get("/v1/health", headers={"Authorization": f"Bearer {write_key}"})
        assert keyed.json()["documents"] >= 5
        wrong = client.get("/v1/health", headers={"Authorization": "Bearer ak_wrong"})
        assert "documents" not in wrong.json()
        # what stays open without a key, as the README says: health, the docs and the schema
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 200, path
        assert client.get("/v1/documents").status_code == 401


def test_public_reads_count_for_anyone(client: TestClient) -> None:
    assert client.get("/v1/health").json()["documents"] >= 5


def test_the_host_header_is_never_published(client: TestClient) -> None:
    headers = {"Host": EVIL, "Accept": "application/ld+json"}
    span = client.get("/v1/spans/fear-mikoyan-went-to-khrushchev", headers=headers)
    assert span.status_code == 200
    prov = client.get(
        "/v1/claims/speech-date-25-february/provenance?format=jsonld", headers=headers
    )
    assert prov.status_code == 200
    page = client.get("/v1/documents?limit=1", headers={"Host": EVIL})
    assert 'rel="next"' in page.headers["link"]
    for response in (span, prov, page):
        assert EVIL not in response.text and EVIL not in response.headers.get("link", "")
    assert "http://testserver/" in span.text  # the listening address


def test_the_configured_base_url_is_used(database_url: str, connection) -> None:  # noqa: ANN001
    settings = Settings(database_url=database_url, base_url="https://archive.school.example/")
    with TestClient(app_on(connection, settings)) as client:
        span = client.get(
            "/v1/spans/fear-mikoyan-went-to-khrushchev",
            headers={"Host": EVIL, "Accept": "application/ld+json"},
        )
        assert "https://archive.school.example/v1/" in span.text and EVIL not in span.text
        page = client.get("/v1/documents?limit=1", headers={"Host": EVIL})
        assert page.headers["link"].startswith("<https://archive.school.example/v1/documents?")


@pytest.mark.parametrize("base_url", [None, "https://archive.school.example"])
def test_an_unset_base_url_is_warned_about_at_start(
    database_url: str, base_url: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="archive")
    create_app(Settings(database_url=database_url, base_url=base_url))
    warned = "ARCHIVE_BASE_URL is not set" in caplog.text
    assert warned == (base_url is None)
