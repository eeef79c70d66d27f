"""Claims and evidence through HTTP, as a teacher records who says what."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from archive.models import Change
from tests.archive.test_claims import readme_claims

PROBLEM = "application/problem+json"


def ids(client: TestClient, query: str) -> list[str]:
    response = client.get(f"/v1/claims?limit=100&{query}")
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


def claim(client: TestClient, claim_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/claims/{claim_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_list_shows_derived_status_and_counts(client: TestClient) -> None:
    body = client.get("/v1/claims?limit=100").json()
    table = readme_claims()
    assert body["total"] == len(table)
    for item in body["items"]:
        assert item["status"] == table[item["id"]]["status"], item["id"]
        assert set(item["evidence_counts"]) == {"supports", "contradicts", "qualifies"}
    date = next(c for c in body["items"] if c["id"] == "speech-date-25-february")
    assert date["evidence_counts"] == {"supports": 3, "contradicts": 1, "qualifies": 0}
    assert date["created_by"] == "bundled-corpus"
    assert date["tags"] == ["date", "congress"]


def test_filters(client: TestClient) -> None:
    table = readme_claims()
    assert ids(client, "status=contested") == sorted(
        c for c, row in table.items() if row["status"] == "contested"
    )
    assert "speech-date-25-february" in ids(client, "status=contested")
    assert ids(client, "tag=date&status=contested") == ["speech-date-25-february"]
    assert ids(client, "q=1,430") == ["delivered-to-1430-delegates"]
    by_doc = set(ids(client, "document=not-so-secret-speech"))
    assert by_doc == {
        c
        for c, row in table.items()
        if any("not-so-secret-speech" in row[s] for s in ("supports", "contradicts", "qualifies"))
    }
    unknown = client.get("/v1/claims?document=no-such-doc")
    assert unknown.status_code == 422 and "'no-such-doc'" in unknown.json()["detail"]
    assert client.get("/v1/claims?status=disputed").status_code == 422
    assert client.get("/v1/claims?q=%00").status_code == 400


def test_status_filter_paginates_with_the_right_total(client: TestClient) -> None:
    expected = sorted(c for c, row in readme_claims().items() if row["status"] == "corroborated")
    seen, url = [], "/v1/claims?status=corroborated&limit=4"
    while url:
        response = client.get(url)
        body = response.json()
        assert body["total"] == len(expected)
        seen += [c["id"] for c in body["items"]]
        if body["next_cursor"]:
            assert 'rel="next"' in response.headers["link"]
            url = f"/v1/claims?status=corroborated&limit=4&cursor={body['next_cursor']}"
        else:
            url = None
    assert seen == expected


def test_create_a_claim_and_trace_its_evidence(writer: TestClient, session: Session) -> None:
    created = writer.post(
        "/v1/claims",
        json={"statement": "Khrushchev’s speech was read at a closed session.", "tags": ["x"]},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == "khrushchevs-speech-was-read-at-a-closed-session"
    assert body["status"] == "unsupported" and body["created_by"] == "teacher"
    location = created.headers["location"]
    assert writer.get(location).json() == body

    added = writer.post(
        f"{location}/evidence",
        json={"span_id": "siegelbaum-closed-no-discussion", "stance": "supports", "note": "n"},
    )
    assert added.status_code == 201, added.text
    evidence = added.json()
    assert evidence["recorded_by"] == "teacher"
    assert datetime.fromisoformat(evidence["recorded_at"].replace("Z", "+00:00")).tzinfo
    assert evidence["document_id"] == "siegelbaum-secret-speech"
    assert writer.get(added.headers["location"]).json() == evidence
    assert claim(writer, body["id"])["status"] == "single-source"

    second = writer.post(
        f"{location}/evidence", json={"span_id": "figes-1430-delegates", "stance": "supports"}
    )
    assert second.status_code == 201
    assert claim(writer, body["id"])["status"] == "corroborated"
    listed = writer.get(f"{location}/evidence").json()
    assert listed["total"] == 2
    assert [e["document_id"] for e in listed["items"]] == [
        "figes-secret-speech",
        "siegelbaum-secret-speech",
    ]
    recorded = session.execute(
        select(Change.entity, Change.action, Change.actor).where(
            Change.entity_id.in_([body["id"], evidence["id"]])
        )
    ).all()
    assert {tuple(r) for r in recorded} == {
        ("claim", "create", "teacher"),
        ("evidence", "create", "teacher"),
    }


def test_status_is_never_stale(writer: TestClient) -> None:
    claim_id = "closed-session-no-discussion"
    before = claim(writer, claim_id)
    assert before["status"] == "corroborated"
    added = writer.post(
        f"/v1/claims/{claim_id}/evidence",
        json={"span_id": "siegelbaum-february-24", "stance": "contradicts", "note": "test"},
    )
    assert added.status_code == 201
    now = claim(writer, claim_id)
    assert now["status"] == "contested"
    assert now["evidence_counts"]["contradicts"] == before["evidence_counts"]["contradicts"] + 1
    assert claim_id in ids(writer, "status=contested")
    provenance = writer.get(f"/v1/claims/{claim_id}/provenance").json()
    assert provenance["status"] == "contested" and provenance["conflicts"]

    assert writer.delete(added.headers["location"]).status_code == 204
    assert claim(writer, claim_id) == before
    assert claim_id not in ids(writer, "status=contested")
    assert writer.get(added.headers["location"]).status_code == 404


def test_changing_a_stance_changes_the_status(writer: TestClient) -> None:
    url = "/v1/claims/speech-date-25-february/evidence/speech-date-25-february--siegelbaum"
    etag = writer.get(url).headers["etag"]
    stale = writer.patch(url, json={"stance": "qualifies"}, headers={"If-Match": '"old"'})
    assert stale.status_code == 412
    assert claim(writer, "speech-date-25-february")["status"] == "contested"
    changed = writer.patch(url, json={"stance": "qualifies"}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.json()["stance"] == "qualifies"
    assert claim(writer, "speech-date-25-february")["status"] == "corroborated"
    assert writer.patch(url, json={"stance": "doubts"}).status_code == 422


def test_evidence_errors(writer: TestClient) -> None:
    url = "/v1/claims/speech-date-25-february/evidence"
    duplicate = writer.post(url, json={"span_id": "siegelbaum-february-24", "stance": "supports"})
    assert duplicate.status_code == 409 and duplicate.headers["content-type"] == PROBLEM
    assert "speech-date-25-february--siegelbaum" in duplicate.json()["detail"]
    missing_span = writer.post(url, json={"span_id": "no-such-span", "stance": "supports"})
    assert missing_span.status_code == 422 and "no-such-span" in missing_span.json()["detail"]
    assert writer.post(url, json={"span_id": "figes-1430-delegates"}).status_code == 422
    assert (
        writer.post(url, json={"span_id": "figes-1430-delegates", "stance": "x"}).status_code == 422
    )
    nowhere = writer.post(
        "/v1/claims/no-such-claim/evidence",
        json={"span_id": "figes-1430-delegates", "stance": "supports"},
    )
    assert nowhere.status_code == 404
    wrong_claim = writer.delete(
        "/v1/claims/speech-26000-words/evidence/speech-date-25-february--figes"
    )
    assert wrong_claim.status_code == 404
    assert claim(writer, "speech-date-25-february")["evidence_counts"]["supports"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"statement": ""},
        {"statement": "x" * 2001},
        {"statement": "nul \u0000"},
        {"statement": "ok", "tags": [""]},
        {"statement": "ok", "tags": ["x" * 65]},
        {"statement": "ok", "id": "Bad Id"},
        {"statement": "ok", "status": "contested"},
        {"statement": "   "},
    ],
)
def test_bad_claims_are_422(writer: TestClient, body: dict[str, Any]) -> None:
    response = writer.post("/v1/claims", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


def test_duplicate_id_is_409(writer: TestClient) -> None:
    response = writer.post(
        "/v1/claims", json={"id": "speech-date-25-february", "statement": "again"}
    )
    assert response.status_code == 409
    assert claim(writer, "speech-date-25-february")["statement"].startswith("The speech was")


def test_conditional_requests(writer: TestClient) -> None:
    url = "/v1/claims/speech-26000-words"
    first = writer.get(url)
    etag = first.headers["etag"]
    assert writer.get(url, headers={"If-None-Match": etag}).status_code == 304
    stale = writer.patch(url, json={"statement": "Changed."}, headers={"If-Match": '"nope"'})
    assert stale.status_code == 412
    assert writer.get(url).json() == first.json()
    assert writer.delete(url, headers={"If-Match": '"nope"'}).status_code == 412
    changed = writer.patch(
        url, json={"tags": ["length", "words"], "note": None}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200
    assert (
        changed.json()["tags"] == ["length", "words"]
        and changed.json()["statement"] == first.json()["statement"]
    )
    assert changed.headers["etag"] != etag
    assert writer.get(url, headers={"If-None-Match": etag}).status_code == 200
    evidence = "/v1/claims/speech-26000-words/evidence"
    listed = writer.get(evidence)
    assert (
        writer.get(evidence, headers={"If-None-Match": listed.headers["etag"]}).status_code == 304
    )
    one = f"{evidence}/{listed.json()['items'][0]['id']}"
    assert (
        writer.get(one, headers={"If-None-Match": writer.get(one).headers["etag"]}).status_code
        == 304
    )
    assert writer.delete(one, headers={"If-Match": '"nope"'}).status_code == 412


def test_delete_a_claim(writer: TestClient) -> None:
    url = "/v1/claims/speech-date-25-february"
    evidence = writer.get(f"{url}/evidence").json()["items"]
    assert writer.delete(url).status_code == 204
    assert writer.get(url).status_code == 404
    assert writer.get(f"{url}/provenance").status_code == 404
    assert writer.get(f"{url}/evidence/{evidence[0]['id']}").status_code == 404
    assert "speech-date-25-february" not in ids(writer, "status=contested")


def test_writes_need_a_key(client: TestClient) -> None:
    assert client.post("/v1/claims", json={"statement": "x"}).status_code == 401
    url = "/v1/claims/speech-date-25-february/evidence"
    assert (
        client.post(url, json={"span_id": "figes-1430-delegates", "stance": "supports"}).status_code
        == 401
    )
    assert client.delete(f"{url}/speech-date-25-february--figes").status_code == 401
    assert claim(client, "speech-date-25-february")["evidence_counts"]["supports"] == 3


def test_a_span_that_is_evidence_cannot_be_deleted(writer: TestClient) -> None:
    """Through the spans API when it is there (409 naming the claims); the domain refusal is
    tested in tests/archive/test_claims.py either way."""
    paths = writer.get("/openapi.json").json()["paths"]
    if not any(re.fullmatch(r"/v1/spans/\{\w+\}", p) and "delete" in op for p, op in paths.items()):
        pytest.skip("the spans API is not in this tree yet")
    refused = writer.delete("/v1/spans/siegelbaum-february-24")
    assert refused.status_code == 409
    assert "speech-date-25-february" in refused.text
    assert claim(writer, "speech-date-25-february")["status"] == "contested"


def test_statement_words_ignore_case_in_every_script_and_apostrophe_forms(
    writer: TestClient,
) -> None:
    made = writer.post(
        "/v1/claims",
        json={"id": "zrodla", "statement": "Khrushchev’s speech was printed in Źródła in 1956."},
    )
    assert made.status_code == 201, made.text
    assert ids(writer, "q=źródła") == ["zrodla"]
    assert ids(writer, "q=ŹRÓDŁA") == ["zrodla"]
    assert ids(writer, "q=Khrushchev's%20ŹRÓDŁA") == ["zrodla"]
    assert ids(writer, "q=Khrushchev's") == ids(writer, "q=Khrushchev’s")
    assert "zrodla" in ids(writer, "q=KHRUSHCHEV‘S")


def test_evidence_pages_like_every_list(client: TestClient) -> None:
    url = "/v1/claims/speech-date-25-february/evidence"
    everything = client.get(f"{url}?limit=100").json()
    assert everything["total"] == len(everything["items"]) == 4
    assert everything["next_cursor"] is None

    first = client.get(f"{url}?limit=2")
    assert first.status_code == 200
    body = first.json()
    assert len(body["items"]) == 2 and body["total"] == 4 and body["next_cursor"]
    assert 'rel="next"' in first.headers["link"]
    rest = client.get(f"{url}?limit=2&cursor={body['next_cursor']}").json()
    assert rest["total"] == 4 and rest["next_cursor"] is None
    assert body["items"] + rest["items"] == everything["items"]

    walked, next_url = [], f"{url}?limit=1"
    while next_url:
        page = client.get(next_url).json()
        walked += page["items"]
        next_url = page["next_cursor"] and f"{url}?limit=1&cursor={page['next_cursor']}"
    assert walked == everything["items"]

    assert client.get(f"{url}?limit=101").status_code == 422
    assert client.get(f"{url}?limit=0").status_code == 422
    bad = client.get(f"{url}?cursor=nonsense")
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]
    assert client.get("/v1/claims/no-such-claim/evidence?limit=2").status_code == 404


def test_a_patch_that_changes_nothing_changes_nothing(writer: TestClient) -> None:
    url = "/v1/claims/speech-date-25-february"
    before = writer.get(url)
    evidence_url = f"{url}/evidence/speech-date-25-february--siegelbaum"
    evidence = writer.get(evidence_url)
    latest = writer.get("/v1/changes").json()["latest"]
    same = {k: before.json()[k] for k in ("statement", "tags", "note")}
    for body in ({}, same, {"tags": [*before.json()["tags"], before.json()["tags"][0]]}):
        response = writer.patch(url, json=body, headers={"If-Match": before.headers["etag"]})
        assert response.status_code == 200, response.text
        assert response.json() == before.json()
        assert response.headers["etag"] == before.headers["etag"]
    for body in ({}, {k: evidence.json()[k] for k in ("stance", "note")}):
        response = writer.patch(evidence_url, json=body)
        assert response.status_code == 200, response.text
        assert response.json() == evidence.json()
        assert response.headers["etag"] == evidence.headers["etag"]
    assert writer.get(url).headers["etag"] == before.headers["etag"]
    assert writer.get("/v1/changes", params={"since": latest}).json()["items"] == []

    changed = writer.patch(url, json={**same, "note": "checked"})
    assert changed.json()["note"] == "checked"
    assert changed.headers["etag"] != before.headers["etag"]
    feed = writer.get("/v1/changes", params={"since": latest}).json()["items"]
    assert [(c["entity"], c["action"]) for c in feed] == [("claim", "update")]
