"""One error shape for every failure: RFC 9457 `application/problem+json`.

Domain errors (`archive.errors`) carry no HTTP status; this module maps each class to one,
once. Validation errors list `errors: [{loc, msg}]`. Nothing the client sends may produce a
500: a lost or refused connection or a busy database is a 503 with `Retry-After`, a request
that ran out of its time budget a 504 (no `Retry-After`: it would fail again), a statement too
large for the database a 400; anything unforeseen a 500 problem without internals. Log lines
name the driver's error, never a statement or its parameters.
"""

from __future__ import annotations

import logging
import sqlite3
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.methods import allowed_methods
from archive import errors
from archive.errors import brief

log = logging.getLogger("archive.api")

PROBLEM = "application/problem+json"

STATUS_OF: dict[type[errors.ArchiveError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InvalidInput: 422,
    errors.BadQuery: 400,
    errors.PreconditionFailed: 412,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.Unavailable: 503,
}


def problem(
    status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _is_json(media: str) -> bool:
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _message(error: dict[str, Any]) -> str:
    """Pydantic's message, but a length limit in the words every limit uses (search's,
    lookup's, any field's): "5001 characters long; the limit is 5000"."""
    ctx = error.get("ctx") or {}
    if error.get("type") in ("string_too_long", "too_long") and isinstance(error.get("input"), str):
        return f"{len(error['input'])} characters long; the limit is {ctx.get('max_length')}"
    return str(error.get("msg", "invalid"))


def _json_error(exc: RequestValidationError) -> str | None:
    """A JSON body that does not parse, described as a person reads it: the reason, then
    the line and column (and character) where the parser stopped."""
    for error in exc.errors():
        if error.get("type") != "json_invalid":
            continue
        reason = str((error.get("ctx") or {}).get("error") or "not JSON")
        loc = error.get("loc", ())
        pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
        doc = exc.body if isinstance(exc.body, str) else None
        if pos is None or doc is None:
            return f"not JSON: {reason}"
        line = doc.count("\n", 0, pos) + 1
        column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
        return f"not JSON: {reason} at line {line}, column {column} (character {pos + 1})"
    return None


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    items = [{"loc": [str(p) for p in e.get("loc", ())], "msg": _message(e)} for e in exc.errors()]
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    sent = (
        request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    )
    if sent and not _is_json(media) and any(item["loc"][:1] == ["body"] for item in items):
        # FastAPI reads only a JSON body; `curl -d` sends form encoding unless told otherwise
        return problem(
            415,
            f"Content-Type: {media or 'none given'}; send the body as JSON, with "
            "`Content-Type: application/json`",
        )
    not_json = _json_error(exc)
    if not_json:
        return problem(422, f"body: {not_json}", errors=[{"loc": ["body"], "msg": not_json}])
    first = items[0] if items else {"loc": [], "msg": "invalid request"}
    detail = f"{_loc(tuple(first['loc']))}: {first['msg']}"
    if len(items) > 1:
        detail += f" (and {len(items) - 1} more)"
    return problem(422, detail, errors=items)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        # FastAPI's answer to a JSON body that is not even text (bytes that are not UTF-8):
        # the same 422 as any other malformed JSON body.
        cause = exc.__cause__
        msg = (
            f"not JSON: the bytes are not UTF-8 ({cause.reason} at byte {cause.start})"
            if isinstance(cause, UnicodeDecodeError)
            else "not JSON: the body could not be read as JSON"
        )
        return problem(422, f"body: {msg}", errors=[{"loc": ["body"], "msg": msg}])
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such path: {request.url.path}"
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request.scope))}
    return problem(exc.status_code, detail, headers=headers)


async def _domain(request: Request, exc: errors.ArchiveError) -> JSONResponse:
    status = next((code for cls, code in STATUS_OF.items() if isinstance(exc, cls)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "2"}
    extra = {k: v for k, v in exc.extra.items() if k in ("candidates", "claims", "suggestions")}
    if isinstance(exc.extra.get("errors"), list):
        extra["errors"] = [_error_item(item) for item in exc.extra["errors"]]
    return problem(status, exc.detail, headers=headers, **extra)


def _error_item(item: Any) -> dict[str, Any]:
    """Domain errors listed as text ("line 3: not JSON") in the `{loc, msg}` shape."""
    if isinstance(item, dict) and "msg" in item:
        return {"loc": [str(p) for p in item.get("loc", [])], "msg": str(item["msg"])}
    where, sep, msg = str(item).partition(": ")
    return {"loc": ["body", where], "msg": msg} if sep else {"loc": [], "msg": str(item)}


async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    log.info("integrity error: %s", brief(exc))
    return problem(409, "the change conflicts with the archive's current state; nothing changed")


# What a database fault means for the client (see `classify`).
OUTAGE = "outage"  # a lost or refused connection, or a busy database: retry shortly (503)
TIMEOUT = "timeout"  # the request ran out of its time budget: retrying it as is won't help
TOO_LARGE = "too large"  # more than one statement can carry: the client must ask for less
REFUSED = "refused"  # anything else: a fault of the service, logged (500)

# SQLite's primary result codes (sqlite3's `sqlite_errorname`) of a busy or unreachable
# database; SQLITE_INTERRUPT is the time budget (archive/db.py's progress handler).
_SQLITE_OUTAGES = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_NOMEM",
    "SQLITE_PROTOCOL",
    "SQLITE_NOLFS",
)
# PostgreSQL SQLSTATEs of the same: class 08 (connection exception), 53 (insufficient
# resources: too many connections, out of memory or disk), 57P01-57P05 (the server is
# shutting down or starting, idle session timeout), 55P03 (a lock not granted in time),
# 40001 and 40P01 (serialization failure, deadlock: retrying is the remedy).
_PG_OUTAGE_CLASSES = ("08", "53")
_PG_OUTAGES = ("57P01", "57P02", "57P03", "57P04", "57P05", "55P03", "40001", "40P01")
_PG_QUERY_CANCELED = "57014"


def classify(exc: BaseException) -> str:
    """What a database error means for the client: OUTAGE, TIMEOUT, TOO_LARGE or REFUSED."""
    if isinstance(exc, PoolTimeout) or getattr(exc, "connection_invalidated", False):
        return OUTAGE
    # SQLAlchemy's error wraps the driver's; search's hot path calls the driver itself
    orig = getattr(exc, "orig", None) or exc
    name = getattr(orig, "sqlite_errorname", None)
    if name is not None:
        if name.startswith("SQLITE_INTERRUPT"):
            return TIMEOUT
        if name.startswith(_SQLITE_OUTAGES):
            return OUTAGE
        if name.startswith("SQLITE_TOOBIG") or "too many SQL variables" in str(orig):
            return TOO_LARGE
        return REFUSED
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        if sqlstate == _PG_QUERY_CANCELED:
            return TIMEOUT
        if sqlstate.startswith(_PG_OUTAGE_CLASSES) or sqlstate in _PG_OUTAGES:
            return OUTAGE
        if sqlstate == "54000":  # program_limit_exceeded: a statement too complex or large
            return TOO_LARGE
        return REFUSED
    if isinstance(exc, OperationalError | sqlite3.OperationalError | psycopg.OperationalError):
        # No SQLSTATE: the driver failed before the server answered; a connection that
        # could not be made or was lost, or a statement the driver could not send.
        if "number of parameters" in str(orig):
            return TOO_LARGE
        return OUTAGE
    return REFUSED


async def _database(
    request: Request, exc: DBAPIError | PoolTimeout | sqlite3.Error | psycopg.Error
) -> JSONResponse:
    kind = classify(exc)
    where = f"{request.method} {request.url.path}"
    if kind == OUTAGE:
        log.warning("database unavailable on %s: %s", where, brief(exc))
        return problem(
            503, "the database is unavailable; try again shortly", headers={"Retry-After": "2"}
        )
    if kind == TIMEOUT:
        log.warning("time budget exceeded on %s: %s", where, brief(exc))
        return problem(
            504,
            "the request ran out of its time budget and was stopped; nothing changed. "
            "Retrying it as it is will not help: narrow it (fewer or longer words, a filter, "
            "a smaller limit)",
        )
    if kind == TOO_LARGE:
        log.info("too large for one statement on %s: %s", where, brief(exc))
        return problem(
            400,
            "the request asks for more than the database can take in one statement; "
            "nothing changed: send fewer items",
        )
    log.error("database error on %s: %s", where, brief(exc))
    return problem(500, "the database refused the request; nothing changed")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, SQLAlchemyError) or isinstance(exc.__context__, SQLAlchemyError):
        # SQLAlchemy's messages (and so a traceback) hold the statement and its parameters
        log.error("unhandled error on %s %s: %s", request.method, request.url.path, brief(exc))
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(errors.ArchiveError, _domain)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(PoolTimeout, _database)
    app.add_exception_handler(sqlite3.Error, _database)  # raised by the driver itself
    app.add_exception_handler(psycopg.Error, _database)
    app.add_exception_handler(Exception, _unexpected)


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Not Found"},
        "status": {"type": "integer", "example": 404},
        "detail": {"type": "string", "example": "no document with id 'stalin-diaries'"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                },
            },
        },
        "candidates": {"type": "array", "items": {"type": "object"}},
        "claims": {"type": "array", "items": {"type": "string"}},
    },
}

DESCRIPTIONS = {
    304: "Not modified: the representation matches If-None-Match",
    400: "Bad request: a parameter or query text could not be parsed",
    401: "No valid API key (send `Authorization: Bearer <key>`)",
    403: "The key's scope is too small for this operation",
    404: "Not found",
    409: "Conflict with the archive's current state",
    412: "Precondition failed: the resource changed since the ETag in If-Match",
    413: "Request body too large",
    415: "Unsupported media type: send the body as JSON (`Content-Type: application/json`)",
    422: "Validation failed",
    429: "Too many requests",
    503: "The database is unavailable (a lost or refused connection, or busy): retry after "
    "`Retry-After` seconds",
    504: "The request ran out of its time budget and was stopped; narrow it rather than retry",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error codes, all problem+json."""
    result: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        if code == 304:
            result[code] = {"description": DESCRIPTIONS[code]}
            continue
        result[code] = {
            "description": DESCRIPTIONS[code],
            "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}},
        }
    return result
