"""Pages: the reading room at `/`, one page of plain HTML, CSS and JavaScript that calls only
the public API (its files are package data in api/static/reading-room/); and ReDoc at
`/redoc`, from the copy fastapi-offline ships, so that nothing loads from outside."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import FileResponse, HTMLResponse, Response

router = APIRouter(include_in_schema=False)

ROOM = Path(__file__).resolve().parents[1] / "static" / "reading-room"
ASSETS = {
    "reading-room.js": "text/javascript; charset=utf-8",
    "reading-room.css": "text/css; charset=utf-8",
}
#: The page may load and call only what the service itself serves.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@router.get("/")
def reading_room() -> FileResponse:
    """The reading room; its address carries its state (`?quote=`, `?claim=`, ...)."""
    return FileResponse(
        ROOM / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-cache"},
    )


@router.get("/v1")
def version_root() -> dict[str, str]:
    """Where to start: the collections of the API, its reference and the reading room."""
    return {
        "documents": "/v1/documents",
        "spans": "/v1/spans",
        "claims": "/v1/claims",
        "disputed_claims": "/v1/claims?disputed=true",
        "citations": "/v1/citations",
        "quotes": "/v1/quotes?text=",
        "search": "/v1/search?q=",
        "changes": "/v1/changes",
        "openapi": "/openapi.json",
        "docs": "/docs",
        "redoc": "/redoc",
        "reading_room": "/",
    }


def _asset(name: str, media_type: str) -> None:
    def serve() -> FileResponse:
        return FileResponse(
            ROOM / name, media_type=media_type, headers={"Cache-Control": "no-cache"}
        )

    router.add_api_route(f"/static/reading-room/{name}", serve, methods=["GET"], name=name)


for _name, _media_type in ASSETS.items():
    _asset(_name, _media_type)


# --- ReDoc, offline ---------------------------------------------------------------------------

REDOC_JS = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
#: ReDoc's sidebar shows a logo from Redocly's CDN; offline it could only fail to load (and
#: it would tell Redocly of every reader). It is left out: the image then hides itself.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def _redoc_script() -> bytes:
    return REDOC_JS.read_text(encoding="utf-8").replace(REDOCLY_LOGO, "data:,").encode()


@router.get("/static/redoc/redoc.standalone.js")
def redoc_script() -> Response:
    return Response(
        _redoc_script(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}/static/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{root}/static/docs/favicon.png",
        with_google_fonts=False,
    )
