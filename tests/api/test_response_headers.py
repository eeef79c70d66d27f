"""Headers for browsers and caches, on every route (walked from the OpenAPI document), and
a source URL that could never run as script."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from archive.settings import Settings
from tests.api.apps import app_on
from tests.api.openapi_walk import operations, required_query, resolve

GETS = [p for _, p in operations("GET")]


@pytest.mark.parametrize("template", GETS)
def test_every_read_says_nosniff_and_varies_by_key(
    client: TestClient, write_key: str, template: str
) -> None:
    path = resolve(client, template)
    assert path, template
    query = required_query("GET", template)
    anonymous = client.get(path, params=query)
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.headers["x-content-type-options"] == "nosniff"
    assert "Authorization" in anonymous.headers["vary"]
    assert "private" not in anonymous.headers.get("cache-control", "")
    keyed = client.get(path, params=query, headers={"Authorization": f"Bearer {write_key}"})
    assert keyed.status_code == 200
    assert keyed.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in keyed.headers["vary"]
    assert keyed.headers["x-content-type-options"] == "nosniff"


def test_errors_and_writes_say_nosniff_too(writer: TestClient) -> None:
    for response in (
        writer.get("/v1/documents/no-such-document"),
        writer.get("/v1/claims?statu=x"),
        writer.post("/v1/documents", json={"title": ""}),
        writer.get("/openapi.json"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.request.url
    bad_key = writer.get("/v1/documents", headers={"Authorization": "Bearer nope"})
    assert bad_key.status_code == 401
    assert "Authorization" in bad_key.headers["vary"]


def test_private_reads_are_private_even_unkeyed(
    database_url: str, connection, write_key: str
) -> None:
    app = app_on(connection, Settings(database_url=database_url, public_reads=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        refused = client.get("/v1/documents")
        assert refused.status_code == 401
        assert refused.headers["cache-control"] == "private, no-cache"
        assert "Authorization" in refused.headers["vary"]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "https://",
        "https:// example.org",
        "//example.org/x",
    ],
)
def test_a_source_url_must_be_http_doi_or_urn(writer: TestClient, admin_key: str, url: str) -> None:
    doc = {"title": "Sourced", "text": "Words.", "source_url": url}
    created = writer.post("/v1/documents", json=doc)
    assert created.status_code == 422, created.text
    assert "source_url" in created.json()["detail"]
    patched = writer.patch("/v1/documents/fear-backstage", json={"source_url": url})
    assert patched.status_code == 422, patched.text
    assert writer.get("/v1/documents/fear-backstage").json()["source_url"] is None
    line = '{"type": "document", "id": "sourced", "title": "S", "text": "W.", "source_url": '
    imported = writer.post(
        "/v1/import",
        content=line + f'"{url}"' + "}\n",
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/x-ndjson"},
    )
    assert imported.status_code == 422, imported.text
    assert "source_url" in imported.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.orlandofiges.info/x.php?a=1#b",
        "HTTP://example.org",
        "doi:10.1093/ahr/x",
        "urn:isbn:0451526538",
    ],
)
def test_web_doi_and_urn_sources_are_accepted(writer: TestClient, url: str) -> None:
    created = writer.post(
        "/v1/documents", json={"title": "Sourced", "text": "W.", "source_url": url}
    )
    assert created.status_code == 201, created.text
    assert created.json()["source_url"] == url
