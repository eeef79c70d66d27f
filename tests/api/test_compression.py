"""Large answers are sent gzip-compressed to clients that accept it, and only to them."""

from __future__ import annotations

import gzip

import httpx
import pytest
from fastapi.testclient import TestClient

LARGE = [
    "/v1/export",
    "/v1/claims/speech-date-25-february/provenance",
    "/v1/claims/speech-date-25-february/provenance?format=jsonld",
    "/v1/documents/fear-backstage/text",
    "/v1/documents",
]


def _raw(client: TestClient, url: str, encoding: str | None) -> httpx.Response:
    """The answer as sent, not decoded by the client."""
    headers = {"Accept-Encoding": encoding} if encoding else {"Accept-Encoding": "identity"}
    with client.stream("GET", url, headers=headers) as response:
        response.raw = b"".join(response.iter_raw())  # type: ignore[attr-defined]
    return response


@pytest.mark.parametrize("url", LARGE)
def test_large_answers_are_gzipped_when_accepted(client: TestClient, url: str) -> None:
    plain = _raw(client, url, None)
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    packed = _raw(client, url, "gzip, deflate, br")
    assert packed.status_code == 200
    assert packed.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["vary"]
    assert gzip.decompress(packed.raw) == plain.raw  # type: ignore[attr-defined]
    assert len(packed.raw) < len(plain.raw) / 2  # type: ignore[attr-defined]
    if url != "/v1/export":  # the same representation: one ETag, and 304 for it
        assert packed.headers["etag"] == plain.headers["etag"]
        again = client.get(
            url, headers={"Accept-Encoding": "gzip", "If-None-Match": plain.headers["etag"]}
        )
        assert again.status_code == 304


def test_small_answers_are_sent_as_they_are(client: TestClient) -> None:
    small = _raw(client, "/v1/health", "gzip")
    assert small.status_code == 200 and "content-encoding" not in small.headers
