"""Spans as W3C Web Annotations, through HTTP, against the W3C test suite's MUST schemas.

The schemas are loaded offline by the harness in tests/archive/test_jsonld.py (every schema
listed in annotations/annotationMusts.test); this module reuses it on what the API serves for
the real corpus spans, and for spans in states the corpus does not show (made by a key,
linked to citations, quoting another span, orphaned by a new revision).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft4Validator
from sqlalchemy import select
from sqlmodel import Session

from archive.models import Span
from tests.archive.test_jsonld import failed_musts
from tests.archive.test_jsonld import musts as musts  # noqa: F401 - the fixture, reused

ANNOTATION = 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'
FEAR = "fear-backstage"


def annotation_of(client: TestClient, span_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/spans/{span_id}?format=jsonld")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ANNOTATION
    return response.json()


def selectors(annotation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["type"]: s for s in annotation["target"]["selector"]}


# Values the schemas test by equality; any other string is checked only for its format.
VERBATIM = {"@context", "type", "motivation", "purpose", "format", "language", "textDirection"}


def shape(value: Any, key: str = "") -> Any:
    """What the W3C schemas can tell apart in an annotation: its structure, the values they
    compare (types, motivations, purposes), for other strings only whether they look like a
    URI, a date-time or neither, and for numbers their sign. Annotations of the same shape
    pass or fail alike."""
    if isinstance(value, dict):
        return tuple(sorted((k, shape(v, k)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(shape(v, key) for v in value))
    if isinstance(value, str) and key not in VERBATIM:
        if not value:
            return "empty"
        if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", value):
            return "date-time"
        return "uri" if re.fullmatch(r"https?://\S+", value) else "text"
    if isinstance(value, int) and not isinstance(value, bool):
        return "count" if value >= 0 else "negative"
    return value


def test_every_corpus_span_passes_every_must_schema(
    client: TestClient, session: Session, musts: dict[str, Draft4Validator]
) -> None:
    """All 186 annotations are fetched; one of each shape is validated against the 54
    schemas (validating each takes 0.15 s, and same-shaped ones cannot differ)."""
    span_ids = list(session.execute(select(Span.id).order_by(Span.id)).scalars())
    assert len(span_ids) == 186
    shapes: dict[Any, tuple[str, dict[str, Any]]] = {}
    for span_id in span_ids:
        annotation = annotation_of(client, span_id)
        shapes.setdefault(shape(annotation), (span_id, annotation))
    assert len(shapes) >= 5  # speakers, notes, tags, citations, kinds: the corpus varies
    failures = {}
    for span_id, annotation in shapes.values():
        failed = failed_musts(musts, annotation)
        if failed:
            failures[span_id] = failed
    assert failures == {}


def test_the_selectors_point_at_the_words_in_the_document(
    client: TestClient, seeds: dict[str, str]
) -> None:
    span = client.get("/v1/spans/fear-mikoyan-went-to-khrushchev").json()
    annotation = annotation_of(client, span["id"])
    assert annotation["id"].endswith("/v1/spans/fear-mikoyan-went-to-khrushchev")
    assert annotation["target"]["source"].endswith(f"/v1/documents/{FEAR}")
    found = selectors(annotation)
    quote, position = found["TextQuoteSelector"], found["TextPositionSelector"]
    assert seeds[FEAR][position["start"] : position["end"]] == quote["exact"] == span["exact"]
    assert quote["prefix"] == span["prefix"] and quote["suffix"] == span["suffix"]
    bodies = annotation["body"] if isinstance(annotation["body"], list) else [annotation["body"]]
    assert {"type": "TextualBody", "value": "Anastas Mikoyan"}.items() <= bodies[0].items()


def test_spans_in_every_state_pass_every_must_schema(
    writer: TestClient, seeds: dict[str, str], musts: dict[str, Draft4Validator]
) -> None:
    made = writer.post(
        "/v1/documents/secret-speech-brief/spans",
        json={
            "exact": "Sergei Mezentsev, editor of the Kommunist journal",
            "kind": "passage",
            "note": "Who Mezentsev was.",
            "tags": ["mezentsev"],
            "citation_ids": ["brief-note-10"],
            "quoted_from": "brief-mezentsev-what-next",
        },
    )
    assert made.status_code == 201, made.text
    resolve = "But why did Khrushchev show such resolve in the fall of 1955?\n\n"
    replaced = writer.put(
        f"/v1/documents/{FEAR}/text", json={"text": seeds[FEAR].replace(resolve, "")}
    )
    assert replaced.json()["anchoring"]["orphaned"] == 1
    for span_id in (made.json()["id"], "fear-resolve-1955", "fear-mikoyan-went-to-khrushchev"):
        annotation = annotation_of(writer, span_id)
        assert failed_musts(musts, annotation) == [], span_id
    orphan = annotation_of(writer, "fear-resolve-1955")
    assert set(selectors(orphan)) == {"TextQuoteSelector"}  # its offsets no longer hold


@pytest.mark.parametrize(
    "accept",
    ["application/ld+json", 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'],
)
def test_accept_header_gives_the_same_annotation(client: TestClient, accept: str) -> None:
    by_header = client.get("/v1/spans/brief-mezentsev-title", headers={"Accept": accept})
    assert by_header.headers["content-type"] == ANNOTATION
    assert by_header.json() == annotation_of(client, "brief-mezentsev-title")
    etag = by_header.headers["etag"]
    again = client.get(
        "/v1/spans/brief-mezentsev-title", headers={"Accept": accept, "If-None-Match": etag}
    )
    assert again.status_code == 304
