"""How many expensive reads (searches, quote lookups) each worker runs at once.

Beyond `ARCHIVE_EXPENSIVE_CONCURRENCY`, they wait their turn, at most the read budget, then
get a 503 with `Retry-After`: one client's many slow searches cannot take every thread and
database connection, so cheap requests and writes go on being served meanwhile. (Each read's
own time budget is set in api/deps.get_session.)
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem

EXPENSIVE_PATHS = frozenset({"/v1/search", "/v1/quotes", "/v1/quotes/lookup", "/v1/quotes/scan"})


class ExpensiveLimit:
    def __init__(self, app: ASGIApp, *, concurrency: int, wait_seconds: float) -> None:
        self.app = app
        self.concurrency = concurrency
        self.wait_seconds = wait_seconds
        self._slots: anyio.Semaphore | None = None  # made on the server's event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in EXPENSIVE_PATHS:
            return await self.app(scope, receive, send)
        if self._slots is None:
            self._slots = anyio.Semaphore(self.concurrency)
        # The whole body first (a lookup's): a client sending slowly holds no slot meanwhile
        messages: list[Message] = []
        if scope["method"] == "POST":
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        with anyio.move_on_after(self.wait_seconds) as waited:
            await self._slots.acquire()
        if waited.cancelled_caught:
            response = problem(
                503,
                f"this worker is running {self.concurrency} searches or lookups already; "
                "try again shortly",
                headers={"Retry-After": "2"},
            )
            return await response(scope, replay, send)
        try:
            await self.app(scope, replay, send)
        finally:
            self._slots.release()
