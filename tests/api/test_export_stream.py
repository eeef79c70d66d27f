"""An export whose client stopped reading is cut off after SEND_STALL_SECONDS, giving its
database connection back (one whose client went away: tests/api/test_export_disconnect.py)."""

from __future__ import annotations

import contextlib
import gc
import time

import anyio
import pytest

from api import app as app_module
from api.routes import transfer
from archive.settings import Settings


@pytest.fixture
def service(database_url: str, engine):  # noqa: ANN001, ANN201
    """The real app on the suite's (committed) database, with its own engine and pool."""
    app = app_module.create_app(Settings(database_url=database_url))
    yield app
    app.state.engine.dispose()


def _scope() -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/export",
        "raw_path": b"/v1/export",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def _run(app, receive, send, timeout: float = 20) -> float:  # noqa: ANN001
    async def main() -> None:
        with anyio.fail_after(timeout):
            # what the server makes of an unfinished answer is not the point here
            with contextlib.suppress(Exception):
                await app(_scope(), receive, send)

    started = time.monotonic()
    anyio.run(main)
    return time.monotonic() - started


def test_a_client_that_stops_reading_is_cut_off(service, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(transfer, "SEND_STALL_SECONDS", 0.5)
    started = False

    asked = 0

    async def receive() -> dict:
        nonlocal asked
        asked += 1
        if asked == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()  # never a disconnect: the client is there, not reading
        return {}

    async def send(message: dict) -> None:
        nonlocal started
        if message["type"] == "http.response.body":
            if started:
                await anyio.sleep_forever()  # the second chunk never goes out
            started = True

    gc.disable()
    try:
        elapsed = _run(service, receive, send)
        assert elapsed < 5, f"a stalled export ran for {elapsed:.1f} s"
        assert service.state.engine.pool.checkedout() == 0
    finally:
        gc.enable()
