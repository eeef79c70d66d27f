"""Concurrent writers against a real `archive serve` (SQLite, or PostgreSQL with
ARCHIVE_TEST_DATABASE_URL): no write lost, no span corrupted, no change missed by a mirror.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from archive import changes
from archive.db import make_engine, migrate, session_scope
from tests.archive.servers import Server, cli, create_key, running_server

WRITERS = 16
DOCS_PER_WRITER = 3
SHARED = "shared-notebook"
TEXT = (
    "Paragraph {n}. On 25 February 1956 Khrushchev spoke to a closed session of the "
    "Twentieth Party Congress. Mikoyan had urged him to speak. Writer {w}, document {d}."
)


@pytest.fixture
def server(fresh_database: str) -> Iterator[tuple[Server, str]]:
    key = create_key(fresh_database, "concurrent-writer")
    with running_server(fresh_database) as server:
        yield server, key


def _client(server: Server, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


def _ok(response: httpx.Response, status: int = 200) -> httpx.Response:
    request = response.request
    assert response.status_code == status, f"{request.method} {request.url}: {response.text}"
    return response


def _has(client: httpx.Client, method: str, template: str) -> bool:
    return method.lower() in client.get("/openapi.json").json()["paths"].get(template, {})


def _append_to_shared(client: httpx.Client, token: str) -> int:
    """Read-modify-write with If-Match, retried on 412: the way to not lose an update."""
    attempts = 0
    while True:
        attempts += 1
        current = client.get(f"/v1/documents/{SHARED}")
        assert current.status_code == 200, current.text
        description = (current.json()["description"] or "") + f"[{token}]"
        answer = client.patch(
            f"/v1/documents/{SHARED}",
            json={"description": description},
            headers={"If-Match": current.headers["etag"]},
        )
        if answer.status_code == 200:
            return attempts
        assert answer.status_code == 412, answer.text


def _writer(server: Server, key: str, w: int, spans: bool, texts: bool, errors: list) -> None:
    try:
        with _client(server, key) as client:
            for d in range(DOCS_PER_WRITER):
                doc_id = f"w{w}-d{d}"
                body = {
                    "id": doc_id,
                    "title": f"Writer {w} doc {d}",
                    "text": TEXT.format(n=1, w=w, d=d),
                }
                created = client.post(
                    "/v1/documents", json=body, headers={"Idempotency-Key": doc_id}
                )
                _ok(created, 201)
                retried = client.post(
                    "/v1/documents", json=body, headers={"Idempotency-Key": doc_id}
                )
                assert retried.status_code == 201 and retried.content == created.content
                if spans:
                    for exact in ("25 February 1956", "Mikoyan had urged him to speak"):
                        span = client.post(f"/v1/documents/{doc_id}/spans", json={"exact": exact})
                        _ok(span, 201)
                    start = body["text"].index("Twentieth")
                    span = client.post(
                        f"/v1/documents/{doc_id}/spans",
                        json={"start": start, "end": start + len("Twentieth Party Congress")},
                    )
                    _ok(span, 201)
                etag = client.get(f"/v1/documents/{doc_id}").headers["etag"]
                patched = client.patch(
                    f"/v1/documents/{doc_id}",
                    json={"description": f"edited by writer {w}"},
                    headers={"If-Match": etag},
                )
                _ok(patched)
                if texts:
                    # A new revision moves every span: they must be re-anchored, not broken.
                    new_text = "A new first paragraph.\n\n" + TEXT.format(n=2, w=w, d=d)
                    revised = client.put(
                        f"/v1/documents/{doc_id}/text",
                        content=new_text.encode(),
                        headers={"Content-Type": "text/plain; charset=utf-8"},
                    )
                    _ok(revised)
                _append_to_shared(client, f"{w}.{d}")
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        errors.append(exc)


def _mirror(server: Server, stop: threading.Event, seen: list[dict], errors: list) -> None:
    """A mirror polling the feed while the writers run, as a sync tool would."""
    since = 0
    try:
        with httpx.Client(base_url=server.base, timeout=60) as client:
            while True:
                final = stop.is_set()
                while True:
                    page = client.get("/v1/changes", params={"since": since, "limit": 100})
                    assert page.status_code == 200, page.text
                    seen.extend(page.json()["items"])
                    since = page.json()["since"]
                    if not page.json()["next_cursor"]:
                        break
                if final:
                    return
                time.sleep(0.05)
    except BaseException as exc:  # noqa: BLE001
        errors.append(exc)


def test_sixteen_concurrent_writers_lose_nothing(
    server: tuple[Server, str], fresh_database: str
) -> None:
    srv, key = server
    with _client(srv, key) as client:
        spans = _has(client, "post", "/v1/documents/{doc_id}/spans")
        texts = _has(client, "put", "/v1/documents/{doc_id}/text")
        before = client.get("/v1/documents", params={"limit": 1}).json()["total"]
        assert (
            client.post(
                "/v1/documents", json={"id": SHARED, "title": "Shared", "text": "Notes."}
            ).status_code
            == 201
        )
    errors: list[BaseException] = []
    seen: list[dict] = []
    stop = threading.Event()
    mirror = threading.Thread(target=_mirror, args=(srv, stop, seen, errors))
    mirror.start()
    threads = [
        threading.Thread(target=_writer, args=(srv, key, w, spans, texts, errors))
        for w in range(WRITERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    stop.set()
    mirror.join(timeout=120)
    assert not errors, errors[0]

    with _client(srv, key) as client:
        total = client.get("/v1/documents", params={"limit": 1}).json()["total"]
        assert total == before + 1 + WRITERS * DOCS_PER_WRITER, "a create was lost or doubled"
        for w in range(WRITERS):
            for d in range(DOCS_PER_WRITER):
                doc = client.get(f"/v1/documents/w{w}-d{d}").json()
                assert doc["description"] == f"edited by writer {w}"
                if spans:
                    assert doc["counts"]["spans"] == 3
                    listed = client.get(f"/v1/documents/w{w}-d{d}/spans").json()["items"]
                    assert {s["anchor_status"] for s in listed} <= {"exact", "moved"}
                if texts:
                    assert doc["revision"] == 2
        shared = client.get(f"/v1/documents/{SHARED}").json()["description"]
        tokens = [f"[{w}.{d}]" for w in range(WRITERS) for d in range(DOCS_PER_WRITER)]
        assert sorted(t for t in tokens if t in shared) == sorted(tokens), "a lost update"
        assert len(shared) == len("".join(tokens)), "an update applied twice"
        latest = client.get("/v1/changes").json()["latest"]

    # The mirror saw every change exactly once, in order, and nothing else.
    seqs = [c["seq"] for c in seen]
    assert seqs == sorted(set(seqs)), "the feed went back or repeated itself"
    engine = make_engine(fresh_database)
    with Session(engine) as session:
        stored = list(session.execute(text("SELECT seq FROM changes ORDER BY seq")).scalars())
    engine.dispose()
    assert seqs == stored and seqs[-1] == latest, "the mirror missed a change"
    kinds = Counter((c["entity"], c["action"]) for c in seen if c["actor"] == "concurrent-writer")
    assert kinds[("document", "create")] == 1 + WRITERS * DOCS_PER_WRITER
    assert kinds[("document", "update")] >= WRITERS * DOCS_PER_WRITER * 2

    check = cli(fresh_database, "check")
    assert "All consistent" in check.stdout, check.stdout


def test_concurrent_retries_create_one_resource(server: tuple[Server, str]) -> None:
    """16 clients send the same create with the same Idempotency-Key at the same moment."""
    srv, key = server
    body = {"title": "Sent sixteen times", "text": "Only one of me should exist."}
    barrier = threading.Barrier(WRITERS)
    answers: list[httpx.Response] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            with _client(srv, key) as client:
                barrier.wait()
                answers.append(
                    client.post("/v1/documents", json=body, headers={"Idempotency-Key": "once"})
                )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[0]
    assert [a.status_code for a in answers] == [201] * WRITERS, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == WRITERS - 1
    with _client(srv, key) as client:
        found = client.get("/v1/documents", params={"q": "sixteen"}).json()
    assert found["total"] == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/documents", {"title": "Twentieth Congress notes", "text": "Notes."}),
        ("/v1/claims", {"statement": "The speech was read out in party cells."}),
    ],
)
def test_concurrent_creates_get_distinct_ids(
    server: tuple[Server, str], path: str, body: dict
) -> None:
    """Ids the server chooses (slugs of the title) never collide: no create is refused."""
    srv, key = server
    barrier = threading.Barrier(WRITERS)
    answers: list[httpx.Response] = []

    def send() -> None:
        with _client(srv, key) as client:
            barrier.wait()
            answers.append(client.post(path, json=body))

    threads = [threading.Thread(target=send) for _ in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [a.status_code for a in answers] == [201] * WRITERS, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == WRITERS


def test_feed_sequence_is_commit_order(fresh_database: str) -> None:
    """A transaction that drew a sequence number holds back every later one until it ends,
    so a reader that has seen seq N can never later find a smaller one appear."""
    engine = make_engine(fresh_database)
    migrate(engine)
    first = Session(engine.execution_options(sqlite_immediate=True), expire_on_commit=False)
    changes.record(first, "document", "slow-writer", "create", "test")
    first.flush()
    done = threading.Event()
    result: dict[str, object] = {}

    def second() -> None:
        try:
            with session_scope(engine, write=True) as session:
                changes.record(session, "document", "fast-writer", "create", "test")
                session.flush()
            result["ok"] = True
        except BaseException as exc:  # noqa: BLE001
            result["error"] = exc
        done.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not done.wait(1.0), "the second writer drew a number while the first was open"
    with Session(engine) as reader:
        assert changes.latest(reader) == 0
    first.commit()
    first.close()
    assert done.wait(30) and result.get("ok"), result
    thread.join()
    with Session(engine) as reader:
        rows = reader.execute(text("SELECT seq, entity_id FROM changes ORDER BY seq")).all()
    engine.dispose()
    assert [r.entity_id for r in rows] == ["slow-writer", "fast-writer"]
