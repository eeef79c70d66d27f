"""The spans API, and re-anchoring on PUT /v1/documents/{id}/text, as a curl user meets them."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
ANNOTATION = 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'
BRIEF = "secret-speech-brief"
FEAR = "fear-backstage"
GOD_KNOWS = "God knows what we’re supposed to think"


def problem(response, status: int) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


def test_create_a_span_by_its_words(writer: TestClient, seeds: dict[str, str]) -> None:
    response = writer.post(
        f"/v1/documents/{BRIEF}/spans",
        json={"exact": GOD_KNOWS, "suffix": "…What", "speaker": "Sergei Mezentsev"},
    )
    assert response.status_code == 201, response.text
    span = response.json()
    text = seeds[BRIEF]
    second = text.index(GOD_KNOWS, text.index(GOD_KNOWS) + 1)
    assert (span["start"], span["end"]) == (second, second + len(GOD_KNOWS))
    assert span["prefix"] == text[second - 32 : second]
    assert span["created_by"] == "teacher"
    assert response.headers["location"].endswith(f"/v1/spans/{span['id']}")
    fetched = writer.get(f"/v1/spans/{span['id']}")
    assert fetched.json() == span
    assert fetched.headers["etag"] == response.headers["etag"]


def test_an_ambiguous_or_absent_quote_is_explained(
    writer: TestClient, seeds: dict[str, str]
) -> None:
    body = problem(writer.post(f"/v1/documents/{BRIEF}/spans", json={"exact": GOD_KNOWS}), 409)
    assert "2 times" in body["detail"]
    starts = [c["start"] for c in body["candidates"]]
    text = seeds[BRIEF]
    assert starts == [text.index(GOD_KNOWS), text.index(GOD_KNOWS, text.index(GOD_KNOWS) + 1)]
    assert all(set(c) == {"start", "end", "prefix", "suffix"} for c in body["candidates"])
    absent = problem(
        writer.post(f"/v1/documents/{BRIEF}/spans", json={"exact": "Workers of the world"}), 422
    )
    assert "does not occur" in absent["detail"]
    near = problem(
        writer.post(f"/v1/documents/{BRIEF}/spans", json={"exact": "God knows what we are"}), 422
    )
    assert near["suggestions"][0]["exact"] == "God knows what we’re"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"start": 0, "end": 10**6}, "past the end"),
        ({"start": 20, "end": 10}, "less than end"),
        ({"start": -3, "end": 10}, "start"),
        ({"start": "0", "end": 10}, "start"),
        ({"start": 0, "end": 2**31}, "end"),
        ({"exact": "a\x00b"}, "exact"),
        ({"exact": "\ud800"}, "exact"),
        ({"exact": ""}, "exact"),
        ({"exact": "Stalin", "kind": "speech"}, "kind"),
        ({"exact": "Mezentsev", "citation_ids": ["fear-moskovskiye-novosti"]}, "citation_ids"),
        ({"exact": "Mezentsev", "quoted_from": "no-such-span"}, "quoted_from"),
        ({"exact": "Mezentsev", "colour": "red"}, "colour"),
    ],
)
def test_spans_that_cannot_be_made_are_422(writer: TestClient, body: dict, where: str) -> None:
    raw = json.dumps(body).encode()  # ASCII escapes: a lone surrogate travels as \\ud800
    response = writer.post(
        f"/v1/documents/{BRIEF}/spans", content=raw, headers={"Content-Type": "application/json"}
    )
    assert where in problem(response, 422)["detail"]


def test_offsets_that_split_a_character_are_422(writer: TestClient) -> None:
    text = "Imre Nagy and Jo\u0301zsef Mindszenty"
    writer.post("/v1/documents", json={"id": "accents", "title": "Accents", "text": text})
    inside = text.index("\u0301")
    body = problem(
        writer.post("/v1/documents/accents/spans", json={"start": inside, "end": len(text)}), 422
    )
    assert "inside a character" in body["detail"]


def test_writes_need_a_key(client: TestClient) -> None:
    problem(client.post(f"/v1/documents/{BRIEF}/spans", json={"exact": "Mezentsev"}), 401)
    problem(client.patch("/v1/spans/brief-mezentsev-title", json={"note": "x"}), 401)
    problem(client.delete("/v1/spans/brief-mezentsev-title"), 401)
    problem(client.put(f"/v1/documents/{FEAR}/text", content=b"x"), 401)


def test_a_document_s_spans_in_text_order_with_links(client: TestClient) -> None:
    first = client.get(f"/v1/documents/{BRIEF}/spans?limit=5")
    assert first.status_code == 200
    body = first.json()
    assert len(body["items"]) == 5 and body["total"] > 5
    assert 'rel="next"' in first.headers["link"]
    items = body["items"]
    items += client.get(
        f"/v1/documents/{BRIEF}/spans?limit=100&cursor={body['next_cursor']}"
    ).json()["items"]
    keys = [(s["start"], s["end"]) for s in items]
    assert keys == sorted(keys) and len(items) == body["total"]
    problem(client.get("/v1/documents/no-such-document/spans"), 404)
    problem(client.get(f"/v1/documents/{BRIEF}/spans?cursor=nonsense"), 400)


def test_spans_across_documents_with_filters(client: TestClient) -> None:
    mikoyan = client.get("/v1/spans?speaker=mikoyan&kind=quote&limit=100").json()
    assert mikoyan["total"] >= 3
    assert {s["speaker"] for s in mikoyan["items"]} == {"Anastas Mikoyan"}
    assert {s["document_id"] for s in mikoyan["items"]} == {FEAR}
    only = client.get(f"/v1/spans?document={FEAR}&limit=100").json()
    assert {s["document_id"] for s in only["items"]} == {FEAR}
    assert client.get("/v1/spans?anchor_status=orphaned").json()["total"] == 0
    problem(client.get("/v1/spans?kind=speech"), 422)
    problem(client.get("/v1/spans?anchor_status=lost"), 422)


def test_a_span_is_cached_and_guarded_by_its_etag(writer: TestClient) -> None:
    url = "/v1/spans/brief-mezentsev-title"
    first = writer.get(url)
    etag = first.headers["etag"]
    assert writer.get(url, headers={"If-None-Match": etag}).status_code == 304
    changed = writer.patch(url, json={"tags": ["headline"]}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.json()["tags"] == ["headline"]
    stale = writer.patch(url, json={"tags": ["again"]}, headers={"If-Match": etag})
    problem(stale, 412)
    assert writer.get(url).json()["tags"] == ["headline"]


def test_patch_retargets_and_relinks(writer: TestClient, seeds: dict[str, str]) -> None:
    made = writer.post(f"/v1/documents/{BRIEF}/spans", json={"exact": "Sergei Mezentsev"}).json()
    response = writer.patch(
        f"/v1/spans/{made['id']}",
        json={"exact": GOD_KNOWS, "suffix": "!”", "citation_ids": ["brief-note-10"]},
    )
    assert response.status_code == 200, response.text
    span = response.json()
    assert span["start"] == seeds[BRIEF].index(GOD_KNOWS)
    assert span["citation_ids"] == ["brief-note-10"]
    own = problem(writer.patch(f"/v1/spans/{made['id']}", json={"quoted_from": made["id"]}), 422)
    assert "itself" in own["detail"]


def test_a_span_in_use_cannot_be_deleted(writer: TestClient) -> None:
    body = problem(writer.delete("/v1/spans/brief-nyt-5-june"), 409)
    assert "nyt-full-text-5-june-1956" in body["claims"]
    assert writer.get("/v1/spans/brief-nyt-5-june").status_code == 200
    made = writer.post(f"/v1/documents/{BRIEF}/spans", json={"exact": "Sergei Mezentsev"}).json()
    assert writer.delete(f"/v1/spans/{made['id']}").status_code == 204
    problem(writer.get(f"/v1/spans/{made['id']}"), 404)


def test_fidelity_of_a_quotation(client: TestClient) -> None:
    response = client.get("/v1/spans/brief-mezentsev-title/fidelity")
    assert response.status_code == 200
    body = response.json()
    assert body["quoted_from"] == "brief-mezentsev-what-next"
    # The brief's headline stops at "think!" where Mezentsev's sentence runs on with
    # "…What will happen next?": the same words, but cut short and repunctuated.
    assert body["verdict"] == "normalized" and 0.9 < body["score"] < 1.0
    assert body["truncated"] is True and body["punctuation"] is True
    assert body["quote"].endswith("think!") and "think…What" in body["source"]
    assert body["diff"][0]["op"] == "equal"
    unset = problem(client.get("/v1/spans/fear-mikoyan-went-to-khrushchev/fidelity"), 409)
    assert "quoted_from" in unset["detail"]
    problem(client.get("/v1/spans/no-such-span/fidelity"), 404)


def test_a_span_as_a_web_annotation(client: TestClient) -> None:
    for response in (
        client.get("/v1/spans/fear-mikoyan-went-to-khrushchev?format=jsonld"),
        client.get(
            "/v1/spans/fear-mikoyan-went-to-khrushchev",
            headers={"Accept": "application/ld+json"},
        ),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == ANNOTATION
        annotation = response.json()
        assert annotation["type"] == "Annotation"
        assert annotation["target"]["source"].endswith(f"/v1/documents/{FEAR}")
    plain = client.get("/v1/spans/fear-mikoyan-went-to-khrushchev")
    assert plain.headers["content-type"] == "application/json"
    assert plain.headers["etag"] != response.headers["etag"]


# --- PUT /v1/documents/{id}/text -----------------------------------------------------------


def test_a_new_text_re_anchors_every_span(writer: TestClient, seeds: dict[str, str]) -> None:
    before = writer.get(f"/v1/spans?document={FEAR}&limit=100").json()["items"]
    note = "Reposted with photographs.\n\n"
    resolve = "But why did Khrushchev show such resolve in the fall of 1955?\n\n"
    text = note + seeds[FEAR].replace(resolve, "")
    etag = writer.get(f"/v1/documents/{FEAR}/text").headers["etag"]
    response = writer.put(
        f"/v1/documents/{FEAR}/text",
        content=text.encode("utf-8"),
        headers={"Content-Type": "text/plain; charset=utf-8", "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["revision"] == 2 and body["changed"] is True
    assert body["anchoring"] == {"exact": len(before) - 1, "moved": 0, "fuzzy": 0, "orphaned": 1}
    assert writer.get(f"/v1/documents/{FEAR}/text").text == text
    assert writer.get(f"/v1/documents/{FEAR}").json()["revision"] == 2
    orphans = writer.get(f"/v1/spans?document={FEAR}&anchor_status=orphaned").json()["items"]
    assert [s["id"] for s in orphans] == ["fear-resolve-1955"]
    for span in writer.get(f"/v1/spans?document={FEAR}&anchor_status=exact&limit=100").json()[
        "items"
    ]:
        assert text[span["start"] : span["end"]] == span["exact"]
    # the ETag it answered guards the next revision
    assert response.headers["etag"] == writer.get(f"/v1/documents/{FEAR}/text").headers["etag"]
    stale = writer.put(
        f"/v1/documents/{FEAR}/text",
        json={"text": seeds[FEAR]},
        headers={"If-Match": etag},
    )
    problem(stale, 412)


def test_a_new_text_as_json_and_the_same_text_again(
    writer: TestClient, seeds: dict[str, str]
) -> None:
    text = seeds[FEAR] + "\n\nPostscript."
    first = writer.put(f"/v1/documents/{FEAR}/text", json={"text": text})
    assert first.status_code == 200 and first.json()["revision"] == 2
    again = writer.put(f"/v1/documents/{FEAR}/text", json={"text": text})
    assert again.json()["revision"] == 2 and again.json()["changed"] is False


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"", "text/plain", 422),
        (b"\xff\xfe not utf-8", "text/plain; charset=utf-8", 422),
        (b"a \x00 b", "text/plain", 422),
        (b'{"text": ""}', "application/json", 422),
        (b'{"text": "x", "title": "y"}', "application/json", 422),
        (b'{"text": "\\ud800"}', "application/json", 422),
        (b"{not json", "application/json", 422),
        (b"--x\r\n", "multipart/form-data; boundary=x", 415),
        (b"text", "text/plain; charset=klingon", 415),
    ],
)
def test_a_text_that_cannot_be_stored_is_refused(
    writer: TestClient, content: bytes, content_type: str, status: int
) -> None:
    response = writer.put(
        f"/v1/documents/{FEAR}/text", content=content, headers={"Content-Type": content_type}
    )
    problem(response, status)
    assert writer.get(f"/v1/documents/{FEAR}").json()["revision"] == 1


def test_speaker_ignores_case_in_every_script_and_apostrophe_forms(writer: TestClient) -> None:
    for body in (
        {"exact": "Sergei Mezentsev", "speaker": "József Ösztön"},
        {"exact": GOD_KNOWS, "suffix": "…What", "speaker": "Seán O’Casey"},
    ):
        made = writer.post(f"/v1/documents/{BRIEF}/spans", json=body)
        assert made.status_code == 201, made.text

    def speakers(query: str) -> set[str]:
        response = writer.get(f"/v1/spans?limit=100&speaker={query}")
        assert response.status_code == 200, response.text
        return {s["speaker"] for s in response.json()["items"]}

    assert speakers("ösztön") == speakers("ÖSZTÖN") == {"József Ösztön"}
    assert speakers("o'casey") == speakers("O’CASEY") == {"Seán O’Casey"}
    assert speakers("SEÁN") == {"Seán O’Casey"}


@pytest.mark.parametrize("span_id", ["brief-mezentsev-title", "fear-volkogonov"])
def test_a_patch_that_changes_nothing_changes_nothing(writer: TestClient, span_id: str) -> None:
    url = f"/v1/spans/{span_id}"
    before = writer.get(url)
    span = before.json()
    assert span["anchor_status"] == "exact"
    latest = writer.get("/v1/changes").json()["latest"]
    fields = ("kind", "speaker", "quoted_from", "note", "tags", "citation_ids")
    same = {k: span[k] for k in fields}
    for body in (
        {},
        same,
        {"start": span["start"], "end": span["end"]},
        {"exact": span["exact"], "prefix": span["prefix"], "suffix": span["suffix"]},
        {"citation_ids": list(reversed(span["citation_ids"]))},
    ):
        response = writer.patch(url, json=body, headers={"If-Match": before.headers["etag"]})
        assert response.status_code == 200, response.text
        assert response.json() == span
        assert response.headers["etag"] == before.headers["etag"]
    assert writer.get("/v1/changes", params={"since": latest}).json()["items"] == []

    changed = writer.patch(url, json={**same, "note": "checked"})
    assert changed.json()["note"] == "checked"
    assert changed.headers["etag"] != before.headers["etag"]
    feed = writer.get("/v1/changes", params={"since": latest}).json()["items"]
    assert [(c["entity"], c["id"], c["action"]) for c in feed] == [("span", span_id, "update")]
