"""Revisions of a text through HTTP: an accidental `PUT …/text` is undone by reading the
revisions, reading an earlier text, and restoring it, with every span anchored again."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_changes import _all_since
from tests.api.test_provenance import annotations, provenance

SIEGELBAUM = "siegelbaum-secret-speech"
PROBLEM = "application/problem+json"


def put_text(writer: TestClient, doc_id: str, text: str) -> dict[str, Any]:
    response = writer.put(
        f"/v1/documents/{doc_id}/text",
        content=text.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def spans_of(client: TestClient, doc_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/documents/{doc_id}/spans?limit=100")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


def test_an_accidental_text_is_undone_and_its_spans_anchored_again(
    writer: TestClient, seeds: dict[str, str]
) -> None:
    original = seeds[SIEGELBAUM]
    curated = {s["id"] for s in annotations("span") if s["document_id"] == SIEGELBAUM}
    put_text(writer, SIEGELBAUM, "Pasted into the wrong document by mistake.")
    assert {s["anchor_status"] for s in spans_of(writer, SIEGELBAUM)} == {"orphaned"}
    prov = provenance(writer, "speech-date-25-february")
    assert prov["status"] == "corroborated"  # Siegelbaum's February 24 is gone

    listing = writer.get(f"/v1/documents/{SIEGELBAUM}/revisions")
    assert listing.status_code == 200, listing.text
    items = listing.json()["items"]
    assert [r["revision"] for r in items] == [2, 1]  # newest first
    assert items[0]["created_by"] == "teacher"
    assert items[0]["length"] == len("Pasted into the wrong document by mistake.")
    assert items[1]["length"] == len(original)
    first = writer.get(f"/v1/documents/{SIEGELBAUM}/text?revision=1")
    assert first.status_code == 200 and first.text == original
    assert first.headers["X-Text-Revision"] == "1"

    _, since = _all_since(writer, 0)
    restored = writer.post(f"/v1/documents/{SIEGELBAUM}/revisions/1/restore")
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["revision"] == 3 and body["changed"] is True
    assert body["anchoring"]["orphaned"] == 0
    assert sum(body["anchoring"].values()) == len(curated)

    current = writer.get(f"/v1/documents/{SIEGELBAUM}/text")
    assert current.text == original and current.headers["X-Text-Revision"] == "3"
    assert writer.get(f"/v1/documents/{SIEGELBAUM}").json()["revision"] == 3
    spans = spans_of(writer, SIEGELBAUM)
    assert {s["id"] for s in spans} == curated
    for span in spans:
        assert span["anchor_status"] != "orphaned", span["id"]
        assert original[span["start"] : span["end"]] == span["exact"], span["id"]
    prov = provenance(writer, "speech-date-25-february")
    assert prov["status"] == "contested" and prov["conflicts"]
    assert [
        r["revision"] for r in writer.get(f"/v1/documents/{SIEGELBAUM}/revisions").json()["items"]
    ] == [3, 2, 1]

    feed, _ = _all_since(writer, since)
    assert ("document", SIEGELBAUM, "update") in {(i["entity"], i["id"], i["action"]) for i in feed}
    assert {i["id"] for i in feed if i["entity"] == "span"} == curated
    assert all(i["actor"] == "teacher" for i in feed)


def test_restoring_the_current_text_changes_nothing(writer: TestClient) -> None:
    _, since = _all_since(writer, 0)
    response = writer.post("/v1/documents/fear-backstage/revisions/1/restore")
    assert response.status_code == 200, response.text
    assert response.json()["changed"] is False and response.json()["revision"] == 1
    assert _all_since(writer, since)[0] == []


def test_what_cannot_be_restored_or_read_is_refused_and_nothing_changes(
    client: TestClient, writer: TestClient
) -> None:
    _, since = _all_since(writer, 0)
    missing = problem(writer.post(f"/v1/documents/{SIEGELBAUM}/revisions/7/restore"), 404)
    assert "revision 7" in missing["detail"]
    problem(writer.post("/v1/documents/no-such-doc/revisions/1/restore"), 404)
    problem(writer.post(f"/v1/documents/{SIEGELBAUM}/revisions/0/restore"), 422)
    problem(writer.get(f"/v1/documents/{SIEGELBAUM}/text?revision=2"), 404)
    problem(writer.get(f"/v1/documents/{SIEGELBAUM}/text?revision=zero"), 422)
    problem(writer.get("/v1/documents/no-such-doc/revisions"), 404)
    problem(writer.get(f"/v1/documents/{SIEGELBAUM}/revisions?cursor=nonsense"), 400)
    assert _all_since(writer, since)[0] == []
    del client.headers["Authorization"]
    problem(client.post(f"/v1/documents/{SIEGELBAUM}/revisions/1/restore"), 401)


def test_revisions_page_newest_first(writer: TestClient, seeds: dict[str, str]) -> None:
    for n in range(3):
        put_text(writer, "fear-backstage", seeds["fear-backstage"] + f"\nAddendum {n}.")
    seen: list[int] = []
    url = "/v1/documents/fear-backstage/revisions?limit=3"
    while url:
        body = writer.get(url).json()
        assert body["total"] == 4
        seen += [r["revision"] for r in body["items"]]
        url = (
            f"/v1/documents/fear-backstage/revisions?limit=3&cursor={body['next_cursor']}"
            if body["next_cursor"]
            else ""
        )
    assert seen == [4, 3, 2, 1]
    old = writer.get("/v1/documents/fear-backstage/text?revision=2&start=0&end=5")
    assert old.text == seeds["fear-backstage"][:5]
