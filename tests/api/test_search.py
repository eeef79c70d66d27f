"""GET /v1/search as a curl user or a teaching tool meets it (run on both databases)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROBLEM = "application/problem+json"


def test_a_search_answers_with_ranked_items_snippets_and_facets(client: TestClient) -> None:
    response = client.get("/v1/search", params={"q": "Mikoyan"})
    assert response.status_code == 200 and response.headers["ETag"]
    body = response.json()
    assert set(body) >= {"query", "total", "items", "facets", "next_cursor"}
    assert body["query"] == "Mikoyan" and body["total"] == len(body["items"]) > 0
    assert set(body["facets"]) == {"type", "kind", "creator", "year"}
    assert sum(f["count"] for f in body["facets"]["type"]) == body["total"]
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    for item in body["items"]:
        assert set(item) >= {"type", "id", "document_id", "title", "score", "snippet"}
        marked = [item["snippet"][a:b] for a, b in item["highlights"]]
        assert marked and all(m.lower() == "mikoyan" for m in marked)
        if item["type"] == "span":
            span = client.get(f"/v1/documents/{item['document_id']}")
            assert span.status_code == 200 and span.json()["title"] == item["title"]


@pytest.mark.parametrize(
    ("q", "says"),
    [
        ('"secret speech', "never closed"),
        ("NEAR(Stalin Beria)", "NEAR"),
        ("Stalin -", "minus"),
        ("Stalin \x01", "U+0001"),
        ("", "empty"),
    ],
)
def test_unparseable_search_text_is_a_400_that_says_why(
    client: TestClient, q: str, says: str
) -> None:
    response = client.get("/v1/search", params={"q": q})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(PROBLEM)
    assert says in response.json()["detail"]


def test_a_nul_in_the_search_text_is_a_400(client: TestClient) -> None:
    response = client.get("/v1/search?q=Stalin%00")
    assert response.status_code == 400 and response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    "params",
    [
        {"q": "Stalin", "type": "book"},
        {"q": "Stalin", "kind": "tertiary"},
        {"q": "Stalin", "published_from": "1956-13"},
        {"q": "Stalin", "document": "Not An Id"},
        {"q": "Stalin", "limit": 0},
        {"q": "Stalin", "limit": 101},
    ],
)
def test_bad_filters_are_422_problems(client: TestClient, params: dict) -> None:
    response = client.get("/v1/search", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("path", ["/v1/search", "/v1/documents"])
def test_a_bad_date_names_its_parameter(client: TestClient, path: str) -> None:
    for name in ("published_from", "published_to"):
        params = {"q": "Stalin", "published_from": "1956", "published_to": "1956", name: "2014-13"}
        response = client.get(path, params=params)
        assert response.status_code == 422
        assert response.json()["detail"].startswith(f"{name}: '2014-13'"), response.json()


@pytest.mark.parametrize(
    "q, item",
    [
        ("Beria Malenkov", "fear-backstage"),
        ("Tito Poland", "secret-speech-brief"),
        ("Hungary 1956", "figes-secret-speech"),
    ],
)
def test_words_far_apart_are_shown_in_the_snippet(client: TestClient, q: str, item: str) -> None:
    """A long text that holds the words far apart still gets a snippet showing them, not
    its first words unmarked."""
    hits = client.get("/v1/search", params={"q": q, "type": "document", "limit": 100}).json()
    (hit,) = [h for h in hits["items"] if h["id"] == item]
    marked = {hit["snippet"][a:b].casefold() for a, b in hit["highlights"]}
    assert marked & {w.casefold() for w in q.split()}, hit


def test_a_garbled_cursor_is_a_400(client: TestClient) -> None:
    response = client.get("/v1/search", params={"q": "Stalin", "cursor": "not-a-cursor"})
    assert response.status_code == 400 and "cursor" in response.json()["detail"]


def test_a_cursor_belongs_to_its_search(client: TestClient) -> None:
    """A page's cursor is a position in one ranking: with another query or other filters it
    is a 400 saying so, not a page of the other search starting at a meaningless score.
    Search text that means the same (case, stop words) may reuse it."""
    first = client.get("/v1/search", params={"q": "Stalin", "limit": 3}).json()
    cursor = first["next_cursor"]
    for other in ({"q": "Khrushchev"}, {"q": "Stalin", "type": "span"}, {"q": "Stalin -cult"}):
        response = client.get("/v1/search", params={**other, "limit": 3, "cursor": cursor})
        assert response.status_code == 400, other
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "another search" in response.json()["detail"]
    same = client.get("/v1/search", params={"q": "the STALIN", "limit": 3, "cursor": cursor})
    assert same.status_code == 200
    again = client.get("/v1/search", params={"q": "Stalin", "limit": 3, "cursor": cursor})
    assert same.json()["items"] == again.json()["items"] and again.json()["items"]
    whole = client.get("/v1/search", params={"q": "Stalin", "limit": 6}).json()["items"]
    assert first["items"] + again.json()["items"] == whole


def test_a_cursor_from_before_a_write_is_a_400(writer: TestClient) -> None:
    """After any write, the next page could repeat or skip results (BM25 scores move with
    the archive), so the cursor says so instead of paging on."""
    first = writer.get("/v1/search", params={"q": "Stalin", "limit": 5}).json()
    assert writer.get(
        "/v1/search", params={"q": "Stalin", "limit": 5, "cursor": first["next_cursor"]}
    ).json()["items"]
    created = writer.post(
        "/v1/documents", json={"title": "Memo", "text": "Stalin's heirs met at night."}
    )
    assert created.status_code == 201
    stale = writer.get(
        "/v1/search", params={"q": "Stalin", "limit": 5, "cursor": first["next_cursor"]}
    )
    assert stale.status_code == 400 and stale.headers["content-type"].startswith(PROBLEM)
    assert "changed" in stale.json()["detail"]
    again = writer.get("/v1/search", params={"q": "Stalin", "limit": 5}).json()
    seen, page = [], again
    while True:
        seen += [(i["type"], i["id"]) for i in page["items"]]
        if not page["next_cursor"]:
            break
        params = {"q": "Stalin", "limit": 5, "cursor": page["next_cursor"]}
        page = writer.get("/v1/search", params=params).json()
    assert len(seen) == len(set(seen)) == again["total"]


def test_pages_link_to_the_next_one_until_the_last(client: TestClient) -> None:
    whole = client.get("/v1/search", params={"q": "Stalin", "limit": 100}).json()
    seen: list[tuple[str, str]] = []
    url = "/v1/search?q=Stalin&limit=7"
    for _ in range(50):
        response = client.get(url)
        body = response.json()
        seen += [(i["type"], i["id"]) for i in body["items"]]
        if body["next_cursor"] is None:
            assert "Link" not in response.headers
            break
        link = response.headers["Link"]
        assert link.endswith('>; rel="next"')
        target = urlsplit(link[1 : link.index(">")])
        assert parse_qs(target.query)["cursor"] == [body["next_cursor"]]
        url = f"{target.path}?{target.query}"
    assert seen == [(i["type"], i["id"]) for i in whole["items"]]
    assert len(seen) == whole["total"]


def test_filters_and_stop_word_notice(client: TestClient) -> None:
    body = client.get(
        "/v1/search", params={"q": "the Stalin", "type": "span", "speaker": "mikoyan"}
    ).json()
    assert body["ignored"] == ["the"]
    assert body["items"] and all(i["type"] == "span" for i in body["items"])
    assert body["facets"]["type"] == [{"value": "span", "count": body["total"]}]


def test_an_unchanged_result_is_not_sent_twice(client: TestClient) -> None:
    first = client.get("/v1/search", params={"q": "Pospelov"})
    again = client.get(
        "/v1/search", params={"q": "Pospelov"}, headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_documents_written_through_the_api_are_searchable_at_once(writer: TestClient) -> None:
    created = writer.post(
        "/v1/documents",
        json={
            "id": "frinovsky-note",
            "title": "On Mikhail Frinovsky",
            "text": "Frinovsky's NKVD file.",
        },
    )
    assert created.status_code == 201

    def found(q: str, **filters: str) -> list[str]:
        body = writer.get("/v1/search", params={"q": q, **filters}).json()
        return [i["id"] for i in body["items"]]

    assert found("Frinovsky") == ["frinovsky-note"]
    assert found("Mikhail", document="frinovsky-note") == ["frinovsky-note"]
    patched = writer.patch("/v1/documents/frinovsky-note", json={"title": "Narkom Ezhovich"})
    assert patched.status_code == 200
    assert (
        found("Ezhovich") == ["frinovsky-note"]
        and found("Mikhail", document="frinovsky-note") == []
    )
    assert writer.delete("/v1/documents/frinovsky-note").status_code == 204
    assert found("Frinovsky OR Ezhovich") == []


# any character a URL can carry (lone surrogates cannot be encoded by the client at all)
chars = st.characters(exclude_categories=("Cs",))
search_text = st.one_of(
    st.text(chars, max_size=80),
    st.lists(
        st.sampled_from(
            [
                '"',
                "-",
                "*",
                "OR",
                "NEAR",
                "(",
                ")",
                "Stalin",
                "Khrush*",
                "the",
                ":",
                "^",
                "'",
                "\\",
                "é",
                "\u0301",
                "\ufeff",
                "1,430",
                "a-b",
                "\t",
                "%",
                "NOT",
                "AND",
                "{",
                "}",
            ]
        ),
        max_size=8,
    ).map(" ".join),
)
filters = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["document", "span", "claim", "x"]),
        "document": st.sampled_from(["fear-backstage", "nope", "NOPE"]),
        "kind": st.sampled_from(["primary", "secondary"]),
        "creator": st.text(chars, max_size=10),
        "speaker": st.text(chars, max_size=10),
        "published_from": st.sampled_from(["1956", "1956-02", "2014-02-29", "99"]),
        "published_to": st.sampled_from(["2024", "1956-02-24"]),
        "limit": st.integers(min_value=-1, max_value=120),
        "cursor": st.text(chars, max_size=20),
    },
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(q=search_text, extra=filters)
def test_no_search_text_or_filter_gives_a_server_error(
    client: TestClient, q: str, extra: dict
) -> None:
    response = client.get("/v1/search", params={"q": q, **extra})
    assert response.status_code < 500, (q, extra, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["detail"]
