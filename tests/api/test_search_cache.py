"""GET /v1/search answers from its cache, yet always as the archive stands (both databases).

The cache (archive/cache.py) keeps answers until the next recorded write. These tests
check what a user could notice: the same answer and ETag for a repeated search, every
write through the API seen by the very next search, pages and filters never mixed up, and
the one documented blind spot (an edit made with raw SQL, outside the change feed) that
shows the cache is really there, and really off with ARCHIVE_SEARCH_CACHE_SIZE=0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from archive.settings import Settings
from tests.api.apps import app_on

RARE = "Qwertzovich"  # in no bundled text


def _app(database_url: str, connection, **settings: int) -> FastAPI:  # noqa: ANN001
    """An app with these settings, on the test's connection (like conftest's `app`)."""
    return app_on(connection, Settings(database_url=database_url, **settings))


@pytest.fixture
def uncached_app(database_url: str, connection) -> FastAPI:  # noqa: ANN001
    return _app(database_url, connection, search_cache_size=0)


@pytest.fixture
def uncached(uncached_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(uncached_app, raise_server_exceptions=False) as client:
        yield client


def search(client: TestClient, q: str, **params: object) -> dict:
    response = client.get("/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def ids(client: TestClient, q: str, **params: object) -> list[str]:
    return [item["id"] for item in search(client, q, **params)["items"]]


def _retitle_behind_the_feed(connection, doc_id: str, title: str) -> None:  # noqa: ANN001
    """An edit with raw SQL: the search index follows (database triggers), the change feed
    does not."""
    connection.execute(
        text("UPDATE documents SET title = :title WHERE id = :id"), {"title": title, "id": doc_id}
    )


def test_a_repeated_search_gets_the_same_bytes_and_etag(client: TestClient) -> None:
    first = client.get("/v1/search", params={"q": "Mikoyan", "limit": 5})
    again = client.get("/v1/search", params={"q": "Mikoyan", "limit": 5})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["content-type"] == "application/json"
    unchanged = client.get(
        "/v1/search",
        params={"q": "Mikoyan", "limit": 5},
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert unchanged.status_code == 304 and unchanged.headers["ETag"] == first.headers["ETag"]


def test_the_cache_is_there_and_a_recorded_write_empties_it(
    client: TestClient,
    uncached: TestClient,
    writer: TestClient,
    connection,  # noqa: ANN001
) -> None:
    """A raw SQL edit bypasses the change feed, so the cached answer stays (the documented
    limit); without the cache it shows at once; any write through the API brings it in."""
    assert ids(client, RARE) == [] and ids(uncached, RARE) == []
    _retitle_behind_the_feed(connection, "fear-backstage", f"{RARE} backstage")
    assert ids(uncached, RARE) == ["fear-backstage"]
    assert ids(client, RARE) == []  # served from the cache
    unrelated = writer.patch("/v1/documents/siegelbaum-secret-speech", json={"publisher": "X"})
    assert unrelated.status_code == 200, unrelated.text
    assert ids(client, RARE) == ["fear-backstage"]


def test_writes_are_seen_by_the_very_next_identical_search(writer: TestClient) -> None:
    def hits(q: str) -> list[tuple[str, str]]:
        return [
            (i["id"], i["title"]) for i in search(writer, q)["items"] if i["type"] == "document"
        ]

    assert hits(RARE) == [] and hits(RARE) == []  # cached: nothing
    created = writer.post(
        "/v1/documents",
        json={"id": "rare-note", "title": "A note", "text": f"{RARE} signed the order."},
    )
    assert created.status_code == 201, created.text
    assert hits(RARE) == [("rare-note", "A note")]
    assert hits("Vyshinskyite") == []
    patched = writer.patch("/v1/documents/rare-note", json={"title": "Vyshinskyite memo"})
    assert patched.status_code == 200, patched.text
    assert hits(RARE) == [("rare-note", "Vyshinskyite memo")]
    assert hits("Vyshinskyite") == [("rare-note", "Vyshinskyite memo")]
    assert writer.delete("/v1/documents/rare-note").status_code == 204
    assert hits(RARE) == [] and hits("Vyshinskyite") == []


def test_an_etag_from_before_a_write_is_not_honoured_after_it(writer: TestClient) -> None:
    before = writer.get("/v1/search", params={"q": "Stalin", "type": "document"})
    created = writer.post(
        "/v1/documents", json={"title": "Stalin's dacha", "text": "Stalin at Kuntsevo."}
    )
    assert created.status_code == 201
    after = writer.get(
        "/v1/search",
        params={"q": "Stalin", "type": "document"},
        headers={"If-None-Match": before.headers["ETag"]},
    )
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert created.json()["id"] in [i["id"] for i in after.json()["items"]]


def test_an_import_is_seen_by_the_next_search(client: TestClient, admin_key: str) -> None:
    assert ids(client, RARE) == []
    line = {"type": "document", "id": "imported-note", "title": "Imported", "text": RARE}
    imported = client.post(
        "/v1/import",
        content=json.dumps(line) + "\n",
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/x-ndjson"},
    )
    assert imported.status_code == 200, imported.text
    assert ids(client, RARE) == ["imported-note"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "Stalin", "limit": 3},
        {"q": "Stalin", "limit": 4},
        {"q": "Stalin", "limit": 3, "type": "span"},
        {"q": "Stalin", "limit": 3, "type": "claim"},
        {"q": "Stalin", "limit": 3, "kind": "secondary"},
        {"q": "Stalin", "limit": 3, "speaker": "mikoyan"},
        {"q": "Stalin", "limit": 3, "creator": "figes"},
        {"q": "Stalin", "limit": 3, "document": "fear-backstage"},
        {"q": "Stalin", "limit": 3, "published_from": "2000"},
        {"q": "Stalin", "limit": 3, "published_to": "1999"},
        {"q": "stalin", "limit": 3},
    ],
)
def test_filters_and_pages_never_share_an_answer(
    client: TestClient, uncached: TestClient, params: dict
) -> None:
    """Every combination, asked after all the others (so that any entry could be confused
    with it), answers exactly what the uncached server answers, page after page."""
    for other in [{"q": "Stalin", "limit": 3}, {"q": "Stalin", "limit": 3, "type": "span"}]:
        client.get("/v1/search", params=other)
    url = "/v1/search"
    query: dict = dict(params)
    for _ in range(3):
        cached = client.get(url, params=query)
        fresh = uncached.get(url, params=query)
        assert cached.status_code == fresh.status_code == 200
        assert cached.content == fresh.content
        assert cached.headers.get("Link") == fresh.headers.get("Link")
        cursor = cached.json()["next_cursor"]
        if cursor is None:
            break
        query = {**params, "cursor": cursor}


def test_a_cursor_page_is_its_own_entry(client: TestClient) -> None:
    first = client.get("/v1/search", params={"q": "Stalin", "limit": 2})
    cursor = first.json()["next_cursor"]
    second = client.get("/v1/search", params={"q": "Stalin", "limit": 2, "cursor": cursor})
    assert second.json()["items"] != first.json()["items"]
    assert client.get("/v1/search", params={"q": "Stalin", "limit": 2}).content == first.content
    again = client.get("/v1/search", params={"q": "Stalin", "limit": 2, "cursor": cursor})
    assert again.content == second.content


def test_the_next_link_names_the_service_never_the_host_asked(client: TestClient) -> None:
    """The body is shared between requests; the Link header names the service's own address
    (ARCHIVE_BASE_URL, else the listening one), whatever Host a client sends."""
    links = []
    for host in ("archive.example", "mirror.example"):
        response = client.get(
            "/v1/search", params={"q": "Stalin", "limit": 2}, headers={"Host": host}
        )
        link = response.headers["Link"]
        target = urlsplit(link[1 : link.index(">")])
        assert target.netloc == "testserver" and host not in link
        assert parse_qs(target.query)["cursor"] == [response.json()["next_cursor"]]
        links.append(link)
    assert links[0] == links[1]


def test_bad_searches_are_refused_every_time_and_not_kept(client: TestClient) -> None:
    cache = client.app.state.search_cache  # type: ignore[attr-defined]
    for _ in range(2):
        response = client.get("/v1/search", params={"q": '"secret speech'})
        assert response.status_code == 400 and "never closed" in response.json()["detail"]
    assert len(cache) == 0
    client.get("/v1/search", params={"q": "Stalin"})
    assert len(cache) == 1


def test_size_zero_keeps_nothing(uncached: TestClient, connection) -> None:  # noqa: ANN001
    assert ids(uncached, "Mikoyan") == ids(uncached, "Mikoyan")
    assert len(uncached.app.state.search_cache) == 0  # type: ignore[attr-defined]
    _retitle_behind_the_feed(connection, "fear-backstage", f"{RARE} backstage")
    assert ids(uncached, RARE) == ["fear-backstage"]


def test_the_size_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVE_SEARCH_CACHE_SIZE", "0")
    assert Settings().search_cache_size == 0
    monkeypatch.setenv("ARCHIVE_SEARCH_CACHE_SIZE", "7")
    assert create_app(Settings(database_url="sqlite://")).state.search_cache.size == 7
    monkeypatch.delenv("ARCHIVE_SEARCH_CACHE_SIZE", raising=False)
    assert Settings().search_cache_size == 1024


def test_the_cache_holds_at_most_its_size(database_url: str, connection) -> None:  # noqa: ANN001
    with TestClient(_app(database_url, connection, search_cache_size=2)) as small:
        answers = {q: small.get("/v1/search", params={"q": q}).content for q in ("Stalin", "Beria")}
        small.get("/v1/search", params={"q": "Mikoyan"})
        cache = small.app.state.search_cache  # type: ignore[attr-defined]
        assert len(cache) == 2
        for q, body in answers.items():  # evicted or not, the answer is the same
            assert small.get("/v1/search", params={"q": q}).content == body
