"""The application factory: `uvicorn --factory api.app:create_app`.

The app holds no state of its own beyond a connection pool and a cache of search answers
that checks the data version on every use (archive/cache.py), so any number of workers or
containers can share one database.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
from functools import lru_cache
from types import ModuleType
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from starlette.middleware.gzip import GZipMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import archive
from api import errors, routes
from api.budget import ExpensiveLimit
from api.conditional import ENTITY_TAGS
from api.cors import ALLOW_HEADERS, ALLOW_METHODS, EXPOSE_HEADERS, ProblemCORSMiddleware
from api.headers import ResponseHeaders
from api.idempotency import (
    IdempotencyMiddleware,
    IdempotentReplay,
    idempotency_dependency,
    replay_handler,
)
from api.limits import BodySizeLimit, PageSizeLimit, RateLimit, RejectNul
from api.methods import HeadAsGet
from api.params import check_query
from api.preconditions import (
    CONDITIONAL_WRITES,
    ETagMiddleware,
    guard_writes,
)
from archive.cache import VersionedCache
from archive.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, normalize_url
from archive.settings import Settings, get_settings

GZIP_MINIMUM_BYTES = 1024

DESCRIPTION = """
A REST API over an annotated primary-source archive: documents, the quote spans inside them,
their citations, and claims whose provenance can be traced to the exact words that support
or contradict them. It ships with five articles about Khrushchev's "Secret Speech" of
February 1956.

Reads are public; writes need `Authorization: Bearer <key>` (make one with
`archive keys create NAME --scope write`). Errors are RFC 9457 `application/problem+json`.

**Conditional requests.** Every resource and list carries an `ETag`; send it back in
`If-None-Match` to get `304 Not Modified`, or in `If-Match` on a PATCH, PUT or DELETE to have
the write refused (`412`, nothing changed) if someone else changed the resource meanwhile.

**Retries.** A POST with an `Idempotency-Key: <uuid>` header is carried out once: repeating
it (same key, same body) returns the first response again, with `Idempotent-Replayed: true`;
the same key with a different body is a `422`. Keys are remembered for 24 hours, per API key.

**Mirroring.** `GET /v1/changes?since=N` lists every create, update and delete after
sequence number N, in commit order; keep the answer's `since` and ask again later.

**Limits.** Bodies over `ARCHIVE_MAX_BODY_BYTES` get `413`; `limit` is at most 100 (1,000 on
a quote lookup, which answers every occurrence); with rate limiting on, a client over its
budget gets `429` with `Retry-After`.
"""


def route_modules() -> list[ModuleType]:
    """Every module in `api/routes` that defines a `router`, in name order.

    Adding an endpoint family is adding a module there; its docstring's first line
    describes its tag in the OpenAPI document.
    """
    modules = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        if hasattr(module, "router"):
            modules.append(module)
    return modules


def _tags(modules: list[ModuleType]) -> list[dict[str, str]]:
    tags: dict[str, str] = {}
    for module in modules:
        for tag in module.router.tags:
            tags.setdefault(str(tag), (module.__doc__ or "").strip().splitlines()[0])
    return [{"name": name, "description": text} for name, text in tags.items()]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    modules = route_modules()
    # /docs with every script and style served by the service itself (fastapi-offline ships
    # them), so it renders offline; no online validator badge. /redoc: api/routes/pages.py.
    app = FastAPIOffline(
        title="Secret Speech archive",
        version=archive.__version__,
        description=DESCRIPTION,
        openapi_tags=_tags(modules),
        docs_url="/docs",
        redoc_url=None,
        static_url="/static/docs",
        swagger_ui_parameters={"validatorUrl": None},
        # Run before every route's own dependencies, on the route's own session:
        dependencies=[
            Depends(check_query),  # unknown query parameters, unknown document ids
            Depends(guard_writes),
            Depends(idempotency_dependency),
        ],
    )
    app.state.settings = settings
    app.state.engine = service_engine(
        settings.database_url,
        connect_timeout=settings.db_connect_timeout_seconds,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_timeout=settings.db_pool_timeout_seconds,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    # Per app, so per worker process: see archive/cache.py and api/routes/search.py.
    app.state.search_cache = VersionedCache(settings.search_cache_size)
    if app.state.engine.dialect.name == "sqlite":
        app.state.sqlite_writers = asyncio.Lock()  # see api/preconditions.guard_writes
    errors.install(app)
    app.add_exception_handler(IdempotentReplay, replay_handler)  # type: ignore[arg-type]
    for module in modules:
        app.include_router(module.router)

    # Middleware, innermost first (each one added wraps the ones before it).
    app.add_middleware(ETagMiddleware)
    app.add_middleware(IdempotencyMiddleware)
    # Answers over 1 KiB gzip-compressed for clients that accept it (Accept-Encoding), the
    # export's stream included; ETags stay those of the uncompressed representation.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=6)

    app.add_middleware(RejectNul)
    app.add_middleware(PageSizeLimit)
    app.add_middleware(
        ExpensiveLimit,
        concurrency=settings.expensive_concurrency,
        wait_seconds=(settings.read_budget_ms or 10_000) / 1000,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    per_address, per_key = settings.rate_limits()
    if per_address or per_key:
        app.add_middleware(
            RateLimit,
            per_address=per_address,
            per_key=per_key,
            window_seconds=settings.rate_limit_window_seconds,
        )
    app.add_middleware(HeadAsGet)
    app.add_middleware(
        ProblemCORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=ALLOW_METHODS,
        allow_headers=ALLOW_HEADERS,
        expose_headers=EXPOSE_HEADERS,
    )

    app.add_middleware(ResponseHeaders, public_reads=settings.public_reads)
    if settings.trusted_proxies:
        # Outermost: the rate limit and links see the client the proxy names; only then
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)

    logging.getLogger("archive").setLevel(logging.INFO)
    if not settings.base_url:
        logging.getLogger("archive.api").warning(
            "ARCHIVE_BASE_URL is not set: JSON-LD ids and Link headers name the address the "
            "server listens on (never a request's Host header); set it to the public URL"
        )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


@lru_cache(maxsize=8)
def service_engine(
    url: str,
    *,
    connect_timeout: int,
    statement_timeout_ms: int,
    pool_timeout: int,
    sqlite_busy_timeout_ms: int,
) -> Engine:
    """The service's engine: short timeouts so that a database that is down or stuck makes
    requests fail fast with 503 (see api/errors.py) instead of hanging them."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        return make_engine(
            url,
            connect_args={
                "connect_timeout": connect_timeout,
                "options": f"-c statement_timeout={statement_timeout_ms}",
            },
            pool_timeout=pool_timeout,
        )
    engine = make_engine(url)
    if sqlite_busy_timeout_ms != SQLITE_BUSY_TIMEOUT_MS:

        @event.listens_for(engine, "connect")
        def _busy_timeout(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout_ms)}")

    return engine


def _openapi(app: FastAPI) -> dict:
    """FastAPI's description, with every error response as the one problem+json schema."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = errors.PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, item in spec["paths"].items():
        for method, op in item.items():
            _document_machinery(path, method.upper(), op)
            for code, response in op.get("responses", {}).items():
                if code[0] in "45":
                    if code == "422":
                        response["description"] = errors.DESCRIPTIONS[422]
                    response["content"] = {
                        errors.PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }
    app.openapi_schema = spec
    return spec


def _header(
    name: str, description: str, example: str, pattern: str | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": 255}
    if pattern:
        schema["pattern"] = pattern
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema,
        "example": example,
    }


def _document_machinery(path: str, method: str, op: dict[str, Any]) -> None:
    """Headers and answers that the app-wide machinery (api/preconditions.py,
    api/idempotency.py, api/limits.py) adds to operations whose routes don't mention them."""
    params = op.setdefault("parameters", [])
    answers = op.setdefault("responses", {})
    # 400: a NUL in the URL (api/limits.RejectNul); 503/504: api/errors._database
    codes: list[int] = [400, 503, 504]
    if path != "/v1/health":
        codes.append(429)
    if "requestBody" in op:
        codes.append(413)
        if "application/json" in op["requestBody"].get("content", {}):
            codes.append(415)  # a body sent as anything but JSON (api/errors._validation)
    if method in CONDITIONAL_WRITES:
        params.append(
            _header(
                "If-Match",
                "Carry out the write only if the resource's ETag is still this one (else 412); "
                "a header that is not `*` or quoted ETags is a 400",
                '"3f2a9c0e5b7d41a68e0c2b9d7f1a4e6c"',
                pattern=ENTITY_TAGS,
            )
        )
        codes.append(412)
    if method == "POST":
        params.append(
            _header(
                "Idempotency-Key",
                "A key of yours (a UUID): retrying with the same key and body returns the "
                "first response instead of doing it again; a different body is a 422",
                "5f0c6a8e-3b7e-4d2a-9c41-2e8f1b7d6a90",
                pattern=r"^[\x21-\x7e]{1,255}$",
            )
        )
        codes += [409, 422]
    for code in codes:
        answers.setdefault(str(code), {"description": errors.DESCRIPTIONS[code]})
