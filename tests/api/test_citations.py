"""Citations through HTTP, as a teacher exporting a reference or a curator adding a note."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator
from sqlalchemy import select
from sqlmodel import Session

from archive.bundled import CORPUS
from archive.models import Change, Span
from tests.shared import shared_file

PROBLEM = "application/problem+json"
CSL_JSON = "application/vnd.citationstyles.csl+json"


def annotations(kind: str) -> list[dict[str, Any]]:
    lines = (CORPUS / "annotations.ndjson").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == kind]


def csl_validator() -> Draft7Validator:
    path = shared_file("external/csl/schemas/input/csl-data.json")
    return Draft7Validator(json.loads(path.read_text(encoding="utf-8")))


def walk(client: TestClient, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        url = body["next_cursor"] and f"{url.split('?')[0]}?limit=100&cursor={body['next_cursor']}"
    return items


def text_of(client: TestClient, citation_id: str, style: str, form: str = "") -> str:
    extra = f"&form={form}" if form else ""
    response = client.get(f"/v1/citations/{citation_id}?format=text&style={style}{extra}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    return response.text


# --- the bundled citations ------------------------------------------------------------------


def test_every_citation_of_the_corpus_is_served(client: TestClient) -> None:
    expected = {c["id"]: c for c in annotations("citation")}
    served = walk(client, "/v1/citations?limit=100")
    assert {c["id"] for c in served} == set(expected)
    spans = annotations("span")
    for citation in served:
        curated = expected[citation["id"]]
        for key in ("document_id", "label", "raw", "csl", "status"):
            assert citation[key] == curated[key], (citation["id"], key)
        linked = {s["id"] for s in spans if citation["id"] in s["citation_ids"]}
        assert set(citation["span_ids"]) == linked


def test_every_stored_csl_item_is_valid_csl_json(client: TestClient) -> None:
    validator = csl_validator()
    curated = [c["csl"] for c in annotations("citation")]
    stored = [c["csl"] for c in walk(client, "/v1/citations?limit=100")]
    assert len(stored) == len(curated) == 37
    for item in curated + stored:
        errors = [e.message for e in validator.iter_errors([item])]
        assert not errors, (item["id"], errors)
    as_csl_json = client.get("/v1/citations/brief-note-16?format=csl-json")
    assert as_csl_json.headers["content-type"] == CSL_JSON
    assert not list(validator.iter_errors(as_csl_json.json()))


def test_filters_and_a_documents_citations(client: TestClient) -> None:
    curated = annotations("citation")
    for status in ("ok", "broken", "empty", "ibid"):
        body = client.get(f"/v1/citations?status={status}&limit=100").json()
        assert body["total"] == sum(1 for c in curated if c["status"] == status)
        assert {c["status"] for c in body["items"]} <= {status}
    fear = client.get("/v1/documents/fear-backstage/citations")
    assert fear.status_code == 200
    assert {c["id"] for c in fear.json()["items"]} == {
        c["id"] for c in curated if c["document_id"] == "fear-backstage"
    }
    assert client.get("/v1/citations?document=fear-backstage").json() == fear.json()
    by_span = client.get("/v1/citations?span=brief-note-9-text").json()
    assert [c["id"] for c in by_span["items"]] == ["brief-note-9"]
    missing = client.get("/v1/documents/no-such-doc/citations")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert client.get("/v1/citations?status=lost").status_code == 422


def test_pagination_walks_every_citation_once(client: TestClient) -> None:
    seen, url = [], "/v1/citations?limit=10"
    while url:
        response = client.get(url)
        body = response.json()
        assert body["total"] == 37 and len(body["items"]) <= 10
        seen += [c["id"] for c in body["items"]]
        url = body["next_cursor"] and f"/v1/citations?limit=10&cursor={body['next_cursor']}"
        if url:
            assert 'rel="next"' in response.headers["link"]
    assert len(seen) == len(set(seen)) == 37
    assert client.get("/v1/citations?cursor=garbage").status_code == 400


# --- formatted references ---------------------------------------------------------------------


def test_taubman_in_chicago_apa_and_mla(client: TestClient) -> None:
    chicago = text_of(client, "brief-note-9", "chicago-notes-bibliography")
    assert chicago.startswith("Taubman, William. Khrushchev: The Man and His Era. W.W. Norton")
    assert "2003" in chicago and "273" in chicago
    assert text_of(client, "brief-note-9", "chicago") == chicago  # the alias
    note = text_of(client, "brief-note-9", "chicago", form="citation")
    assert note.startswith("William Taubman, Khrushchev: The Man and His Era (W.W. Norton")
    assert note.rstrip().endswith("273.")
    apa = text_of(client, "brief-note-9", "apa")
    assert apa.startswith("Taubman, W. (2003). Khrushchev: The Man and His Era")
    assert "p. 273" in apa
    mla = text_of(client, "brief-note-9", "mla")
    assert mla.startswith("Taubman, William. Khrushchev: The Man and His Era. W.W. Norton")
    assert "2003, p. 273" in mla
    assert text_of(client, "brief-note-9", "modern-language-association") == mla
    # the Ibid notes resolve to Taubman with their own page
    assert "274" in text_of(client, "brief-note-11", "apa")


def test_tromly_with_its_doi_in_chicago_apa_and_mla(client: TestClient) -> None:
    doi = "https://doi.org/10.1080/0966813041000235119"
    chicago = text_of(client, "brief-note-16", "chicago")
    assert chicago.startswith("Tromly, Benjamin. “The Leningrad Affair and Soviet Patronage")
    assert "Europe-Asia Studies 56, no. 5 (2004): 707–29" in chicago and doi in chicago
    apa = text_of(client, "brief-note-16", "apa")
    assert apa.startswith("Tromly, B. (2004). The Leningrad affair and Soviet patronage politics")
    assert "Europe-Asia Studies, 56(5), 707–729" in apa and doi in apa
    mla = text_of(client, "brief-note-16", "mla")
    assert "Europe-Asia Studies, vol. 56, no. 5, 2004, pp. 707–29" in mla and doi in mla
    author_date = text_of(client, "brief-note-16", "chicago-author-date")
    assert author_date.startswith("Tromly, Benjamin. 2004.")


def test_davies_page_179_in_chicago_apa_and_mla(client: TestClient) -> None:
    chicago = text_of(client, "brief-note-30", "chicago")
    assert chicago.startswith("Davies, A.J. To Build A New Jerusalem.") and "179" in chicago
    assert "Abacus" in chicago and "1996" in chicago
    assert "(p. 179)" in text_of(client, "brief-note-30", "apa")
    assert "1996, p. 179" in text_of(client, "brief-note-30", "mla")
    assert text_of(client, "brief-note-30", "chicago", form="citation").startswith(
        "A.J. Davies, To Build A New Jerusalem"
    )


def test_bibtex(client: TestClient) -> None:
    response = client.get("/v1/citations/brief-note-16?format=bibtex")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    entry = response.text
    assert entry.startswith("@article{brief-note-16,")
    for field in (
        "author = {Tromly, Benjamin}",
        "journal = {Europe-Asia Studies}",
        "volume = {56}",
        "number = {5}",
        "pages = {707--729}",
        "year = {2004}",
        "doi = {10.1080/0966813041000235119}",
    ):
        assert field in entry
    taubman = client.get("/v1/citations/brief-note-9?format=bibtex").text
    assert taubman.startswith("@book{brief-note-9,")
    assert "publisher = {W.W. Norton \\& Co.}" in taubman and "pages = {273}" in taubman
    by_accept = client.get(
        "/v1/citations/brief-note-16", headers={"Accept": "application/x-bibtex"}
    )
    assert by_accept.text == entry


def test_formats_carry_etags_and_bad_styles_are_named(client: TestClient) -> None:
    for query in ("", "?format=bibtex", "?format=text&style=apa", "?format=csl-json"):
        first = client.get(f"/v1/citations/brief-note-16{query}")
        assert first.status_code == 200 and first.headers["etag"]
        again = client.get(
            f"/v1/citations/brief-note-16{query}", headers={"If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304
    apa = client.get("/v1/citations/brief-note-16?format=text&style=apa").headers["etag"]
    mla = client.get("/v1/citations/brief-note-16?format=text&style=mla").headers["etag"]
    assert apa != mla
    bad = client.get("/v1/citations/brief-note-16?format=text&style=harvard")
    assert bad.status_code == 422 and "harvard" in bad.json()["detail"]
    assert client.get("/v1/citations/brief-note-16?format=ris").status_code == 422
    assert client.get("/v1/citations/no-such-note?format=bibtex").status_code == 404


# --- writes -----------------------------------------------------------------------------------


NEW = {
    "document_id": "secret-speech-brief",
    "label": "9",
    "raw": "Taubman, William (2003), Khrushchev: The Man and His Era, W.W. Norton & Co., p 273",
    "csl": {
        "type": "book",
        "author": [{"family": "Taubman", "given": "William"}],
        "title": "Khrushchev: The Man and His Era",
        "issued": {"date-parts": [[2003]]},
    },
    "span_ids": ["brief-note-9-text"],
}


def test_create_read_update_delete(writer: TestClient, session: Session) -> None:
    created = writer.post("/v1/citations", json=NEW)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("cit-") and body["csl"]["id"] == body["id"]
    assert body["status"] == "ok" and body["created_by"] == "teacher"
    assert body["span_ids"] == ["brief-note-9-text"]
    location = created.headers["location"]
    assert location.endswith(f"/v1/citations/{body['id']}")
    fetched = writer.get(location)
    assert fetched.json() == body and fetched.headers["etag"] == created.headers["etag"]
    assert "Taubman" in writer.get(f"{location}?format=text").text

    chosen = writer.post("/v1/citations", json={**NEW, "id": "taubman-again", "span_ids": []})
    assert chosen.status_code == 201 and chosen.json()["csl"]["id"] == "taubman-again"
    assert writer.post("/v1/citations", json={**NEW, "id": "taubman-again"}).status_code == 409

    etag = fetched.headers["etag"]
    stale = writer.patch(location, json={"label": "10"}, headers={"If-Match": '"stale"'})
    assert stale.status_code == 412
    assert writer.get(location).json()["label"] == "9"
    changed = writer.patch(
        location, json={"label": "9a", "span_ids": []}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["label"] == "9a" and changed.json()["span_ids"] == []
    assert changed.headers["etag"] != etag
    assert writer.delete(location, headers={"If-Match": etag}).status_code == 412
    assert writer.delete(location).status_code == 204
    assert writer.get(location).status_code == 404
    assert session.get(Span, "brief-note-9-text") is not None  # the span stays

    recorded = session.execute(
        select(Change.action, Change.actor)
        .where(Change.entity == "citation", Change.entity_id == body["id"])
        .order_by(Change.seq)
    ).all()
    assert [tuple(r) for r in recorded] == [
        ("create", "teacher"),
        ("update", "teacher"),
        ("delete", "teacher"),
    ]


def test_a_missing_note_is_empty_and_status_follows_raw(writer: TestClient) -> None:
    empty = writer.post(
        "/v1/citations", json={"document_id": "secret-speech-brief", "label": "33"}
    ).json()
    assert empty["status"] == "empty" and empty["raw"] == ""
    assert empty["csl"] == {"id": empty["id"], "type": "document"}
    filled = writer.patch(
        f"/v1/citations/{empty['id']}", json={"raw": "A.J. Davies, To Build A New Jerusalem"}
    )
    assert filled.status_code == 200 and filled.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"raw": "Taubman, William (2004)"}, "raw"),
        ({"raw": "bad\u0000nul"}, "raw"),
        ({"label": "x" * 65}, "label"),
        ({"csl": {"type": "journal-article"}}, "type"),
        ({"csl": {"type": "book", "author": "Taubman"}}, "author"),
        ({"csl": {"type": "book", "colour": "red"}}, "colour"),
        ({"csl": {"type": "book", "title": "nul\u0000"}}, "csl"),
        ({"csl": {"type": "book", "issued": {"date-parts": [[2**60]]}}}, "csl"),
        ({"span_ids": ["figes-amnesty-million"]}, "span_ids"),
        ({"span_ids": ["no-such-span"]}, "span_ids"),
        ({"document_id": "no-such-doc"}, "document_id"),
        ({"status": "ok", "raw": ""}, "raw"),
        ({"id": "Not An Id"}, "id"),
        ({"csl": "Taubman 2003"}, "csl"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    writer: TestClient, change: dict[str, Any], named: str
) -> None:
    response = writer.post("/v1/citations", json={**NEW, **change})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert named in response.text


def test_non_finite_numbers_in_csl_are_refused(writer: TestClient) -> None:
    body = json.dumps({**NEW, "csl": {"type": "book", "volume": 1}}).replace(
        '"volume": 1', '"volume": NaN'
    )
    response = writer.post(
        "/v1/citations", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and "finite" in response.json()["detail"]


def test_writes_need_a_key(client: TestClient) -> None:
    assert client.post("/v1/citations", json=NEW).status_code == 401
    assert client.patch("/v1/citations/brief-note-9", json={"label": "x"}).status_code == 401
    assert client.delete("/v1/citations/brief-note-9").status_code == 401
    assert client.get("/v1/citations/brief-note-9").json()["label"] == "9"
