"""HEAD is served wherever GET is; a 405 names, in `Allow`, every method its path takes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    "path",
    [
        "/v1/documents/fear-backstage",
        "/v1/documents?limit=2",
        "/v1/search?q=Stalin",
        "/v1/documents/no-such-document",
    ],
)
def test_head_answers_as_get_without_a_body(client: TestClient, path: str) -> None:
    got = client.get(path)
    head = client.head(path)
    assert head.status_code == got.status_code
    assert head.content == b""
    for name in ("etag", "content-type", "content-length", "link"):
        assert head.headers.get(name) == got.headers.get(name), name


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v1/documents/fear-backstage", "DELETE, GET, HEAD, PATCH"),
        ("PUT", "/v1/documents", "GET, HEAD, POST"),
        ("DELETE", "/v1/search", "GET, HEAD"),
    ],
)
def test_a_405_names_every_method_of_its_path(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.headers["content-type"] == "application/problem+json"
    assert method in response.json()["detail"]
