"""ETags and conditional requests (RFC 9110): If-None-Match on reads, If-Match on writes.

An ETag is a hash of the JSON representation itself, so it changes exactly when what the
client would see changes (a document's counts included), with nothing extra stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from archive.errors import BadQuery, PreconditionFailed


def body_etag(body: bytes) -> str:
    """A strong ETag for these representation bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_of(payload: Any) -> str:
    body = json.dumps(jsonable_encoder(payload), sort_keys=True, ensure_ascii=False, default=str)
    return body_etag(body.encode("utf-8"))


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def none_match(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/"x" matches "x"."""
    tags = [t.removeprefix("W/") for t in _tags(header)]
    return "*" in tags or etag.removeprefix("W/") in tags


# RFC 9110: "*", or entity-tags (`"…"` or `W/"…"`) separated by commas
ENTITY_TAGS = r'^(\*|(W/)?"[\x21\x23-\x7e]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7e]*")*)$'
_ENTITY_TAGS = re.compile(ENTITY_TAGS)


def check_entity_tags(name: str, header: str | None) -> None:
    """BadQuery (400) when a conditional header is not `*` or a list of quoted ETags: an
    unquoted tag, say, would otherwise match nothing and read as "the resource changed"."""
    if header is not None and not _ENTITY_TAGS.match(header.strip()):
        shown = header if len(header) <= 80 else header[:80] + "…"
        raise BadQuery(
            f"{name}: malformed ({shown!r}); send the ETag exactly as given, with its double "
            'quotes (If-Match: "3f2a…"), several separated by commas, or *'
        )


def if_match(header: str, etag: str) -> bool:
    """If-Match uses the strong comparison: a weak tag never matches."""
    tags = _tags(header)
    return "*" in tags or (not etag.startswith("W/") and etag in tags)


def not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    return bool(header) and none_match(header, etag)


def check_if_match(request: Request, current: Any) -> None:
    """412 when If-Match names a representation other than the current one."""
    header = request.headers.get("if-match")
    if not header:
        return
    etag = etag_of(current)
    if not if_match(header, etag):
        raise PreconditionFailed(
            f"the resource has changed (its ETag is now {etag}); fetch it again and retry"
        )


def respond(
    request: Request,
    payload: Any,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str | None = None,
) -> Response:
    """JSON with an ETag; 304 when a GET's If-None-Match already has it."""
    content = jsonable_encoder(payload)
    etag = etag_of(content)
    all_headers = {"ETag": etag, **(headers or {})}
    if request.method in ("GET", "HEAD") and not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(
        content, status_code=status_code, headers=all_headers, media_type=media_type
    )


def plain_json(payload: dict[str, Any]) -> tuple[bytes, str]:
    """A payload of plain JSON types only (dicts, lists, str, numbers, None), as large
    answers are, serialized once, and its ETag: the hash of those bytes. `jsonable_encoder`
    walks every value, and an answer of a thousand matches paid for that more than for
    finding them."""
    content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return content, body_etag(content)


def send_plain(
    request: Request, content: bytes, etag: str, headers: dict[str, str] | None = None
) -> Response:
    """`plain_json`'s bytes with their ETag; 304 when a GET's If-None-Match already has it."""
    if request.method in ("GET", "HEAD") and not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(
        content, media_type="application/json", headers={"ETag": etag, **(headers or {})}
    )


def respond_plain(request: Request, payload: dict[str, Any]) -> Response:
    """As `respond`, for a payload of plain JSON types only (see `plain_json`)."""
    return send_plain(request, *plain_json(payload))
