"""No silent no-ops: a misspelled query parameter, an unknown document id in a filter, and
a cursor sent with another list are each refused, saying which."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.openapi_walk import example, op, operations

PROBLEM = "application/problem+json"


def _concrete(method: str, path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        for param in op(method, path).get("parameters", []):
            if param["in"] == "path" and param["name"] == name and example(param):
                return str(example(param))
        return "fear-backstage"

    return re.sub(r"\{([^}]+)\}", value, path)


def _refused(response, *names: str) -> str:  # noqa: ANN001
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    detail = response.json()["detail"]
    for name in names:
        assert repr(name) in detail, detail
    return detail


@pytest.mark.parametrize(("method", "path"), operations("GET", "POST", "PATCH", "PUT", "DELETE"))
def test_every_operation_refuses_a_query_parameter_it_does_not_take(
    writer: TestClient, method: str, path: str
) -> None:
    before = writer.get("/v1/changes", params={"since": 0, "limit": 1}).json()["latest"]
    response = writer.request(method, _concrete(method, path), params={"no_such_parameter": "1"})
    detail = _refused(response, "no_such_parameter")
    declared = {p["name"] for p in op(method, path).get("parameters", []) if p["in"] == "query"}
    for name in declared:  # the known ones are listed
        assert name in detail, (name, detail)
    assert writer.get("/v1/changes", params={"since": 0, "limit": 1}).json()["latest"] == before


def test_a_misspelled_filter_is_a_400_naming_it_and_the_known_ones(client: TestClient) -> None:
    detail = _refused(client.get("/v1/claims?statu=contested"), "statu")
    assert "status" in detail and "document" in detail
    detail = _refused(client.get("/v1/documents?creater=figes"), "creater")
    assert "creator" in detail
    _refused(client.get("/v1/documents?creater=figes&kindd=primary"), "creater", "kindd")
    # spelled right, they filter
    assert client.get("/v1/documents?creator=figes").json()["total"] == 1


def test_a_route_added_later_is_covered_as_it_is(app: FastAPI) -> None:
    @app.get("/v1/probe-added-later")
    def added(colour: str | None = None) -> dict:
        return {"colour": colour}

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/probe-added-later?colour=red").json() == {"colour": "red"}
        detail = _refused(client.get("/v1/probe-added-later?color=red"), "color")
        assert "colour" in detail


def test_docs_and_schema_are_not_checked(client: TestClient) -> None:
    assert client.get("/openapi.json?v=2").status_code == 200
    assert client.get("/docs?x=1").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/v1/claims?document=no-such-doc",
        "/v1/spans?document=no-such-doc",
        "/v1/citations?document=no-such-doc",
        "/v1/search?q=Stalin&document=no-such-doc",
        "/v1/quotes?text=God+knows&documents=fear-backstage,no-such-doc",
        "/v1/quotes?text=God+knows&documents=fear-backstage&documents=no-such-doc",
    ],
)
def test_an_unknown_document_in_a_filter_is_a_422_naming_it(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    detail = response.json()["detail"]
    assert "'no-such-doc'" in detail
    assert "fear-backstage" not in detail
    known = client.get(url.replace("no-such-doc", "secret-speech-brief"))
    assert known.status_code == 200, known.text


def test_an_unknown_document_in_a_lookup_body_is_a_422_naming_it(client: TestClient) -> None:
    body = {"text": "God knows what we are supposed to think"}
    response = client.post(
        "/v1/quotes/lookup", json={**body, "documents": ["secret-speech-brief", "nope-doc"]}
    )
    assert response.status_code == 422, response.text
    assert "'nope-doc'" in response.json()["detail"]
    found = client.post("/v1/quotes/lookup", json={**body, "documents": ["secret-speech-brief"]})
    assert found.status_code == 200 and found.json()["matches"]


def _pages(client: TestClient, url: str) -> list[str]:
    ids, response = [], client.get(url)
    while True:
        assert response.status_code == 200, response.text
        ids += [item["id"] for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return ids
        link = response.headers["link"]
        assert "cursor=" in link
        response = client.get(link[1 : link.index(">")])


def test_a_cursor_belongs_to_its_list(client: TestClient) -> None:
    first = client.get("/v1/spans?speaker=mikoyan&limit=1")
    cursor = first.json()["next_cursor"]
    assert cursor
    # the same list, also with another page size: the next page
    same = client.get(f"/v1/spans?speaker=mikoyan&limit=2&cursor={cursor}")
    assert same.status_code == 200
    assert same.json()["items"][0]["id"] != first.json()["items"][0]["id"]
    # another filter, another list, another path: a 400 saying so
    for url in (
        f"/v1/spans?speaker=khrushchev&cursor={cursor}",
        f"/v1/spans?cursor={cursor}",
        f"/v1/documents/fear-backstage/spans?cursor={cursor}",
        f"/v1/claims?cursor={cursor}",
    ):
        response = client.get(url)
        assert response.status_code == 400, (url, response.text)
        assert "another list" in response.json()["detail"]
    # Following the pages gives every item once
    every = _pages(client, "/v1/spans?speaker=mikoyan&limit=100")
    assert _pages(client, "/v1/spans?speaker=mikoyan&limit=2") == every
