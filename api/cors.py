"""CORS (ARCHIVE_CORS_ORIGINS): Starlette's middleware, with refusals as problem+json.

With the default `*` any origin may call the API from a browser (reads are public, and a
browser can send a key only if the page has it). With a list, only those origins get the
`Access-Control-Allow-*` headers; a preflight from another origin is a 400 problem.
"""

from __future__ import annotations

from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.responses import Response

from api import errors

ALLOW_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
]
EXPOSE_HEADERS = [
    "ETag",
    "Location",
    "Link",
    "Retry-After",
    "Idempotent-Replayed",
    "X-Text-Revision",
]


class ProblemCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        what = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        origin = request_headers.get("origin", "")
        detail = f"CORS preflight refused ({what}) for origin {origin!r}"
        headers = {
            k: v for k, v in response.headers.items() if k.lower().startswith("access-control")
        }
        headers["Vary"] = "Origin"
        return errors.problem(400, detail, headers=headers)
