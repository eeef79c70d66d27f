"""URLs as people type them: `curl 'localhost:8000/v1/search?q=József'` sends the letters'
UTF-8 bytes unencoded, which the server reads as the percent-encoded URL (api/server.py)."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx

from tests.archive.servers import running_server


def _raw(base: str, *requests: bytes, pieces: int = 1) -> list[tuple[int, dict, bytes]]:
    """Send `requests` as they are on one kept-alive connection (each in `pieces` writes);
    answer (status, headers, body) for each."""
    url = urlsplit(base)
    answers = []
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        reader = sock.makefile("rb")
        for request in requests:
            size = -(-len(request) // pieces)
            for i in range(0, len(request), size):
                sock.sendall(request[i : i + size])
                if pieces > 1:
                    time.sleep(0.02)
            status = int(reader.readline().split()[1])
            headers = {}
            while (line := reader.readline().strip()) != b"":
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            answers.append((status, headers, reader.read(int(headers["content-length"]))))
    return answers


def _get(target: str) -> bytes:
    return b"GET " + target.encode() + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"


def test_a_url_typed_with_non_ascii_letters_is_read_as_percent_encoded(
    fresh_database: str,
) -> None:
    with running_server(fresh_database) as server:
        encoded = httpx.get(f"{server.base}/v1/search", params={"q": "József"})
        assert encoded.status_code == 200, encoded.text
        assert encoded.json()["total"] > 0
        creator = httpx.get(f"{server.base}/v1/documents", params={"q": "Khrushchev’s"}).json()
        assert creator["total"] > 0

        # One write each; then a byte at a time; two requests on one connection
        for pieces in (1, 40):
            [(status, headers, body)] = _raw(
                server.base, _get("/v1/search?q=József"), pieces=pieces
            )
            assert status == 200, body
            assert headers["content-type"] == "application/json"
            assert json.loads(body) == encoded.json()
        answers = _raw(
            server.base, _get("/v1/documents?q=Khrushchev’s"), _get("/v1/search?q=József")
        )
        assert [status for status, _, _ in answers] == [200, 200]
        assert json.loads(answers[0][2]) == creator
        assert json.loads(answers[1][2]) == encoded.json()
        assert "Invalid HTTP request" not in server.output()
