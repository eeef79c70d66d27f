"""Every read has a time budget on both databases, and searches and lookups a cap on how
many run at once per worker, so that one client's expensive requests cannot make every
other request wait or fail."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

import archive.search
from api.app import create_app
from archive.settings import Settings
from tests.archive.servers import cli, create_key, running_server

PREFIXES = " OR ".join(f"{letter}*" for letter in "abcdefghijklmnopqrstuvwxyz")


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 9)))


def test_a_read_over_its_budget_is_stopped_and_others_are_served(
    fresh_database: str, tmp_path: Path
) -> None:
    rng = random.Random(18)
    vocabulary = [_word(rng) for _ in range(20_000)]
    corpus = tmp_path / "words.ndjson"
    corpus.write_text(
        "".join(
            json.dumps(
                {
                    "type": "document",
                    "id": f"words-{i}",
                    "title": f"Words {i}",
                    "text": " ".join(rng.choice(vocabulary) for _ in range(20_000)),
                }
            )
            + "\n"
            for i in range(20)
        )
    )
    cli(fresh_database, "import", str(corpus))
    env = {"ARCHIVE_READ_BUDGET_MS": "30"}
    with running_server(fresh_database, env=env) as server:
        key = create_key(fresh_database, "budget")
        with httpx.Client(base_url=server.base, timeout=60) as client:
            started = time.monotonic()
            heavy = client.get("/v1/search", params={"q": PREFIXES})
            elapsed = time.monotonic() - started
            assert heavy.status_code == 504, heavy.text[:300]
            assert "time budget" in heavy.json()["detail"]
            assert "retry-after" not in heavy.headers
            assert elapsed < 5, f"a read past its budget ran {elapsed:.1f} s"
            # cheap reads fit their budget; writes and the export have none
            assert client.get("/v1/documents/words-1").status_code == 200
            created = client.post(
                "/v1/documents",
                json={"title": "After", "text": "Written after a stopped search."},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert created.status_code == 201, created.text
            assert client.get("/v1/export").status_code == 200


@pytest.fixture
def service(database_url: str, engine, monkeypatch):  # noqa: ANN001, ANN201
    """The real app on the suite's database, one search at a time, each taking 3 s."""
    real = archive.search.search

    def slow(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        time.sleep(3)
        return real(*args, **kwargs)

    monkeypatch.setattr(archive.search, "search", slow)
    settings = Settings(
        database_url=database_url,
        expensive_concurrency=1,
        read_budget_ms=1000,
        search_cache_size=0,
    )
    app = create_app(settings)
    yield app
    app.state.engine.dispose()


def test_searches_beyond_the_cap_wait_then_503_while_cheap_requests_go_on(service) -> None:  # noqa: ANN001
    with TestClient(service, raise_server_exceptions=False) as client:
        first: list[httpx.Response] = []
        running = threading.Thread(
            target=lambda: first.append(client.get("/v1/search", params={"q": "Mikoyan"}))
        )
        running.start()
        time.sleep(0.5)  # the first search holds the one slot
        started = time.monotonic()
        cheap = client.get("/v1/documents/fear-backstage")
        assert cheap.status_code == 200 and time.monotonic() - started < 1
        started = time.monotonic()
        second = client.get("/v1/search", params={"q": "Stalin"})
        waited = time.monotonic() - started
        assert second.status_code == 503, second.text
        assert int(second.headers["retry-after"]) > 0
        assert "searches or lookups already" in second.json()["detail"]
        assert 0.8 < waited < 2.5
        running.join()
        assert first[0].status_code == 200
