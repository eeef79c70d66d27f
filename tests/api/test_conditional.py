"""Conditional requests on every route, walked from the OpenAPI document (like
test_error_shape), so that a route added later is checked as soon as it exists:

- every GET of a resource or a list carries an ETag, and If-None-Match gives 304;
- every PATCH, PUT and DELETE with a stale If-Match is a 412 and changes nothing, and with
  the current ETag it is not refused for it.

Paths are filled with real ids of the bundled corpus, taken from the matching list endpoint
(or, failing that, from the parent resource or the parameter's documented example).
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.preconditions import ETagMiddleware
from archive import changes, transfer
from tests.api.openapi_walk import (
    body_example,
    has_get_at,
    operations,
    required_query,
    resolve,
)

PROBLEM = "application/problem+json"
STALE = '"0000000000000000000000000000dead"'
# GET routes that are not resources: liveness, and the export (a stream, not a resource).
NOT_RESOURCES = {"/v1/health", "/v1/export"}
GETS = [p for _, p in operations("GET") if p not in NOT_RESOURCES]
WRITES = operations("PATCH", "PUT", "DELETE")


def _snapshot(session: Session) -> tuple[list[str], int]:
    """The whole archive as exported, and the change feed's latest sequence number (read on
    the test's own connection, so it sees what the requests did)."""
    session.expire_all()
    return list(transfer.export_lines(session)), changes.latest(session)


@pytest.mark.parametrize("template", GETS)
def test_every_get_has_an_etag_and_honours_if_none_match(client: TestClient, template: str) -> None:
    path = resolve(client, template)
    assert path, f"no real id from the corpus makes GET {template} answer 200"
    query = required_query("GET", template)
    first = client.get(path, params=query)
    assert first.status_code == 200, (path, first.text)
    etag = first.headers.get("etag")
    assert etag and etag.startswith('"'), f"GET {path} has no ETag"
    again = client.get(path, params=query, headers={"If-None-Match": etag})
    assert again.status_code == 304, (path, again.status_code)
    assert again.content == b"" and again.headers["etag"] == etag
    weak = client.get(path, params=query, headers={"If-None-Match": f"{STALE}, W/{etag}"})
    assert weak.status_code == 304
    other = client.get(path, params=query, headers={"If-None-Match": STALE})
    assert other.status_code == 200 and other.headers["etag"] == etag
    assert other.content == first.content


@pytest.mark.parametrize(("method", "template"), WRITES)
def test_every_write_with_a_stale_if_match_is_412_and_changes_nothing(
    writer: TestClient, session: Session, method: str, template: str
) -> None:
    path = resolve(writer, template)
    assert path, f"no real id from the corpus resolves {template}"
    kwargs, headers = body_example(method, template)
    before = _snapshot(session)
    refused = writer.request(method, path, headers={"If-Match": STALE, **headers}, **kwargs)
    assert refused.status_code == 412, (method, path, refused.text)
    assert refused.headers["content-type"] == PROBLEM
    assert "ETag" in refused.json()["detail"]
    assert _snapshot(session) == before, f"{method} {path} with a stale If-Match changed data"

    weak = writer.request(method, path, headers={"If-Match": "W/" + STALE, **headers}, **kwargs)
    assert weak.status_code == 412


@pytest.mark.parametrize(("method", "template"), WRITES)
def test_every_write_with_the_current_etag_goes_ahead(
    writer: TestClient, method: str, template: str
) -> None:
    """The ETag a client got from GET is the one the write compares with (a route's own
    check and the app-wide one must agree), and If-Match: * names any current version."""
    path = resolve(writer, template)
    assert path
    guard = path
    while not has_get_at(guard):
        guard = guard.rpartition("/")[0]
    etag = writer.get(guard).headers["etag"]
    kwargs, headers = body_example(method, template)
    star = writer.request(method, path, headers={"If-Match": "*", **headers}, **kwargs)
    assert star.status_code != 412, (method, path, star.text)
    if star.status_code < 300:
        etag = writer.get(guard).headers.get("etag", etag) if method != "DELETE" else etag
        if method == "DELETE":
            return  # gone; the current-ETag case is the same code path as '*'
    current = writer.request(
        method, path, headers={"If-Match": f"{STALE}, {etag}", **headers}, **kwargs
    )
    assert current.status_code != 412, (method, path, current.text)


def test_a_lost_update_is_refused(writer: TestClient) -> None:
    """Two editors read the same version; the second to write is told it changed."""
    url = "/v1/documents/fear-backstage"
    etag = writer.get(url).headers["etag"]
    first = writer.patch(url, json={"description": "first"}, headers={"If-Match": etag})
    assert first.status_code == 200 and first.headers["etag"] != etag
    second = writer.patch(url, json={"description": "second"}, headers={"If-Match": etag})
    assert second.status_code == 412
    assert first.headers["etag"] in second.json()["detail"]
    assert writer.get(url).json()["description"] == "first"


def test_a_new_text_takes_the_etag_of_the_document_or_of_its_text(writer: TestClient) -> None:
    """Either says "nothing changed since I read it"; once the text changed, neither does."""
    url = "/v1/documents/fear-backstage"
    text = writer.get(f"{url}/text")
    document_etag, text_etag = writer.get(url).headers["etag"], text.headers["etag"]
    plain = {"Content-Type": "text/plain; charset=utf-8"}
    first = writer.put(
        f"{url}/text",
        content=text.text + "\nA.",
        headers={"If-Match": text_etag, **plain},
    )
    assert first.status_code == 200, first.text
    for stale in (text_etag, document_etag):
        refused = writer.put(f"{url}/text", content=text.text, headers={"If-Match": stale, **plain})
        assert refused.status_code == 412, refused.text
    assert writer.get(f"{url}/text").text == text.text + "\nA."
    current = writer.get(url).headers["etag"]
    restored = writer.put(f"{url}/text", content=text.text, headers={"If-Match": current, **plain})
    assert restored.status_code == 200 and writer.get(f"{url}/text").text == text.text


def test_evidence_takes_only_its_own_etag(writer: TestClient) -> None:
    """The claim's ETag says nothing about one link's stance or note."""
    claim = "/v1/claims/speech-date-25-february"
    url = f"{claim}/evidence/speech-date-25-february--siegelbaum"
    claim_etag, own = writer.get(claim).headers["etag"], writer.get(url).headers["etag"]
    refused = writer.patch(url, json={"note": "checked"}, headers={"If-Match": claim_etag})
    assert refused.status_code == 412 and writer.get(url).json()["note"] != "checked"
    changed = writer.patch(url, json={"note": "checked"}, headers={"If-Match": own})
    assert changed.status_code == 200 and changed.json()["note"] == "checked"


def test_if_match_on_a_missing_resource_is_a_404(writer: TestClient) -> None:
    response = writer.patch(
        "/v1/documents/no-such-document", json={"title": "x"}, headers={"If-Match": STALE}
    )
    assert response.status_code == 404


def test_if_match_needs_a_key_first(client: TestClient) -> None:
    """Without a key the answer is 401, whatever the precondition says."""
    response = client.patch(
        "/v1/documents/fear-backstage", json={"title": "x"}, headers={"If-Match": STALE}
    )
    assert response.status_code == 401


def test_a_route_without_its_own_etag_gets_one() -> None:
    """A GET answered without an ETag (a route that does not use `respond`) gets one from
    the middleware, and 304 for If-None-Match; a streamed body is left alone."""
    app = FastAPI()

    @app.get("/v1/plain")
    def plain() -> PlainTextResponse:
        return PlainTextResponse("Khrushchev")

    app.add_middleware(ETagMiddleware)
    with TestClient(app) as client:
        first = client.get("/v1/plain")
        etag = first.headers["etag"]
        assert client.get("/v1/plain", headers={"If-None-Match": etag}).status_code == 304
        assert client.get("/v1/plain", headers={"If-None-Match": STALE}).text == "Khrushchev"


@pytest.mark.parametrize("header", ["3f2a9c0e5b7d41a68e0c", "W/3f2a", '"open', '"a", b', "**"])
@pytest.mark.parametrize(("method", "template"), WRITES)
def test_every_write_with_a_malformed_if_match_is_a_400_saying_so(
    writer: TestClient, session: Session, method: str, template: str, header: str
) -> None:
    """An unquoted ETag is not "the resource has changed": it is a malformed header."""
    path = resolve(writer, template)
    kwargs, headers = body_example(method, template)
    before = _snapshot(session)
    refused = writer.request(method, path, headers={"If-Match": header, **headers}, **kwargs)
    assert refused.status_code == 400, (method, path, refused.text)
    assert refused.headers["content-type"] == PROBLEM
    detail = refused.json()["detail"]
    assert detail.startswith("If-Match: malformed") and "double quotes" in detail
    assert "changed" not in detail
    assert _snapshot(session) == before
