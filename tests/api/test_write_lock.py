"""Who waits for the write lock: not read-only POSTs (a quote lookup), not for a client
still sending its body, and nobody for ever (the queue gives up with a 503)."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.preconditions import CREATE_LOCK, RESOURCE_LOCK_NAMESPACE
from archive.settings import Settings
from tests.api.apps import app_on
from tests.archive.servers import create_key, running_server

LOOKUP = {"text": "God knows what we are supposed to think"}
QUEUE_TIMEOUT_MS = 700


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, sqlite_busy_timeout_ms=QUEUE_TIMEOUT_MS)


def _timed(send):  # noqa: ANN001, ANN202
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def test_a_lookup_waits_for_no_write_and_a_queued_write_gives_up_with_a_503(
    settings: Settings, connection, engine: Engine, dialect: str, write_key: str
) -> None:
    app = app_on(connection, settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {write_key}"
        if dialect == "sqlite":
            # Another write of this process holds the queue (for 3 s at most)
            queue = app.state.sqlite_writers
            client.portal.call(queue.acquire)

            async def release_later() -> None:
                await anyio.sleep(3)
                if queue.locked():
                    queue.release()

            client.portal.start_task_soon(release_later)
            held = None
        else:
            # Another connection holds the lock every create takes; the test's own
            # statements give up after 3 s rather than wait for ever
            connection.exec_driver_sql("SET LOCAL lock_timeout = '3s'")
            held = engine.connect()
            held.execute(
                text("SELECT pg_advisory_xact_lock(:ns, :key)"),  # released when `held` closes
                {"ns": RESOURCE_LOCK_NAMESPACE, "key": CREATE_LOCK},
            )
        try:
            looked_up, elapsed = _timed(lambda: client.post("/v1/quotes/lookup", json=LOOKUP))
            assert looked_up.status_code == 200, looked_up.text
            assert looked_up.json()["matches"]
            assert elapsed < 2, f"a lookup waited {elapsed:.1f} s for a write"
            if dialect == "sqlite":
                doc = {"title": "Queued", "text": "Waiting."}
                refused, elapsed = _timed(lambda: client.post("/v1/documents", json=doc))
                assert refused.status_code == 503, refused.text
                assert "busy with other writes" in refused.json()["detail"]
                assert int(refused.headers["retry-after"]) > 0
                assert elapsed < 2.5
        finally:
            if held is not None:
                held.close()
            elif app.state.sqlite_writers.locked():
                client.portal.call(app.state.sqlite_writers.release)


def test_a_slowly_sent_body_holds_no_lock(fresh_database: str) -> None:
    """A write whose body is still arriving does not keep other writes of the same
    resource waiting: the body is read before any lock is taken."""
    with running_server(fresh_database) as server:
        key = create_key(fresh_database, "slow-writer")
        path = "/v1/documents/fear-backstage/text"
        original = httpx.get(server.base + path).content
        slow_body = original.replace(b"personal involvement", b"own involvement")
        url = urlsplit(server.base)
        with socket.create_connection((url.hostname, url.port), timeout=30) as slow:
            head = (
                f"PUT {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(slow_body)}"
                "\r\nConnection: close\r\n\r\n"
            ).encode()
            slow.sendall(head + slow_body[:100])
            time.sleep(0.5)  # the slow request is under way, its body unfinished
            fast_body = original.replace(b"personal involvement", b"very own involvement")
            fast, elapsed = _timed(
                lambda: httpx.put(
                    server.base + path,
                    content=fast_body,
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "text/plain"},
                    timeout=10,
                )
            )
            assert fast.status_code == 200, fast.text
            assert elapsed < 5, f"a write waited {elapsed:.1f} s for a body being sent"
            slow.sendall(slow_body[100:])
            answer = slow.makefile("rb").readline()
            assert answer.split()[1] == b"200", answer
        assert httpx.get(server.base + path).content == slow_body
