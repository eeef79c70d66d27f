"""Headers every answer carries, for browsers and caches between the client and the service.

- `X-Content-Type-Options: nosniff` on every response: a browser never reads a JSON, text
  or NDJSON answer as something else (a document's text as HTML, say).
- `Vary: Authorization` on every read of the API: whether it is answered (a 401 for an
  unknown key) depends on the key, and with `ARCHIVE_PUBLIC_READS=false` everything does.
- `Cache-Control: private, no-cache` on keyed reads (a request with `Authorization`, or any
  read when reads need a key): no shared cache keeps them, and the client's own cache asks
  again (with If-None-Match, answered 304) before reusing one.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KEYED = "private, no-cache"


class ResponseHeaders:
    def __init__(self, app: ASGIApp, *, public_reads: bool) -> None:
        self.app = app
        self.public_reads = public_reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        read = scope["method"] in ("GET", "HEAD") and scope["path"].startswith("/v1/")
        keyed = read and (not self.public_reads or "authorization" in Headers(scope=scope))

        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if read:
                    headers.add_vary_header("Authorization")
                if keyed and "cache-control" not in headers:
                    headers["Cache-Control"] = KEYED
            await send(message)

        await self.app(scope, receive, add)
