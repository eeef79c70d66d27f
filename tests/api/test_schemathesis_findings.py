"""Regressions for what fuzzing the running API (schemathesis, in CI) found."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.openapi_walk import SPEC, operations

PROBLEM = "application/problem+json"


@pytest.mark.parametrize("body", [b'{"title": "\x80"}', b"\x07\x1b3GWM\xc3\x28"])
def test_a_body_that_is_not_utf8_is_a_422_like_any_bad_json(
    writer: TestClient, body: bytes
) -> None:
    for method, path in [("POST", "/v1/documents"), ("PATCH", "/v1/documents/fear-backstage")]:
        response = writer.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert "UTF-8" in problem["detail"] and problem["errors"][0]["loc"] == ["body"]


def test_every_status_the_machinery_can_give_is_documented() -> None:
    """A NUL in any URL is a 400; any database fault a 503; any write may meet the body
    limit, a precondition, or an idempotency conflict."""
    for method, path in operations("GET", "POST", "PUT", "PATCH", "DELETE"):
        documented = set(SPEC["paths"][path][method.lower()]["responses"])
        assert {"400", "503"} <= documented, (method, path)
        if method in ("PATCH", "PUT", "DELETE"):
            assert "412" in documented, (method, path)
        if method == "POST":
            assert {"409", "422"} <= documented, (method, path)


def test_a_nul_anywhere_in_the_url_is_a_400(client: TestClient) -> None:
    response = client.get("/v1/claims/speech-date-25-february/provenance?style=a%00b")
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM
