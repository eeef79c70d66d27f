"""Quote lookup through HTTP, as a student pastes a quotation into a teaching tool."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
BRIEF = "secret-speech-brief"
FEAR = "fear-backstage"


def test_a_retyped_quotation_is_found_with_its_speaker_and_claims(
    client: TestClient, seeds: dict[str, str]
) -> None:
    response = client.get(
        "/v1/quotes", params={"text": '"God knows what we are supposed to think"'}
    )
    assert response.status_code == 200
    assert response.headers["etag"]
    body = response.json()
    assert body["query"] == '"God knows what we are supposed to think"'
    text = seeds[BRIEF]
    first = text.index("God knows what we’re supposed to think")
    second = text.index("God knows what we’re supposed to think", first + 1)
    assert [(m["document_id"], m["start"]) for m in body["matches"]] == [
        (BRIEF, first),
        (BRIEF, second),
    ]
    for match in body["matches"]:
        assert text[match["start"] : match["end"]] == match["exact"]
        assert match["document_title"] == "The Secret Speech"
        assert {"id", "speaker", "kind"} == set(match["spans"][0])
        assert "Sergei Mezentsev" in {s["speaker"] for s in match["spans"]}
    assert "delegates-shocked" in body["matches"][1]["claims"]


def test_post_lookup_takes_long_quotations_and_options(
    client: TestClient, seeds: dict[str, str]
) -> None:
    typed = (
        "We have to report what happened, if not to the entire party, then at least to the "
        "delegates of the first congress after Stalins death. If we dont do this at this "
        "congress and someone else does it later, then everyone will have legitimate grounds "
        "for considering us entirely responsible for the crimes"
    )
    response = client.post("/v1/quotes/lookup", json={"text": typed, "limit": 3})
    assert response.status_code == 200, response.text
    [match] = response.json()["matches"]
    assert match["document_id"] == FEAR and match["match"] == "fuzzy"
    assert match["start"] == seeds[FEAR].index("We have to report what happened")
    assert seeds[FEAR][match["end"] - len("crimes") : match["end"]] == "crimes"
    assert "Anastas Mikoyan" in {s["speaker"] for s in match["spans"]}
    restricted = client.post(
        "/v1/quotes/lookup", json={"text": typed, "documents": [BRIEF], "kind": "secondary"}
    )
    assert restricted.json()["matches"] == []


def test_documents_may_be_repeated_or_comma_separated(client: TestClient) -> None:
    query = "the cult of personality"
    repeated = client.get(
        "/v1/quotes",
        params=[("text", query), ("documents", BRIEF), ("documents", "siegelbaum-secret-speech")],
    ).json()
    commas = client.get(
        "/v1/quotes", params={"text": query, "documents": f"{BRIEF},siegelbaum-secret-speech"}
    ).json()
    assert repeated == commas
    assert {m["document_id"] for m in commas["matches"]} == {BRIEF, "siegelbaum-secret-speech"}


@pytest.mark.parametrize(
    "absent", ["Workers of the world, unite!", "Mr. Gorbachev, tear down this wall!"]
)
def test_a_quotation_not_in_the_archive_has_no_match(client: TestClient, absent: str) -> None:
    for response in (
        client.get("/v1/quotes", params={"text": absent}),
        client.post("/v1/quotes/lookup", json={"text": absent}),
    ):
        assert response.status_code == 200
        assert response.json() == {"query": absent, "matches": []}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"text": ""},
        {"text": "Stalin", "min_score": "2"},
        {"text": "Stalin", "limit": "0"},
        {"text": "Stalin", "limit": "1001"},
        {"text": "Stalin", "kind": "tertiary"},
        {"text": "Stalin", "documents": "Not An Id"},
        {"text": "x" * 5001},
    ],
)
def test_bad_lookups_are_422_problems(client: TestClient, params: dict) -> None:
    response = client.get("/v1/quotes", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": ""},
        {"text": "Stalin", "min_score": -0.1},
        {"text": "Stalin", "limit": 1001},
        {"text": "Stalin", "documents": ["BAD ID"]},
        {"text": "Stalin", "extra": True},
    ],
)
def test_bad_lookup_bodies_are_422_problems(client: TestClient, body: dict) -> None:
    response = client.post("/v1/quotes/lookup", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"]


def test_a_lookup_answers_every_occurrence_not_a_page(
    client: TestClient, seeds: dict[str, str]
) -> None:
    """`limit` goes beyond the default 20 and the lists' 100: every occurrence is answered,
    one before a footnote number (`said Khrushchev15.`) too."""
    expected = sum(
        len(re.findall(r"(?<!\w)Khrushchev(?![^\W\d])", text)) for text in seeds.values()
    )
    assert expected > 20
    for response in (
        client.get("/v1/quotes", params={"text": "Khrushchev", "limit": 1000, "min_score": 1}),
        client.post(
            "/v1/quotes/lookup", json={"text": "Khrushchev", "limit": 1000, "min_score": 1}
        ),
    ):
        assert response.status_code == 200, response.text
        matches = response.json()["matches"]
        assert len(matches) == expected
        assert all(m["match"] == "exact" and m["exact"] == "Khrushchev" for m in matches)
