"""How a passage was quoted over time, and a document's quotations, through HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

PASSAGE = (
    "The harvest commission reported that the granaries of the southern districts held "
    "barely a third of the grain the plan had promised for the winter"
)
ALTERED = (
    "the harvest commission reported that the granaries of the northern districts held "
    "barely a third of the grain the plan had promised"
)


def _document(writer: TestClient, doc_id: str, text: str, **extra: str) -> str:
    response = writer.post(
        "/v1/documents", json={"id": doc_id, "title": doc_id.title(), "text": text, **extra}
    )
    assert response.status_code == 201, response.text
    return text


def _make(writer: TestClient) -> dict[str, str]:
    texts = {
        "minutes": _document(
            writer,
            "minutes",
            f"Minutes of the session. {PASSAGE}. The session closed at noon.",
            kind="primary",
            published="1933-01-14",
        ),
        "memoir": _document(
            writer,
            "memoir",
            f"Years later a clerk remembered it: {PASSAGE}. He never forgot the cold.",
            kind="secondary",
            published="1989",
        ),
        "textbook": _document(
            writer,
            "textbook",
            f"Our textbook says that {ALTERED}, and then moves on to industry.",
            kind="secondary",
            published="1961-09",
        ),
        "leaflet": _document(
            writer,
            "leaflet",
            f"An undated leaflet repeats it: {PASSAGE}. Nothing else survives of it.",
            kind="secondary",
        ),
    }
    start = texts["minutes"].index(PASSAGE)
    span = writer.post(
        "/v1/documents/minutes/spans",
        json={"start": start, "end": start + len(PASSAGE), "kind": "passage", "id": "harvest"},
    )
    assert span.status_code == 201, span.text
    return texts


def test_a_passage_is_followed_through_later_texts_in_date_order(writer: TestClient) -> None:
    texts = _make(writer)
    curated = texts["memoir"].index(PASSAGE)
    link = writer.post(
        "/v1/documents/memoir/spans",
        json={"start": curated, "end": curated + len(PASSAGE), "quoted_from": "harvest"},
    )
    assert link.status_code == 201, link.text
    response = writer.get("/v1/spans/harvest/quoted-by")
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["items"]
    assert [(i["document_id"], i["published"]) for i in items] == [
        ("textbook", "1961-09"),
        ("memoir", "1989"),
        ("leaflet", None),
    ]
    assert body["total"] == 3 and body["next_cursor"] is None
    assert [i["fidelity"]["verdict"] for i in items] == ["altered", "exact", "exact"]
    assert [i["curated"] for i in items] == [False, True, False]
    for item in items:
        text = texts[item["document_id"]]
        assert text[item["start"] : item["end"]] == item["exact"]
    assert items[0]["exact"] == ALTERED
    assert {"op": "replace", "source": "southern", "quote": "northern"} in items[0]["fidelity"][
        "diff"
    ]
    assert items[1]["start"] == curated
    # a page at a time, in the same order
    first = writer.get("/v1/spans/harvest/quoted-by", params={"limit": 2}).json()
    assert [i["document_id"] for i in first["items"]] == ["textbook", "memoir"]
    rest = writer.get(
        "/v1/spans/harvest/quoted-by", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [i["document_id"] for i in rest["items"]] == ["leaflet"]


def test_quoted_by_answers_404_and_400_that_say_why(client: TestClient) -> None:
    missing = client.get("/v1/spans/no-such-span/quoted-by")
    assert missing.status_code == 404 and "no-such-span" in missing.json()["detail"]
    bad = client.get("/v1/spans/brief-mezentsev-title/quoted-by", params={"cursor": "xyz"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]


def test_a_curated_quotation_in_the_same_document_is_listed(client: TestClient) -> None:
    # the brief's headline quotes Mezentsev's words as the brief gives them further on
    items = client.get("/v1/spans/brief-mezentsev-what-next/quoted-by").json()["items"]
    [title] = [i for i in items if i["curated"]]
    assert title["document_id"] == "secret-speech-brief"
    assert title["exact"].startswith("The things that were said")
    fidelity = client.get("/v1/spans/brief-mezentsev-title/fidelity").json()
    keys = ("verdict", "score", "truncated", "punctuation", "diff")
    assert title["fidelity"] == {k: fidelity[k] for k in keys}


def test_a_documents_quotations_point_at_their_sources(writer: TestClient) -> None:
    texts = _make(writer)
    response = writer.get("/v1/documents/textbook/quotations")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["document_id"] == "textbook"
    [passage] = body["passages"]
    assert passage["text"] == ALTERED
    assert passage["start"] == texts["textbook"].index(ALTERED)
    # every document that has the passage; the primary source is the closest
    assert {m["document_id"] for m in passage["matches"]} == {"minutes", "memoir", "leaflet"}
    assert passage["best"]["document_id"] == "minutes"
    assert passage["best"]["fidelity"]["verdict"] == "altered"
    # the answer is enough to link the passage to its source in one request
    link = writer.post(
        "/v1/documents/textbook/spans",
        json={
            "start": passage["start"],
            "end": passage["end"],
            "quoted_from": "harvest",
        },
    )
    assert link.status_code == 201, link.text
    assert writer.get(f"/v1/spans/{link.json()['id']}/fidelity").json()["verdict"] == "altered"
    missing = writer.get("/v1/documents/no-such-document/quotations")
    assert missing.status_code == 404
