"""Checking a text through HTTP: a paragraph that quotes the archive without saying so."""

from __future__ import annotations

from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
FIGES = "figes-secret-speech"
FEAR = "fear-backstage"
BLOG = "not-so-secret-speech"

# Three lightly damaged quotations (a typo; a straight apostrophe and a lower-case word; an
# ellipsis standing for two sentences of the source) among the writer's own sentences.
TYPO = "Political prisoners were exluded from the amnesty"
RETYPED = (
    "Among Khrushchev's most ominous critiques of Stalin was his utter brutality and "
    "disregard for justice"
)
ELIDED = (
    "We have to report what happened, if not to the entire party … someone else does it "
    "later, then everyone will have legitimate grounds for considering us entirely responsible"
)
PARAGRAPH = (
    "My pupils began the lesson with the weather and their weekend plans. "
    f"{TYPO}. Nobody in the room had heard that before, and a long silence followed. "
    f"One pupil read aloud: {RETYPED}. We then compared two maps drawn by our own class. "
    f'In the last ten minutes we read Mikoyan: "{ELIDED}." Homework is due on Friday.'
)


def test_a_paragraph_finds_exactly_the_three_passages_it_quotes(
    client: TestClient, seeds: dict[str, str]
) -> None:
    response = client.post("/v1/quotes/scan", json={"text": PARAGRAPH})
    assert response.status_code == 200, response.text
    passages = response.json()["passages"]
    expected = [
        (TYPO, FIGES, "Political prisoners were excluded from the amnesty", "altered"),
        (
            RETYPED,
            BLOG,
            "Among Khrushchev’s most ominous critiques of Stalin was his utter brutality and "
            "disregard for Justice",
            "normalized",
        ),
        (ELIDED, FEAR, None, "elided"),
    ]
    assert len(passages) == 3
    for passage, (quoted, doc_id, source, verdict) in zip(passages, expected, strict=True):
        start = PARAGRAPH.index(quoted)
        assert (passage["start"], passage["end"]) == (start, start + len(quoted))
        assert passage["text"] == quoted
        best = passage["best"]
        assert best["document_id"] == doc_id
        text = seeds[doc_id]
        if source is None:  # the ellipsis: from the first quoted word to the last
            source_start = text.index("We have to report what happened")
            source_end = text.index("entirely responsible") + len("entirely responsible")
        else:
            source_start = text.index(source)
            source_end = source_start + len(source)
        assert (best["start"], best["end"]) == (source_start, source_end)
        assert best["exact"] == text[source_start:source_end]
        assert best["fidelity"]["verdict"] == verdict
        assert [m["document_id"] for m in passage["matches"]] == [doc_id]
    typo = passages[0]["best"]["fidelity"]["diff"]
    assert {"op": "replace", "source": "excluded", "quote": "exluded"} in typo
    elided = passages[2]["best"]["fidelity"]["diff"]
    assert any(d["op"] == "delete" and "delegates" in d["source"] for d in elided)
    assert "Anastas Mikoyan" in {s["speaker"] for s in passages[2]["matches"][0]["spans"]}


def test_a_passage_in_several_places_lists_each_and_touching_passages_are_one(
    client: TestClient, seeds: dict[str, str]
) -> None:
    mezentsev = "God knows what we are supposed to think"
    text = f"The brief's headline asks: {mezentsev}! Then I stopped reading."
    [passage] = client.post("/v1/quotes/scan", json={"text": text}).json()["passages"]
    assert passage["text"] == mezentsev
    brief = seeds["secret-speech-brief"]
    first = brief.index("God knows what we’re supposed to think")
    second = brief.index("God knows what we’re supposed to think", first + 1)
    assert [(m["document_id"], m["start"]) for m in passage["matches"]] == [
        ("secret-speech-brief", first),
        ("secret-speech-brief", second),
    ]
    assert passage["best"]["fidelity"]["verdict"] == "normalized"
    # two sentences of one source, quoted one after the other: one passage
    two = (
        "Political prisoners were excluded from the amnesty. Their cases needed to be "
        "reviewed by the Soviet Procuracy"
    )
    [whole] = client.post(
        "/v1/quotes/scan", json={"text": f"The book says so. {two}. I agree with it."}
    ).json()["passages"]
    assert whole["text"] == two
    assert whole["best"]["fidelity"]["verdict"] == "exact"
    assert whole["best"]["exact"] == two


def test_filters_and_min_words_narrow_the_scan(client: TestClient) -> None:
    elsewhere = client.post(
        "/v1/quotes/scan", json={"text": PARAGRAPH, "documents": [FIGES, BLOG]}
    ).json()["passages"]
    assert [p["best"]["document_id"] for p in elsewhere] == [FIGES, BLOG]
    primary = client.post("/v1/quotes/scan", json={"text": PARAGRAPH, "kind": "primary"})
    assert primary.json() == {"passages": []}  # the bundled articles are all secondary
    long_only = client.post("/v1/quotes/scan", json={"text": PARAGRAPH, "min_words": 12})
    assert [p["best"]["document_id"] for p in long_only.json()["passages"]] == [BLOG, FEAR]


def test_the_writers_own_text_matches_nothing(client: TestClient) -> None:
    own = (
        "Our school library keeps three copies of the textbook. The chapter on the 1950s is "
        "short, and the pictures are better than the prose. Next year we will use a new "
        "edition with more sources and fewer exercises."
    )
    assert client.post("/v1/quotes/scan", json={"text": own}).json() == {"passages": []}


def test_a_text_empty_or_too_long_is_a_422_that_says_so(client: TestClient) -> None:
    cases = [
        ({"text": ""}, "text"),
        ({"text": "   \n "}, "must not be empty"),
        ({"text": "word " * 20_001}, "100000"),
        ({}, "text"),
        ({"text": PARAGRAPH, "min_words": 0}, "min_words"),
        ({"text": PARAGRAPH, "kind": "tertiary"}, "kind"),
        ({"text": PARAGRAPH, "min_score": 2}, "min_score"),
        ({"text": PARAGRAPH, "documents": ["Not An Id"]}, "documents"),
    ]
    for body, named in cases:
        response = client.post("/v1/quotes/scan", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM
        assert named in response.json()["detail"]


def test_scanning_changes_nothing(client: TestClient) -> None:
    before = client.get("/v1/changes", params={"since": 0, "limit": 100}).json()
    health = client.get("/v1/health").json()
    assert client.post("/v1/quotes/scan", json={"text": PARAGRAPH}).status_code == 200
    assert client.get("/v1/changes", params={"since": 0, "limit": 100}).json() == before
    assert client.get("/v1/health").json() == health
