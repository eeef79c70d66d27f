"""The change feed, as a tool mirroring the archive uses it."""

from __future__ import annotations

from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def _all_since(client: TestClient, since: int, **params: object) -> tuple[list[dict], int]:
    """Every change after `since`, following next_cursor; and the `since` to keep."""
    items: list[dict] = []
    response = client.get("/v1/changes", params={"since": since, "limit": 100, **params})
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        if not body["next_cursor"]:
            return items, body["since"]
        response = client.get(
            "/v1/changes", params={"cursor": body["next_cursor"], "limit": 100, **params}
        )


def test_the_corpus_is_in_the_feed(client: TestClient) -> None:
    items, since = _all_since(client, 0)
    seqs = [i["seq"] for i in items]
    assert seqs == sorted(set(seqs)), "sequence numbers only grow"
    assert since == seqs[-1] == client.get("/v1/changes").json()["latest"]
    creates = {(i["entity"], i["id"]) for i in items if i["action"] == "create"}
    assert ("document", "figes-secret-speech") in creates
    assert ("claim", "speech-date-25-february") in creates
    assert {i["entity"] for i in items} >= {"document", "citation", "span", "claim", "evidence"}
    assert all(i["actor"] == "bundled-corpus" for i in items)
    assert all(i["at"].endswith("Z") for i in items)


def test_a_mirror_catches_up_with_creates_updates_and_deletes(writer: TestClient) -> None:
    _, since = _all_since(writer, 0)
    created = writer.post("/v1/documents", json={"title": "Mirror me", "text": "Hello."})
    doc_id = created.json()["id"]
    writer.patch(f"/v1/documents/{doc_id}", json={"description": "changed"})
    writer.delete(f"/v1/documents/{doc_id}")
    writer.patch("/v1/claims/speech-date-25-february", json={"tags": ["date"]})
    items, new_since = _all_since(writer, since)
    assert [(i["entity"], i["id"], i["action"]) for i in items] == [
        ("document", doc_id, "create"),
        ("document", doc_id, "update"),
        ("document", doc_id, "delete"),
        ("claim", "speech-date-25-february", "update"),
    ]
    assert all(i["actor"] == "teacher" for i in items)
    assert new_since == items[-1]["seq"] > since
    assert _all_since(writer, new_since) == ([], new_since), "nothing new: nothing listed"


def test_pages_and_since_agree(client: TestClient) -> None:
    first = client.get("/v1/changes", params={"since": 10, "limit": 5}).json()
    assert [i["seq"] for i in first["items"]] == list(range(11, 16))
    assert first["since"] == 15 and first["total"] == first["latest"] - 10
    by_cursor = client.get("/v1/changes", params={"cursor": first["next_cursor"], "limit": 5})
    by_since = client.get("/v1/changes", params={"since": first["since"], "limit": 5})
    assert by_cursor.json() == by_since.json()
    assert 'rel="next"' in by_cursor.headers["link"]


def test_filter_by_entity(client: TestClient) -> None:
    items, since = _all_since(client, 0, entity="claim")
    assert items and {i["entity"] for i in items} == {"claim"}
    assert since == client.get("/v1/changes").json()["latest"]


def test_a_since_past_the_end_comes_back_as_latest(client: TestClient) -> None:
    body = client.get("/v1/changes", params={"since": 10**12}).json()
    assert body["items"] == [] and body["since"] == body["latest"]


def test_bad_parameters(client: TestClient) -> None:
    for query in ("since=-1", "since=x", f"since={2**63}", "limit=101", "entity=Doc!"):
        response = client.get(f"/v1/changes?{query}")
        assert response.status_code == 422, query
        assert response.headers["content-type"] == PROBLEM
    garbage = client.get("/v1/changes?cursor=nonsense")
    assert garbage.status_code == 400 and "cursor" in garbage.json()["detail"]


def test_polling_is_cheap_with_an_etag(client: TestClient) -> None:
    first = client.get("/v1/changes", params={"since": 500})
    again = client.get(
        "/v1/changes", params={"since": 500}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


def test_an_unknown_entity_is_refused_naming_the_known_ones(client: TestClient) -> None:
    """A mirror that filters on a misspelt entity must hear so, not get an empty feed with a
    `since` that skips everything."""
    for typo in ("claims", "Claim", "documents", "evidences", "x"):
        response = client.get("/v1/changes", params={"since": 0, "entity": typo})
        assert response.status_code == 422, typo
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["errors"][0]["loc"] == ["query", "entity"]
        for known in ("document", "span", "citation", "claim", "evidence"):
            assert f"'{known}'" in body["detail"], (typo, known)
    for known in ("document", "span", "citation", "claim", "evidence"):
        items, _ = _all_since(client, 0, entity=known)
        assert items and {i["entity"] for i in items} == {known}


def test_a_patch_that_changes_nothing_is_not_a_change(writer: TestClient) -> None:
    """Sent with the values a resource already has, a PATCH answers 200 with the resource as
    it was: the same ETag and updated_at, and nothing in the feed."""
    _, since = _all_since(writer, 0)
    urls = {
        "/v1/documents/fear-backstage": ("title", "kind", "creators", "published", "language"),
        "/v1/spans/fear-volkogonov": ("kind", "speaker", "tags", "citation_ids"),
        "/v1/citations/fear-volkogonov-ref": ("label", "raw", "csl", "status", "note", "span_ids"),
        "/v1/claims/speech-26000-words": ("statement", "tags", "note"),
        "/v1/claims/speech-date-25-february/evidence/speech-date-25-february--siegelbaum": (
            "stance",
            "note",
        ),
    }
    for url, fields in urls.items():
        before = writer.get(url)
        assert before.status_code == 200, url
        for body in ({}, {k: before.json()[k] for k in fields}):
            response = writer.patch(url, json=body, headers={"If-Match": before.headers["etag"]})
            assert response.status_code == 200, (url, response.text)
            assert response.json() == before.json(), url
            assert response.headers["etag"] == before.headers["etag"], url
    assert _all_since(writer, since) == ([], since)
