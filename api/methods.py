"""HTTP methods: HEAD wherever GET is served, and a 405's `Allow` naming every method the
path takes.

FastAPI routes answer only the methods they declare, so `curl -I` got a 405; and Starlette
fills a 405's `Allow` from the first route whose path matched, although a path such as
/v1/documents/{id} is served by three routes (GET, PATCH, DELETE).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """A HEAD request is served as the GET of the same URL, headers and status included,
    without the body (RFC 9110 §9.3.2)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    """The app's routes, with those of the routers it includes (FastAPI keeps an included
    router whole, as one entry that holds the original)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route of the app serves at this request's path (HEAD with GET)."""
    methods: set[str] = set()
    for route in _routes(scope["app"].router.routes):
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(scope)[0] != Match.NONE:  # PARTIAL: path only
            methods.update(route_methods)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)
