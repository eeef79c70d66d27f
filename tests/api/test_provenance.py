"""Provenance: for each claim a teacher asks about, who says so, in which exact words, and
who disagrees; as JSON, as PROV-O JSON-LD, and as a bibliography.

Expectations come from the curator's table in archive/corpus/README.md and from the seed
texts themselves, never from the API's own output.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator

from archive.bundled import CORPUS
from tests.archive.test_claims import readme_claims, required_claims
from tests.shared import shared_file

PROV = "http://www.w3.org/ns/prov#"
STANCES = ("supports", "contradicts", "qualifies")


def annotations(kind: str) -> list[dict[str, Any]]:
    lines = (CORPUS / "annotations.ndjson").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == kind]


def provenance(client: TestClient, claim_id: str, query: str = "") -> dict[str, Any]:
    response = client.get(f"/v1/claims/{claim_id}/provenance{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


@pytest.mark.parametrize("claim_id", required_claims())
def test_each_corpus_claim_shows_its_sources_and_their_exact_words(
    client: TestClient, seeds: dict[str, str], claim_id: str
) -> None:
    expected = readme_claims()[claim_id]
    prov = provenance(client, claim_id)
    assert prov["claim"]["id"] == claim_id
    assert prov["claim"]["statement"] == expected["statement"]
    assert prov["status"] == prov["claim"]["status"] == expected["status"]
    for stance in STANCES:
        documents = {e["document"]["id"] for e in prov["evidence"] if e["stance"] == stance}
        assert documents == expected[stance], stance
    assert prov["documents"] == len(set().union(*(expected[s] for s in STANCES)))

    curated = {e["id"]: e for e in annotations("evidence") if e["claim_id"] == claim_id}
    assert {e["id"] for e in prov["evidence"]} == set(curated)
    spans = {s["id"]: s for s in annotations("span")}
    titles = {d["id"]: d["title"] for d in client.get("/v1/documents").json()["items"]}
    for ev in prov["evidence"]:
        span, doc = ev["span"], ev["document"]
        text = seeds[doc["id"]]
        assert span["exact"] == text[span["start"] : span["end"]], ev["id"]
        assert span["exact"] == spans[span["id"]]["exact"]
        assert text[: span["start"]].endswith(span["prefix"])
        assert text[span["end"] :].startswith(span["suffix"])
        assert span["speaker"] == spans[span["id"]]["speaker"]
        assert ev["stance"] == curated[ev["id"]]["stance"]
        assert ev["note"] == curated[ev["id"]]["note"]
        assert ev["recorded_by"] == "bundled-corpus" and ev["recorded_at"].endswith("Z")
        assert doc["title"] == titles[doc["id"]]
        assert [c["id"] for c in ev["citations"]] == sorted(spans[span["id"]]["citation_ids"])

    supporting = [e["id"] for e in prov["evidence"] if e["stance"] == "supports"]
    contradicting = [e["id"] for e in prov["evidence"] if e["stance"] == "contradicts"]
    assert prov["conflicts"] == [[s, c] for s in supporting for c in contradicting]


def test_the_date_of_the_speech_is_contested_by_siegelbaums_february_24(
    client: TestClient, seeds: dict[str, str]
) -> None:
    prov = provenance(client, "speech-date-25-february")
    assert prov["status"] == "contested"
    against = [e for e in prov["evidence"] if e["stance"] == "contradicts"]
    assert len(against) == 1
    siegelbaum = against[0]
    assert siegelbaum["document"]["id"] == "siegelbaum-secret-speech"
    assert siegelbaum["document"]["creators"] == [{"name": "Lewis Siegelbaum", "role": "author"}]
    span = siegelbaum["span"]
    assert "February 24" in span["exact"]
    text = seeds["siegelbaum-secret-speech"]
    assert text[span["start"] : span["end"]] == span["exact"]
    assert "February 24, 1956" in text[span["start"] : span["end"]]

    supporting = [e for e in prov["evidence"] if e["stance"] == "supports"]
    assert {e["document"]["id"] for e in supporting} == {
        "figes-secret-speech",
        "secret-speech-brief",
        "fear-backstage",
    }
    for ev in supporting:
        assert "25" in ev["span"]["exact"] and "Feb" in ev["span"]["exact"]
    assert sorted(prov["conflicts"]) == sorted([e["id"], siegelbaum["id"]] for e in supporting)
    assert len(prov["conflicts"]) == 3


def test_citations_in_the_chain_are_formatted_in_the_style_asked(client: TestClient) -> None:
    # Which corpus claim rests on a span carrying an identified note (status ok)?
    ok_notes = {c["id"] for c in annotations("citation") if c["status"] == "ok"}
    cited_spans = {s["id"]: s["citation_ids"] for s in annotations("span") if s["citation_ids"]}
    pairs = [
        (e["claim_id"], note)
        for e in annotations("evidence")
        for note in cited_spans.get(e["span_id"], [])
        if note in ok_notes
    ]
    assert pairs
    for claim_id, note in pairs[:5]:
        chain = provenance(client, claim_id)
        citation = next(c for e in chain["evidence"] for c in e["citations"] if c["id"] == note)
        chicago = client.get(f"/v1/citations/{note}?format=text").text
        assert citation["text"] == chicago.rstrip("\n") and citation["text"]
        assert citation["csl"]["id"] == note and citation["raw"]
        apa_chain = provenance(client, claim_id, "?style=apa")
        apa = next(c for e in apa_chain["evidence"] for c in e["citations"] if c["id"] == note)
        assert (
            apa["text"] == client.get(f"/v1/citations/{note}?format=text&style=apa").text.rstrip()
        )
    assert (
        client.get("/v1/claims/speech-date-25-february/provenance?style=vancouver").status_code
        == 422
    )


def test_provenance_etag_and_errors(client: TestClient) -> None:
    url = "/v1/claims/speech-date-25-february/provenance"
    for query in ("", "?format=jsonld", "?format=bibtex", "?format=csl-json"):
        first = client.get(url + query)
        assert first.status_code == 200, first.text
        again = client.get(url + query, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
    assert client.get("/v1/claims/no-such-claim/provenance").status_code == 404
    assert client.get(f"{url}?format=turtle").status_code == 422


# --- PROV-O JSON-LD ---------------------------------------------------------------------------


def _values(node: dict[str, Any], prop: str) -> list[str]:
    return [v.get("@id", v.get("@value")) for v in node.get(PROV + prop, [])]


def test_jsonld_expands_offline_into_prov_triples(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyld.jsonld

    from archive.jsonld import expand

    def no_network(url: str, options: Any = None) -> Any:
        raise AssertionError(f"tried to fetch {url}")

    monkeypatch.setattr(pyld.jsonld, "_default_document_loader", no_network)

    response = client.get("/v1/claims/speech-date-25-february/provenance?format=jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    by_accept = client.get(
        "/v1/claims/speech-date-25-february/provenance",
        headers={"Accept": "application/ld+json"},
    )
    assert by_accept.json() == response.json()
    doc = response.json()
    assert "@context" in doc

    expanded = expand(doc)
    nodes: list[dict[str, Any]] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            if "@id" in value and len(value) > 1:
                nodes.append(value)
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(expanded)
    chain = provenance(client, "speech-date-25-february")
    derived = [v for n in nodes for v in _values(n, "wasDerivedFrom")]
    for ev in chain["evidence"]:
        assert any(ev["span"]["id"] in str(v) for v in derived), ev["span"]["id"]
    quoted = [v for n in nodes for v in _values(n, "wasQuotedFrom")]
    for document in {ev["document"]["id"] for ev in chain["evidence"]}:
        assert any(document in str(v) for v in quoted), document
    attributed = [v for n in nodes for v in _values(n, "wasAttributedTo")]
    assert any("bundled-corpus" in str(v) for v in attributed)


# --- the bibliography -------------------------------------------------------------------------


def test_bibliography_as_csl_json_bibtex_and_text(client: TestClient) -> None:
    schema = shared_file("external/csl/schemas/input/csl-data.json")
    validator = Draft7Validator(json.loads(schema.read_text(encoding="utf-8")))
    expected_items: dict[str, set[str]] = defaultdict(set)
    spans = {s["id"]: s for s in annotations("span")}
    # a note with no title, author, container or publisher (a broken or empty one, or an
    # "Ibid." of one) names no source: it has no place in a bibliography
    naming = ("title", "author", "editor", "container-title", "publisher", "URL", "DOI")
    unidentified = {
        c["id"] for c in annotations("citation") if not any(c["csl"].get(k) for k in naming)
    }
    for ev in annotations("evidence"):
        span = spans[ev["span_id"]]
        cited = set(span["citation_ids"]) - unidentified
        expected_items[ev["claim_id"]] |= {span["document_id"], *cited}

    for claim_id in required_claims():
        url = f"/v1/claims/{claim_id}/provenance"
        items = client.get(f"{url}?format=csl-json")
        assert items.headers["content-type"] == "application/vnd.citationstyles.csl+json"
        data = items.json()
        assert not [e.message for e in validator.iter_errors(data)], claim_id
        assert {i["id"] for i in data} == expected_items[claim_id]
        bibtex = client.get(f"{url}?format=bibtex")
        assert bibtex.headers["content-type"] == "application/x-bibtex; charset=utf-8"
        assert bibtex.text.count("\n@") + 1 == len(data)
        for item in data:
            assert "{" + item["id"] + "," in bibtex.text

    figes = next(
        i
        for i in client.get("/v1/claims/amnesty-27-march-1953/provenance?format=csl-json").json()
        if i["id"] == "figes-secret-speech"
    )
    assert figes["author"] == [{"family": "Figes", "given": "Orlando"}]
    assert figes["issued"] == {"date-parts": [[2014]]} and figes["title"] == "The Secret Speech"

    text = client.get("/v1/claims/amnesty-27-march-1953/provenance?format=text&style=mla")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.text.startswith("Figes, Orlando. “The Secret Speech.”")


def test_no_bibliography_entry_is_a_bare_no_date(client: TestClient) -> None:
    """An item citeproc can only print as "n.d." is left out (a broken or empty note), or
    shown as what is known of it (a citation of its own)."""
    for claim_id in required_claims():
        bibtex = client.get(f"/v1/claims/{claim_id}/provenance?format=bibtex").text
        assert "@misc{brief-note-21," not in bibtex  # an "Ibid." of a broken note
        text = client.get(f"/v1/claims/{claim_id}/provenance?format=text").text
        for entry in text.splitlines():
            assert entry.strip() not in ("n.d.", ""), text
    broken = client.get("/v1/citations/brief-note-20?format=text").text
    assert "ead9419c995" in broken and broken != "n.d."
