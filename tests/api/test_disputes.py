"""Disagreements at a glance: which claims the sources disagree on (`disputed`), and each
pair of opposing pieces of evidence (`tensions`), as a teacher reads them through HTTP.

Expectations come from the curated annotations (archive/corpus/annotations.ndjson) and the
seed texts, not from the API's own output.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_provenance import annotations, provenance

#: The three disagreements the sources are known for: the date (24 or 25 February), how the
#: text reached the West, and who opposed the speech.
THREE_DISPUTES = {
    "speech-date-25-february": "contradicts",
    "text-via-poland-israeli-intelligence": "qualifies",
    "molotov-voroshilov-kaganovich-opposed": "qualifies",
}


def listed(client: TestClient, query: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    url = f"/v1/claims?limit=30&{query}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        found.update({c["id"]: c for c in body["items"]})
        url = (
            f"/v1/claims?limit=30&{query}&cursor={body['next_cursor']}"
            if body["next_cursor"]
            else ""
        )
    assert len(found) == body["total"]
    return found


def curated_opposed() -> set[str]:
    return {
        e["claim_id"]
        for e in annotations("evidence")
        if e["stance"] in ("contradicts", "qualifies")
    }


def test_disputed_lists_every_claim_a_source_contradicts_or_qualifies(
    client: TestClient,
) -> None:
    disputed = listed(client, "disputed=true")
    undisputed = listed(client, "disputed=false")
    assert set(disputed) == curated_opposed()
    assert set(THREE_DISPUTES) <= set(disputed)
    assert not set(disputed) & set(undisputed)
    every = {c["id"] for c in annotations("claim")}
    assert set(disputed) | set(undisputed) == every
    assert all(c["disputed"] for c in disputed.values())
    assert not any(c["disputed"] for c in undisputed.values())
    # Status keeps its meaning: the route through Poland is still corroborated, and who
    # opposed the speech still rests on one source; only the date is contested.
    assert disputed["speech-date-25-february"]["status"] == "contested"
    assert disputed["text-via-poland-israeli-intelligence"]["status"] == "corroborated"
    assert disputed["molotov-voroshilov-kaganovich-opposed"]["status"] == "single-source"
    one = client.get("/v1/claims/text-via-poland-israeli-intelligence").json()
    assert one["disputed"] is True


def test_disputed_filter_combines_with_status_and_rejects_nonsense(client: TestClient) -> None:
    contested = listed(client, "status=contested")
    both = listed(client, "status=contested&disputed=false")
    assert contested and not both  # a contested claim is always disputed
    response = client.get("/v1/claims?disputed=perhaps")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "disputed" in response.text


def test_tensions_pair_each_side_with_the_words_of_the_other(
    client: TestClient, seeds: dict[str, str]
) -> None:
    for claim_id, stance in THREE_DISPUTES.items():
        prov = provenance(client, claim_id)
        by_id = {e["id"]: e for e in prov["evidence"]}
        curated = [e for e in annotations("evidence") if e["claim_id"] == claim_id]
        supporting = [e["id"] for e in curated if e["stance"] == "supports"]
        opposing = [e for e in curated if e["stance"] in ("contradicts", "qualifies")]
        expected = {(s, o["id"], o["stance"]) for s in supporting for o in opposing}
        got = {(t["supporting"], t["opposing"], t["stance"]) for t in prov["tensions"]}
        assert got == expected and len(prov["tensions"]) == len(expected), claim_id
        assert any(t["stance"] == stance for t in prov["tensions"])
        for t in prov["tensions"]:
            for side in (by_id[t["supporting"]], by_id[t["opposing"]]):
                span = side["span"]
                text = seeds[side["document"]["id"]]
                assert text[span["start"] : span["end"]] == span["exact"]
        assert prov["claim"]["disputed"] is True

    route = provenance(client, "text-via-poland-israeli-intelligence")
    siegelbaum = next(
        by
        for by in route["evidence"]
        if by["document"]["id"] == "siegelbaum-secret-speech" and by["stance"] == "qualifies"
    )
    assert "East European sources" in siegelbaum["span"]["exact"]
    assert {t["opposing"] for t in route["tensions"]} >= {siegelbaum["id"]}
    assert route["conflicts"] == []  # nothing contradicts it: conflicts keep their meaning


def test_orphaned_evidence_counts_for_nothing_and_is_marked(
    writer: TestClient, seeds: dict[str, str]
) -> None:
    text = seeds["siegelbaum-secret-speech"]
    sentence = next(s for s in annotations("span") if s["id"] == "siegelbaum-february-24")
    assert sentence["exact"] in text
    response = writer.put(
        "/v1/documents/siegelbaum-secret-speech/text",
        content=text.replace(sentence["exact"], "").encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["anchoring"]["orphaned"] >= 1

    prov = provenance(writer, "speech-date-25-february")
    siegelbaum = next(e for e in prov["evidence"] if e["stance"] == "contradicts")
    assert siegelbaum["span"]["anchor_status"] == "orphaned"
    assert prov["status"] == "corroborated"  # the three supporting documents remain
    assert prov["claim"]["disputed"] is False
    assert prov["conflicts"] == [] and prov["tensions"] == []
    assert prov["claim"]["evidence_counts"]["contradicts"] == 1  # still recorded
    assert "speech-date-25-february" not in listed(writer, "disputed=true")
    assert "speech-date-25-february" not in listed(writer, "status=contested")
