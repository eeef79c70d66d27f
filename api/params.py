"""Query parameters that would otherwise be silent no-ops, refused on every route.

- `check_query` (app-wide, before every `/v1/` route's own dependencies): a query parameter the
  route does not declare (`/v1/claims?statu=contested`) is a 400 that lists the ones it
  knows, rather than a list that comes back unfiltered. What a route declares is read from
  its own signature and dependencies, so routes added later are covered as they are.
  Document ids in a `document=` or `documents=` filter must exist: an unknown one is a 422
  that names it, rather than an empty answer.
- `Cursor`: a list's `cursor` is tied to its list. `page_response` (api/routes/documents.py)
  gives out `next_cursor` with a tag of the path and filters it was made for; a cursor sent
  with another path or other filters is a 400 (changing `limit` between pages is fine).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep
from archive import documents
from archive.errors import BadQuery, InvalidInput

DOCUMENT_FILTERS = ("document", "documents")
# The most document ids a filter may name (their number is bounded by the URL's length)
MAX_FILTER_IDS = 1000

_known: dict[int, frozenset[str]] = {}


def declared_query_parameters(route: APIRoute) -> frozenset[str]:
    """The names of the query parameters a route takes, its dependencies' included."""
    known = _known.get(id(route))
    if known is None:
        known = frozenset(_query_names(route.dependant))
        _known[id(route)] = known
    return known


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def check_query(request: Request, session: SessionDep) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.path.startswith("/v1/"):
        return  # the pages (the reading room, /docs) keep their own state in the address
    known = declared_query_parameters(route)
    given = list(dict.fromkeys(request.query_params.keys()))
    unknown = [name for name in given if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)) if known else "none"
        names = ", ".join(repr(name) for name in unknown)
        raise BadQuery(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''} {names}: "
            f"{request.method} {route.path} takes {listed}"
        )
    for name in DOCUMENT_FILTERS:
        if name in known and name in request.query_params:
            values = request.query_params.getlist(name)
            ids = [part.strip() for value in values for part in value.split(",")]
            await run_in_threadpool(require_documents, session, [i for i in ids if i], name)


def require_documents(session: Session, ids: list[str], name: str) -> None:
    """InvalidInput naming the ids in `ids` that are no document's."""
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_FILTER_IDS:
        raise InvalidInput(f"{name}: at most {MAX_FILTER_IDS} document ids")
    missing = documents.missing_documents(session, ids)
    if missing:
        shown = ", ".join(repr(i) for i in missing[:10])
        more = f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""
        raise InvalidInput(
            f"{name}: no document {shown}{more}",
            errors=[{"loc": ["query", name], "msg": f"no document {i!r}"} for i in missing],
        )


# --- a list's cursor is tied to its list ---------------------------------------------------

PAGE_PARAMETERS = ("cursor", "limit", "since")
NOT_OURS = "cursor: not a cursor this server made; use next_cursor as given"
OTHER_LIST = (
    "cursor: it belongs to another list (another path or other filters); use it with the "
    "request that gave it, or start again without a cursor"
)


def list_tag(request: Request) -> str:
    """A short hash of the list a request asks for: its path and filters (not the page's
    size or position: `limit`, `cursor`, the change feed's `since`)."""
    filters = sorted(
        (k, v) for k, v in request.query_params.multi_items() if k not in PAGE_PARAMETERS
    )
    raw = json.dumps([request.url.path, filters], ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def tie_cursor(request: Request, cursor: str | None) -> str | None:
    """The `next_cursor` given out for this list."""
    return None if cursor is None else f"{cursor}.{list_tag(request)}"


async def list_cursor(
    request: Request,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` from the previous page")
    ] = None,
) -> str | None:
    """The position in `cursor`, for the domain's list functions; 400 when it was made for
    another list."""
    if cursor is None:
        return None
    position, dot, tag = cursor.rpartition(".")
    if not dot or not position or len(tag) != 12:
        raise BadQuery(NOT_OURS)
    if tag != list_tag(request):
        raise BadQuery(OTHER_LIST)
    return position


Cursor = Annotated[str | None, Depends(list_cursor)]
