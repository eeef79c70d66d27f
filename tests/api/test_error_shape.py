"""Every route answers errors in one shape: RFC 9457 problem+json (cf. datasette's
test_error_shape). The walk covers each route of the OpenAPI document, so a new route is
checked as soon as it exists."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:  # noqa: ANN001
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def operations(client: TestClient) -> list[tuple[str, str, dict]]:
    spec = client.get("/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def concrete(path: str, value: str = "no-such-thing") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def test_unknown_paths_and_methods(client: TestClient) -> None:
    body = assert_problem(client.get("/v1/nowhere"), 404)
    assert "/v1/nowhere" in body["detail"]
    assert_problem(client.put("/v1/health"), 405)


def test_every_write_without_a_key_is_401(client: TestClient) -> None:
    # Writes are the operations that need a scope (they document 403); a POST such as a
    # quote lookup is a read.
    writes = [(m, p) for m, p, op in operations(client) if "403" in op["responses"]]
    assert len(writes) >= 4, "the API has write operations"
    for method, path in writes:
        assert_problem(client.request(method, concrete(path), json={}), 401)


def test_every_write_with_a_small_key_is_403(client: TestClient, write_key: str) -> None:
    admin_only = [(m, p) for m, p, op in operations(client) if m != "GET" and "admin" in str(op)]
    for method, path in admin_only:
        response = client.request(
            method, concrete(path), json={}, headers={"Authorization": f"Bearer {write_key}"}
        )
        assert_problem(response, 403)


@pytest.fixture
def admin(client: TestClient, admin_key: str) -> TestClient:
    client.headers["Authorization"] = f"Bearer {admin_key}"
    return client


def test_every_item_route_gives_a_404_problem(admin: TestClient) -> None:
    writer = admin
    item_routes = [(m, p) for m, p, _ in operations(writer) if "{" in p]
    assert item_routes
    for method, path in item_routes:
        response = writer.request(method, concrete(path), json={})
        # A write with an empty body may fail validation (422) before the lookup (404).
        assert_problem(response, 422 if response.status_code == 422 else 404)


def test_validation_errors_list_loc_and_msg(admin: TestClient) -> None:
    writer = admin
    for method, path, op in operations(writer):
        if "requestBody" not in op or "{" in path:
            continue
        response = writer.request(
            method, path, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        body = assert_problem(response, 422)
        assert body["errors"] and {"loc", "msg"} <= set(body["errors"][0])


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", None])
def test_a_json_body_sent_as_another_type_is_a_415_that_says_so(
    admin: TestClient, content_type: str | None
) -> None:
    """`curl -d '{...}'` sends form encoding unless told otherwise: the answer names the
    header to send, on every route that takes a JSON body (as its OpenAPI says)."""
    body = b'{"title": "Notes", "text": "Khrushchev spoke."}'
    for method, path, op in operations(admin):
        if "application/json" not in op.get("requestBody", {}).get("content", {}):
            continue
        assert "415" in op["responses"], (method, path)
        if "{" in path:
            continue
        headers = {"Content-Type": content_type} if content_type else {}
        response = admin.request(method, path, content=body, headers=headers)
        problem = assert_problem(response, 415)
        assert "Content-Type: application/json" in problem["detail"], (method, path)
    created = admin.post("/v1/documents", content=body, headers={"Content-Type": "text/plain"})
    assert created.status_code == 415 and admin.get("/v1/documents/notes").status_code == 404
    empty = admin.post("/v1/documents", headers={"Content-Type": "text/plain"})
    assert_problem(empty, 422)  # no body at all: the body is missing, whatever its type


@pytest.mark.parametrize("value", ["0", "over", "many"])
def test_list_parameters_are_validated(client: TestClient, value: str) -> None:
    lists = [
        p
        for m, p, _ in operations(client)
        if m == "GET" and "{" not in p and any(prm["name"] == "limit" for prm in _params(client, p))
    ]
    assert "/v1/documents" in lists
    for path in lists:
        bad = value
        if value == "over":  # one over the route's own maximum (a quote lookup's is 1000)
            [limit] = [prm for prm in _params(client, path) if prm["name"] == "limit"]
            bad = str(limit["schema"]["maximum"] + 1)
        body = assert_problem(client.get(f"{path}?limit={bad}"), 422)
        assert "limit" in body["detail"]


def _params(client: TestClient, path: str) -> list[dict]:
    return client.get("/openapi.json").json()["paths"][path]["get"].get("parameters", [])


def test_nul_in_the_url_is_a_400(client: TestClient) -> None:
    assert_problem(client.get("/v1/documents?q=%00"), 400)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('{"title": "A", "text": "B",}', "line 1, column 28 (character 28)"),
        ('{\n  "title": "A"\n  "text": "B"\n}', "line 3, column 3 (character 20)"),
        ("{'title': 'A'}", "line 1, column 2 (character 2)"),
    ],
)
def test_malformed_json_says_why_and_where(writer: TestClient, body: str, where: str) -> None:
    response = writer.post(
        "/v1/documents", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert detail.startswith("body: not JSON: Expecting "), detail
    assert detail.endswith(f"at {where}"), detail
    assert "JSON decode error" not in detail


def test_length_limits_are_worded_alike_and_stated_in_the_readme(client: TestClient) -> None:
    from archive.lookup.run import MAX_QUERY
    from archive.search_query import MAX_LENGTH, MAX_TERMS
    from tests.conftest import ROOT

    search = client.get("/v1/search", params={"q": "x" * (MAX_LENGTH + 1)})
    assert search.status_code == 400
    assert f"{MAX_LENGTH + 1} characters long; the limit is {MAX_LENGTH}" in search.text
    text = "Stalin " * (MAX_QUERY // 7 + 1)
    for lookup in (
        client.get("/v1/quotes", params={"text": text}),
        client.post("/v1/quotes/lookup", json={"text": text}),
    ):
        assert lookup.status_code == 422
        assert f"{len(text)} characters long; the limit is {MAX_QUERY}" in lookup.text
    readme = (ROOT / "README.md").read_text()
    assert f"`q` takes up to {MAX_LENGTH} characters and {MAX_TERMS} terms" in readme
    assert f"`text` up to {MAX_QUERY:,} characters" in readme
