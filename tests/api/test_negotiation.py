"""Content negotiation: `Accept` q-values decide between JSON and the other representations
(BibTeX, CSL-JSON, JSON-LD); `;q=0` refuses one; at equal quality the type named wins."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.negotiation import preferred, qualities

CITATION = "/v1/citations/brief-note-16"
BIBTEX = "application/x-bibtex"
CSL = "application/vnd.citationstyles.csl+json"


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        (BIBTEX, "bibtex"),
        (f"application/json, {BIBTEX}", "bibtex"),
        (f"{BIBTEX};q=0", "json"),
        (f"application/json, {BIBTEX};q=0.5", "json"),
        (f"application/json;q=0.4, {BIBTEX};q=0.5", "bibtex"),
        (f"*/*, {BIBTEX};q=0.9", "json"),
        (f"{CSL};q=0.8, {BIBTEX};q=0.9", "bibtex"),
        (f"{CSL}, {BIBTEX}", "csl-json"),  # equal: the first the route offers
        ("*/*", "json"),
        ("", "json"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "json"),
        (f"application/json;q=0, {BIBTEX};q=0.2, */*;q=0.5", "bibtex"),  # JSON refused
        (f"{BIBTEX};q=0.5, application/json;q=0.1, */*", "bibtex"),  # the named q counts
    ],
)
def test_a_citation_comes_in_the_representation_accept_prefers(
    client: TestClient, accept: str, kind: str
) -> None:
    response = client.get(CITATION, headers={"Accept": accept})
    assert response.status_code == 200
    media = response.headers["content-type"]
    if kind == "json":
        assert media.startswith("application/json")
        assert response.json()["id"] == "brief-note-16"
    elif kind == "bibtex":
        assert media.startswith(BIBTEX) and response.text.startswith("@")
    else:
        assert media.startswith(CSL) and response.json()[0]["id"] == "brief-note-16"


def test_format_parameter_still_wins_over_accept(client: TestClient) -> None:
    response = client.get(f"{CITATION}?format=bibtex", headers={"Accept": f"{BIBTEX};q=0"})
    assert response.text.startswith("@")


def test_the_parser_reads_qualities_and_shrugs_at_malformed_ones() -> None:
    assert qualities("a/b;q=0.5, c/d; level=1; q=0 ,e/f;q=x, A/B;q=0.7") == {
        "a/b": 0.7,
        "c/d": 0.0,
        "e/f": 1.0,
    }
    assert preferred("application/ld+json;q=0", ["application/ld+json"]) is None


@pytest.mark.parametrize(
    ("accept", "jsonld"),
    [
        ("application/ld+json", True),
        ("application/ld+json;q=0, application/json", False),
        ("application/json, application/ld+json;q=0.5", False),
        ("*/*", False),
    ],
)
def test_a_span_is_json_ld_when_accept_prefers_it(
    client: TestClient, accept: str, jsonld: bool
) -> None:
    response = client.get("/v1/spans/brief-mezentsev-title", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json") == jsonld
