"""The application factory: `uvicorn --factory api.app:create_app`.

The app holds no state of its own beyond a connection pool, so any number of workers or
containers can share one database.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from types import ModuleType

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

import archive
from api import errors, routes
from archive.db import engine_for
from archive.settings import Settings, get_settings

DESCRIPTION = """
A REST API over an annotated primary-source archive: documents, the quote spans inside them,
their citations, and claims whose provenance can be traced to the exact words that support
or contradict them. It ships with five articles about Khrushchev's "Secret Speech" of
February 1956.

Reads are public; writes need `Authorization: Bearer <key>` (make one with
`archive keys create NAME --scope write`). Errors are RFC 9457 `application/problem+json`.
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
    app = FastAPI(
        title="Secret Speech archive",
        version=archive.__version__,
        description=DESCRIPTION,
        openapi_tags=_tags(modules),
        docs_url="/docs",
        redoc_url="/redoc",
    )
    app.state.settings = settings
    app.state.engine = engine_for(settings.database_url)
    errors.install(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Idempotency-Key",
        ],
        expose_headers=["ETag", "Location", "Link", "Retry-After"],
    )
    for module in modules:
        app.include_router(module.router)

    @app.middleware("http")
    async def reject_nul(request: Request, call_next):  # noqa: ANN001, ANN202
        """NUL cannot be stored or searched anywhere; refuse it before a route sees it."""
        raw = request.scope.get("query_string", b"") + request.scope.get("raw_path", b"")
        if b"%00" in raw or b"\x00" in raw:
            return errors.problem(400, "the URL contains a NUL character (%00)")
        return await call_next(request)

    logging.getLogger("archive").setLevel(logging.INFO)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


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
    for item in spec["paths"].values():
        for op in item.values():
            for code, response in op.get("responses", {}).items():
                if code[0] in "45":
                    if code == "422":
                        response["description"] = errors.DESCRIPTIONS[422]
                    response["content"] = {
                        errors.PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }
    app.openapi_schema = spec
    return spec
