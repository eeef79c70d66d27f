"""Walking the API from its OpenAPI document, with real ids from the bundled corpus.

Used by tests that must cover every route, including routes added after them.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from archive.settings import Settings


def _spec() -> dict[str, Any]:
    return create_app(Settings(database_url="sqlite://")).openapi()


SPEC = _spec()
MAX_CANDIDATES = 300  # ids tried per path parameter (some routes answer for few records)


def operations(*methods: str) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in SPEC["paths"].items()
        for method in item
        if method.upper() in methods
    ]


def op(method: str, path: str) -> dict[str, Any]:
    return SPEC["paths"][path][method.lower()]


def example(param: dict[str, Any]) -> Any:
    for source in (param, param.get("schema", {})):
        if "example" in source:
            return source["example"]
        if source.get("examples"):
            examples = source["examples"]
            return (
                examples[0]
                if isinstance(examples, list)
                else next(iter(examples.values()))["value"]
            )
    return None


def required_query(method: str, path: str) -> dict[str, Any]:
    query = {}
    for param in op(method, path).get("parameters", []):
        if param["in"] == "query" and param.get("required"):
            value = example(param)
            assert value is not None, f"{method} {path}: {param['name']!r} needs an example"
            query[param["name"]] = value
    return query


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))


def has_get_at(concrete: str) -> bool:
    return any(
        "get" in item and _pattern(p).fullmatch(concrete) for p, item in SPEC["paths"].items()
    )


def get_template(concrete: str) -> str:
    return next(
        p for p, item in SPEC["paths"].items() if "get" in item and _pattern(p).fullmatch(concrete)
    )


def _ids_in(value: Any, key: str) -> list[str]:
    """Ids of the objects listed under `key` anywhere in a JSON document."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key and isinstance(v, list):
                found += [
                    x["id"] for x in v if isinstance(x, dict) and isinstance(x.get("id"), str)
                ]
            else:
                found += _ids_in(v, key)
    elif isinstance(value, list):
        for v in value:
            found += _ids_in(v, key)
    return found


def _examples_for(parts: list[str], i: int) -> list[str]:
    """The documented examples of the path parameter at parts[i]."""
    name = parts[i].strip("{}")
    found = []
    for path, item in SPEC["paths"].items():
        if not _pattern("/".join(parts[: i + 1])).fullmatch("/".join(path.split("/")[: i + 1])):
            continue
        for operation in item.values():
            for param in operation.get("parameters", []):
                if param["in"] == "path" and param["name"] == name and example(param):
                    found.append(example(param))
    return found


def _candidates(client: TestClient, parts: list[str], i: int) -> list[str]:
    """Real ids for the path parameter at parts[i], given concrete parts before it: from the
    list at the same prefix (/v1/claims for {claim_id}), else from the parent resource and
    its sub-resources (a claim's provenance lists its evidence), and the documented
    example."""
    prefix = "/".join(parts[:i])
    name = parts[i].strip("{}")
    ids: list[str] = []
    if has_get_at(prefix):
        params: dict[str, Any] = {"limit": 100}
        while len(ids) < MAX_CANDIDATES:
            response = client.get(prefix, params=params)
            if response.status_code != 200 or "items" not in response.json():
                break
            # items named by "id", or by the parameter's own name (a text's "revision")
            named = (x.get("id", x.get(name)) for x in response.json()["items"])
            ids += [str(value) for value in named if value is not None]
            if not response.json().get("next_cursor"):
                break
            params["cursor"] = response.json()["next_cursor"]
    if not ids and i >= 3:
        parent = "/".join(parts[: i - 1])
        children = [
            p.rpartition("/")[0] and parent + "/" + p.rpartition("/")[2]
            for p, item in SPEC["paths"].items()
            if "get" in item
            and "{" not in p.rpartition("/")[2]
            and _pattern(p.rpartition("/")[0]).fullmatch(parent)
        ]
        for path in [parent, *children]:
            response = client.get(path)
            if response.status_code == 200 and "json" in response.headers["content-type"]:
                ids += _ids_in(response.json(), parts[i - 1])
    # The documented example goes first: some routes answer only for particular records
    # (the fidelity of a span that quotes another).
    return list(dict.fromkeys([*_examples_for(parts, i), *ids]))[:MAX_CANDIDATES]


def resolve(
    client: TestClient, template: str, i: int = 0, parts: list[str] | None = None
) -> str | None:
    """`template` with every parameter replaced by a real id, such that a GET of the path
    (or of its nearest enclosing resource) answers 200."""
    parts = parts or template.split("/")
    while i < len(parts) and "{" not in parts[i]:
        i += 1
    if i == len(parts):
        concrete = "/".join(parts)
        probe = concrete
        while not has_get_at(probe) and probe.count("/") > 2:
            probe = probe.rpartition("/")[0]
        if not has_get_at(probe):
            return concrete  # nothing to check it with (e.g. POST /v1/import)
        answer = client.get(probe, params=required_query("GET", get_template(probe)))
        return concrete if answer.status_code == 200 else None
    for candidate in _candidates(client, parts, i):
        found = resolve(client, template, i + 1, [*parts[:i], candidate, *parts[i + 1 :]])
        if found:
            return found
    return None


def body_example(method: str, path: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Keyword arguments for a request body: the documented example, or {}."""
    content = op(method, path).get("requestBody", {}).get("content", {})
    if not content:
        return {}, {}
    media, spec = next(iter(content.items()))
    example = spec.get("example")
    if example is None and "$ref" in spec.get("schema", {}):
        schema = SPEC["components"]["schemas"][spec["schema"]["$ref"].rpartition("/")[2]]
        example = (schema.get("examples") or [None])[0]
    if media == "application/json":
        return {"json": example if example is not None else {}}, {}
    return {"content": str(example or "").encode()}, {"Content-Type": media}
