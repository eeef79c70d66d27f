"""The documents API as a teacher's tool or a curl user meets it."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from tests.shared import shared_file

PROBLEM = "application/problem+json"
BUNDLED = {
    "figes-secret-speech",
    "siegelbaum-secret-speech",
    "secret-speech-brief",
    "fear-backstage",
    "not-so-secret-speech",
}


def test_lists_the_five_bundled_documents(client: TestClient) -> None:
    response = client.get("/v1/documents")
    assert response.status_code == 200
    body = response.json()
    assert {d["id"] for d in body["items"]} == BUNDLED
    assert body["total"] == 5 and body["next_cursor"] is None
    figes = next(d for d in body["items"] if d["id"] == "figes-secret-speech")
    assert figes["creators"] == [{"name": "Orlando Figes", "role": "author"}]
    assert figes["published"] == "2014"
    assert set(figes["counts"]) == {"spans", "citations", "claims"}


def test_each_text_is_byte_identical_to_its_seed(client: TestClient, seeds: dict[str, str]) -> None:
    import json

    from archive.bundled import CORPUS

    for entry in json.loads((CORPUS / "documents.json").read_text(encoding="utf-8")):
        response = client.get(f"/v1/documents/{entry['id']}/text")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        seed = shared_file(f"seeds/{entry['file']}").read_bytes()
        assert response.content == seed
        doc = client.get(f"/v1/documents/{entry['id']}").json()
        assert doc["text_sha256"] == hashlib.sha256(seed).hexdigest()
        assert doc["length"] == len(seed.decode("utf-8"))


def test_text_slices_count_code_points(client: TestClient, seeds: dict[str, str]) -> None:
    text = seeds["siegelbaum-secret-speech"]
    response = client.get("/v1/documents/siegelbaum-secret-speech/text?start=0&end=26")
    assert response.text == text[:26] == "Khrushchev’s Secret Speech"
    assert client.get("/v1/documents/siegelbaum-secret-speech/text?start=5000").status_code == 400
    bad = client.get("/v1/documents/siegelbaum-secret-speech/text?start=10&end=5")
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM
    assert "start" in bad.json()["detail"]


def test_filters(client: TestClient) -> None:
    def ids(query: str) -> set[str]:
        response = client.get(f"/v1/documents?{query}")
        assert response.status_code == 200, response.text
        return {d["id"] for d in response.json()["items"]}

    assert ids("creator=figes") == {"figes-secret-speech"}
    assert ids("creator=siegelbaum") == {"siegelbaum-secret-speech"}
    assert ids("q=fear%20backstage") == {"fear-backstage"}
    assert ids("q=secret") == BUNDLED
    assert ids("published_from=2014-06") == {"figes-secret-speech"}
    assert ids("published_to=2013") == set()
    assert ids("kind=primary") == set()
    assert client.get("/v1/documents?published_from=June").status_code == 422


def test_cursor_pagination_walks_every_document_once(client: TestClient) -> None:
    seen, url, pages = [], "/v1/documents?limit=2", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == 5
        seen += [d["id"] for d in body["items"]]
        pages += 1
        if body["next_cursor"]:
            assert 'rel="next"' in response.headers["link"]
            url = response.headers["link"].split(">")[0].lstrip("<")
        else:
            assert "link" not in response.headers
            url = None
    assert pages == 3 and sorted(seen) == sorted(BUNDLED) and len(seen) == 5


@pytest.mark.parametrize("cursor", ["garbage", "eyJub3QiOiJ5b3VycyJ9", "%FF%FE"])
def test_malformed_cursor_is_a_400(client: TestClient, cursor: str) -> None:
    response = client.get(f"/v1/documents?cursor={cursor}")
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert "cursor" in response.json()["detail"]


def test_etag_and_304(client: TestClient) -> None:
    first = client.get("/v1/documents/fear-backstage")
    etag = first.headers["etag"]
    again = client.get("/v1/documents/fear-backstage", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = client.get("/v1/documents/fear-backstage", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200
    text = client.get("/v1/documents/fear-backstage/text")
    assert (
        client.get(
            "/v1/documents/fear-backstage/text", headers={"If-None-Match": text.headers["etag"]}
        ).status_code
        == 304
    )


def test_write_without_a_key_is_401_problem(client: TestClient) -> None:
    response = client.post("/v1/documents", json={"title": "x", "text": "y"})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["status"] == 401 and "key" in body["detail"]
    wrong = client.post(
        "/v1/documents", json={"title": "x", "text": "y"}, headers={"Authorization": "Bearer no"}
    )
    assert wrong.status_code == 401
    assert client.get("/v1/documents?q=x").status_code == 200


def test_create_read_patch_delete(writer: TestClient) -> None:
    text = "Stalin told him curtly, “If you do not obtain confessions from the doctors…”"
    created = writer.post(
        "/v1/documents",
        json={"title": "Ignatiev: the doctors’ plot", "text": text, "published": "1956-02"},
    )
    assert created.status_code == 201, created.text
    doc = created.json()
    assert doc["id"] == "ignatiev-the-doctors-plot"
    assert created.headers["location"].endswith("/v1/documents/ignatiev-the-doctors-plot")
    assert doc["length"] == len(text) and doc["revision"] == 1
    assert writer.get(created.headers["location"]).json()["title"] == doc["title"]
    assert writer.get(f"/v1/documents/{doc['id']}/text").text == text

    again = writer.post("/v1/documents", json={"title": "Ignatiev: the doctors’ plot", "text": "x"})
    assert again.json()["id"] == "ignatiev-the-doctors-plot-2"
    dup = writer.post("/v1/documents", json={"id": doc["id"], "title": "t", "text": "x"})
    assert dup.status_code == 409 and doc["id"] in dup.json()["detail"]

    etag = writer.get(f"/v1/documents/{doc['id']}").headers["etag"]
    patched = writer.patch(
        f"/v1/documents/{doc['id']}", json={"publisher": "Pravda"}, headers={"If-Match": etag}
    )
    assert patched.status_code == 200 and patched.json()["publisher"] == "Pravda"
    stale = writer.patch(
        f"/v1/documents/{doc['id']}", json={"publisher": "Izvestia"}, headers={"If-Match": etag}
    )
    assert stale.status_code == 412
    assert writer.get(f"/v1/documents/{doc['id']}").json()["publisher"] == "Pravda"
    no_text = writer.patch(f"/v1/documents/{doc['id']}", json={"text": "changed"})
    assert no_text.status_code == 422

    assert writer.delete(f"/v1/documents/{doc['id']}").status_code == 204
    assert writer.get(f"/v1/documents/{doc['id']}").status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"title": "t"}, "text"),
        ({"text": "t"}, "title"),
        ({"title": "t", "text": ""}, "text"),
        ({"title": "t", "text": "x", "id": "Not A Slug"}, "id"),
        ({"title": "t", "text": "x", "published": "1956-13"}, "published"),
        ({"title": "t", "text": "x", "kind": "tertiary"}, "kind"),
        ({"title": "t", "text": "nul \u0000 byte"}, "text"),
        ({"title": "t", "text": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_documents_are_422_naming_the_field(writer: TestClient, body: dict, field: str) -> None:
    response = writer.post("/v1/documents", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in response.json()["detail"]
    assert writer.get("/v1/documents").json()["total"] == 5


def test_health(client: TestClient, dialect: str) -> None:
    body = client.get("/v1/health").json()
    assert body == {"status": "ok", "database": dialect, "documents": 5}


def _ids(client: TestClient, query: str) -> set[str]:
    response = client.get(f"/v1/documents?limit=100&{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {d["id"] for d in body["items"]}


def _add(writer: TestClient, doc_id: str, title: str, *creators: dict[str, str]) -> None:
    """A one-word document with this title and these creators."""
    created = writer.post(
        "/v1/documents",
        json={"id": doc_id, "title": title, "text": "x", "creators": list(creators)},
    )
    assert created.status_code == 201, created.text


def test_creator_matches_names_not_the_stored_json(writer: TestClient) -> None:
    """`creator` is part of a creator's name: never a role, a key or the JSON around them."""
    _add(writer, "memoirs", "Memoirs", {"name": "Strobe Talbott", "role": "translator"})
    for query in ("role", "name", "author", "translator", "%22", "%7B", ":", ", "):
        assert _ids(writer, f"creator={query}") == set(), query
    assert _ids(writer, "creator=FIGES") == {"figes-secret-speech"}
    assert _ids(writer, "creator=orlando%20fig") == {"figes-secret-speech"}
    assert _ids(writer, "creator=talbott") == {"memoirs"}
    assert _ids(writer, "creator=bott&kind=secondary") == {"memoirs"}


def test_title_and_creator_ignore_case_in_every_script(writer: TestClient) -> None:
    """On SQLite as on PostgreSQL: SQLite's own lower() folds ASCII only."""
    _add(
        writer,
        "etudes",
        "Études sur Józef Świętochowski",
        {"name": "József Ösztön", "role": "author"},
    )
    for query in ("q=études", "q=ÉTUDES", "q=ŚWIĘTOCHOWSKI%20józef", "creator=ösztön"):
        assert _ids(writer, query) == {"etudes"}, query
    assert _ids(writer, "creator=JÓZSEF%20Ö") == {"etudes"}
    assert _ids(writer, "q=etudes") == set(), "accents are kept: only case is ignored"


def test_dotted_capital_i_and_final_sigma_fold_alike_on_both_databases(
    writer: TestClient,
) -> None:
    """Python lower-cases İ to two characters and a word-final Σ to ς; PostgreSQL to i and
    σ. The filters fold one letter for one and read ς as σ, so both find the same."""
    _add(writer, "odos", "İstanbul and ΟΔΟΣ notes", {"name": "ΣΩΚΡΑΤΗΣ İnce"})
    for query in ("q=İstanbul", "q=istanbul", "q=ΟΔΟΣ", "q=οδος", "q=οδοσ", "creator=ΣΩΚΡΑΤΗΣ"):
        assert _ids(writer, query) == {"odos"}, query
    for query in ("creator=İnce", "creator=ince", "creator=σωκρατης"):
        assert _ids(writer, query) == {"odos"}, query


def test_title_words_treat_straight_and_curly_apostrophes_alike(writer: TestClient) -> None:
    writer.post(
        "/v1/documents", json={"id": "straight", "title": "Khrushchev's Russia", "text": "x"}
    )
    writer.post("/v1/documents", json={"id": "left", "title": "Khrushchev‘s thaw", "text": "x"})
    curly = {"siegelbaum-secret-speech", "not-so-secret-speech"}  # titles typed with ’
    assert curly <= _ids(writer, "q=Khrushchev’s")
    for typed in ("Khrushchev's", "Khrushchev’s", "Khrushchev‘s", "KHRUSHCHEV'S"):
        found = _ids(writer, f"q={typed}")
        assert found >= curly | {"straight", "left"}, typed
        assert found == _ids(writer, "q=Khrushchev's"), typed


def test_a_patch_that_changes_nothing_changes_nothing(writer: TestClient) -> None:
    url = "/v1/documents/figes-secret-speech"
    before = writer.get(url)
    latest = writer.get("/v1/changes").json()["latest"]
    same = {k: before.json()[k] for k in ("title", "kind", "creators", "published", "publisher")}
    for body in ({}, same, {"creators": before.json()["creators"]}):
        response = writer.patch(url, json=body, headers={"If-Match": before.headers["etag"]})
        assert response.status_code == 200, response.text
        assert response.json() == before.json()
        assert response.headers["etag"] == before.headers["etag"]
    assert writer.get(url).headers["etag"] == before.headers["etag"]
    assert writer.get("/v1/changes", params={"since": latest}).json()["items"] == []

    changed = writer.patch(url, json={**same, "publisher": "Pravda"})
    assert changed.json()["publisher"] == "Pravda"
    assert changed.headers["etag"] != before.headers["etag"]
    assert changed.json()["updated_at"] > before.json()["updated_at"]
    feed = writer.get("/v1/changes", params={"since": latest}).json()["items"]
    assert [(c["entity"], c["id"], c["action"]) for c in feed] == [
        ("document", "figes-secret-speech", "update")
    ]
