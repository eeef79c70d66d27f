"""A real server: an export whose client went away holds no database connection."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.archive.servers import cli, running_server


def _held(admin_url: str, database: str) -> int:
    """Connections to `database` inside a transaction (the export reads in one)."""
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
                    "AND state LIKE 'idle in transaction%'"
                ),
                {"db": database},
            ).scalar_one()
    finally:
        engine.dispose()


def test_exports_whose_clients_left_give_their_connections_back(
    fresh_database: str, database_url: str, tmp_path: Path
) -> None:
    if make_url(fresh_database).get_backend_name() != "postgresql":
        pytest.skip("observed through pg_stat_activity")
    database = make_url(fresh_database).database
    # An archive larger than the sockets' buffers, so that a client that reads nothing
    # leaves its export waiting to send
    big = tmp_path / "big.ndjson"
    text_ = "Khrushchev spoke to the delegates. " * 30_000
    big.write_text(
        "".join(
            json.dumps({"type": "document", "id": f"big-{i}", "title": f"Big {i}", "text": text_})
            + "\n"
            for i in range(12)
        )
    )
    cli(fresh_database, "import", str(big))
    with running_server(fresh_database) as server:
        url = urlsplit(server.base)
        clients = []
        for _ in range(3):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(10)
            sock.connect((url.hostname, url.port))
            sock.sendall(b"GET /v1/export HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"200" in sock.recv(4096).split(b"\r\n")[0]
            clients.append(sock)
        time.sleep(0.5)
        assert _held(database_url, database) >= 1, "the exports are under way"
        for sock in clients:
            sock.close()
        deadline = time.monotonic() + 5
        while (held := _held(database_url, database)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert held == 0, f"{held} connections still held after their clients left"
