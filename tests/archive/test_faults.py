"""Real faults, on the suite's kind of database: an import killed with SIGKILL in the middle
of its transaction, and a database that is unavailable for a while under a running server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archive.db import normalize_url
from tests.archive.servers import ARCHIVE, ROOT, cli, create_key, free_port, running_server

PROBLEM = "application/problem+json"
pytestmark = pytest.mark.slow


def _backend(url: str) -> str:
    return make_url(normalize_url(url)).get_backend_name()


def _big_import(path: Path, documents: int = 3000) -> None:
    """A large archive of made-up documents with spans, claims and evidence."""
    paragraph = (
        "In the small hours of 25 February 1956 the delegates were called back to the "
        "Kremlin. Khrushchev read for four hours; nobody applauded. {n}\n"
    )
    with path.open("w", encoding="utf-8") as out:
        for d in range(documents):
            body = "".join(paragraph.format(n=f"{d}.{p}") for p in range(30))
            out.write(
                json.dumps(
                    {"type": "document", "id": f"bulk-{d}", "title": f"Bulk {d}", "text": body}
                )
                + "\n"
            )
        for d in range(documents):
            for s in range(4):
                start = s * len(paragraph.format(n=f"{d}.{s}"))
                out.write(
                    json.dumps(
                        {
                            "type": "span",
                            "id": f"bulk-{d}-s{s}",
                            "document_id": f"bulk-{d}",
                            "start": start,
                            "end": start + 40,
                        }
                    )
                    + "\n"
                )
        for d in range(documents):
            out.write(
                json.dumps(
                    {"type": "claim", "id": f"bulk-claim-{d}", "statement": f"Bulk claim {d}"}
                )
                + "\n"
            )
        for d in range(documents):
            out.write(
                json.dumps(
                    {
                        "type": "evidence",
                        "id": f"bulk-ev-{d}",
                        "claim_id": f"bulk-claim-{d}",
                        "span_id": f"bulk-{d}-s0",
                        "stance": "supports",
                    }
                )
                + "\n"
            )


def _writing(url: str) -> bool:
    """Is another connection inside a write transaction on this database right now?"""
    if _backend(url) == "sqlite":
        probe = sqlite3.connect(make_url(url).database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _state(url: str) -> tuple[str, int]:
    """The archive as exported, and how many changes the feed holds."""
    exported = cli(url, "export", "-").stdout
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM changes")).scalar_one()
    engine.dispose()
    return exported, count


def test_an_import_killed_halfway_leaves_the_archive_as_it_was(
    fresh_database: str, tmp_path: Path
) -> None:
    cli(fresh_database, "init")
    before = _state(fresh_database)
    big = tmp_path / "big.ndjson"
    _big_import(big)
    process = subprocess.Popen(
        [*ARCHIVE, "import", str(big), "--database-url", fresh_database],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while not _writing(fresh_database):
        assert process.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline, "the import never began writing"
        time.sleep(0.05)
    time.sleep(1.0)  # well into the transaction: documents written, spans being written
    assert process.poll() is None, "the import finished too soon: make the file larger"
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL
    deadline = time.monotonic() + 60
    while _writing(fresh_database):  # PostgreSQL rolls back once it sees the client gone
        assert time.monotonic() < deadline
        time.sleep(0.2)

    assert _state(fresh_database) == before, "a killed import left something behind"
    assert "All consistent" in cli(fresh_database, "check").stdout
    # And the archive still takes writes (no lock or half-written page left behind).
    small = tmp_path / "small.ndjson"
    small.write_text(json.dumps({"id": "after-crash", "title": "After", "text": "ok"}) + "\n")
    assert "Imported 1 document" in cli(fresh_database, "import", str(small)).stdout


# --- the database going away under a running server --------------------------------------


class Proxy:
    """A TCP proxy between the server and PostgreSQL that can be switched off and on.
    Switching it off cuts every connection, as a database restart does.

    Sockets are only shut down from outside; each is closed by the pump threads that use
    it, once both are done: closing a socket another thread is blocked on would free its
    descriptor number for reuse while that thread may still write to it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self.lock:
            listener, self.listener = self.listener, None
            sockets, self.sockets = self.sockets, []
        if listener is not None:
            with suppress(OSError):  # wakes the accept() blocked on it (Linux)
                listener.shutdown(socket.SHUT_RDWR)
        for s in sockets:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while True:
                try:
                    client, _ = listener.accept()
                except OSError:
                    return
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                with self.lock:
                    self.sockets += [client, upstream]
                pair = {"open": 2, "sockets": (client, upstream)}
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b, pair), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pair: dict) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        with self.lock:
            pair["open"] -= 1
            last = pair["open"] == 0
        if last:
            for s in pair["sockets"]:
                s.close()


@contextmanager
def _unavailable_database(url: str, tmp_path: Path) -> Iterator[tuple[str, dict, object]]:
    """(the URL the server must use, its environment, a context manager that makes the
    database unavailable while it is open)."""
    if _backend(url) == "sqlite":

        @contextmanager
        def outage() -> Iterator[None]:
            # Another process holds the write lock (a long import, a backup) for longer
            # than the server is configured to wait for it.
            holder = sqlite3.connect(make_url(url).database, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                holder.execute("ROLLBACK")
                holder.close()

        yield url, {"ARCHIVE_SQLITE_BUSY_TIMEOUT_MS": "300"}, outage
        return
    parsed = make_url(normalize_url(url))
    proxy = Proxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    proxy.start()

    @contextmanager
    def outage() -> Iterator[None]:
        proxy.stop()
        try:
            yield
        finally:
            proxy.start()

    try:
        proxied = parsed.set(port=proxy.port).render_as_string(hide_password=False)
        yield proxied, {"ARCHIVE_DB_CONNECT_TIMEOUT_SECONDS": "2"}, outage
    finally:
        proxy.stop()


def _timed(send) -> tuple[httpx.Response, float]:  # noqa: ANN001
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def test_an_unavailable_database_is_a_503_and_the_service_recovers(
    fresh_database: str, tmp_path: Path
) -> None:
    sqlite = _backend(fresh_database) == "sqlite"
    with _unavailable_database(fresh_database, tmp_path) as (url, env, outage):
        key = create_key(url, "during-outage")
        with (
            running_server(url, env=env) as server,
            httpx.Client(
                base_url=server.base, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as client,
        ):
            assert client.get("/v1/documents").status_code == 200
            doc = {"title": "Written during an outage", "text": "Hello."}
            with outage():
                refused, elapsed = _timed(lambda: client.post("/v1/documents", json=doc))
                assert refused.status_code == 503, refused.text
                assert refused.headers["content-type"] == PROBLEM
                assert int(refused.headers["retry-after"]) > 0
                assert "unavailable" in refused.json()["detail"]
                assert elapsed < 10, f"the request hung for {elapsed:.1f} s"
                if sqlite:  # WAL: readers are not blocked by a writer
                    assert client.get("/v1/documents").status_code == 200
                else:
                    for path in ("/v1/documents", "/v1/documents/fear-backstage", "/v1/health"):
                        read, elapsed = _timed(lambda p=path: client.get(p))
                        assert read.status_code == 503, (path, read.text)
                        assert read.headers["content-type"] == PROBLEM
                        assert "retry-after" in read.headers and elapsed < 10
            # Back: the service recovers by itself, without a restart.
            deadline = time.monotonic() + 30
            while client.get("/v1/health").status_code != 200:
                assert time.monotonic() < deadline, "the service did not recover"
                time.sleep(0.5)
            assert client.get("/v1/documents/fear-backstage").status_code == 200
            created = client.post("/v1/documents", json=doc)
            assert created.status_code == 201, created.text
            assert client.get(created.headers["location"]).status_code == 200
            assert "Traceback" not in server.output()
