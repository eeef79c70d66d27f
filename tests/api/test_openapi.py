"""The OpenAPI description is complete enough to build a client from."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_every_operation_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["paths"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary"), f"{where} has no summary"
            assert op.get("tags"), f"{where} has no tag"
            errors = [code for code in op["responses"] if code.startswith(("4", "5"))]
            assert errors, f"{where} documents no error response"
            for code in errors:
                content = op["responses"][code].get("content", {})
                assert "application/problem+json" in content, f"{where} {code} not a problem"
            assert _has_example(spec, op), f"{where} has no example"


def _has_example(spec: dict, op: dict) -> bool:
    """An example in a parameter, the request body or a success response (not the errors)."""
    op = {**op, "responses": {c: r for c, r in op["responses"].items() if c[0] in "23"}}
    if "example" in str(op):
        return True
    for ref in _refs(op):
        name = ref.rsplit("/", 1)[-1]
        if "example" in str(spec["components"]["schemas"].get(name, {})):
            return True
    return False


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        for value in node.values():
            found += _refs(value)
        return found
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_docs_and_redoc_are_served(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
        assert "/openapi.json" in response.text
