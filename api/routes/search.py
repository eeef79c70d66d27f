"""Full-text search over documents, quote spans and claims."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.conditional import plain_json, send_plain
from api.deps import Reader, SessionDep, public_url
from api.errors import responses
from api.schemas.search import SearchResults
from archive import changes
from archive import search as archive_search
from archive.cache import VersionedCache
from archive.models import ID_PATTERN
from archive.pagination import MAX_LIMIT

router = APIRouter(prefix="/v1", tags=["search"])

SYNTAX = """Words (all must match), `"exact phrases"`, `OR` between alternatives (uppercase),
`-excluded` words or phrases, and `prefix*`. Case, accents and English word endings are
ignored (`delegate` finds "delegates"); beside other words, very common words (`the`, `of`)
are left out and listed in `ignored`. A word that matches nothing is read as the index's
nearest words (`Kruschev` as `khrushchev`), listed in `corrections`."""

#: A search answer as sent: the JSON body, its ETag, and the next page's cursor (the Link
#: header is made per request from it).
Cached = tuple[bytes, str, str | None]


@router.get(
    "/search",
    summary="Search documents, spans and claims",
    response_model=SearchResults,
    responses=responses(304, 400, 401, 422),
)
def search(
    *,
    request: Request,
    session: SessionDep,
    _: Reader,
    # limit and cursor come first so that their errors are reported first (a missing q
    # would otherwise hide them)
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per page (at most 100)")
    ] = 20,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` from the previous page")
    ] = None,
    q: Annotated[str, Query(description=SYNTAX, examples=["Mikoyan"])],
    type: Annotated[
        str | None,
        Query(pattern="^(document|span|claim)$", description="Only items of this type"),
    ] = None,
    document: Annotated[
        str | None,
        Query(
            pattern=ID_PATTERN,
            description="Only this document, its spans and the claims its spans are evidence for",
            examples=["fear-backstage"],
        ),
    ] = None,
    kind: Annotated[
        str | None,
        Query(pattern="^(primary|secondary)$", description="Only items of documents of this kind"),
    ] = None,
    creator: Annotated[
        str | None, Query(max_length=200, description="Part of a document creator's name")
    ] = None,
    speaker: Annotated[
        str | None,
        Query(max_length=200, description="Only spans whose speaker's name contains this"),
    ] = None,
    published_from: Annotated[
        str | None, Query(max_length=10, description="YYYY, YYYY-MM or YYYY-MM-DD")
    ] = None,
    published_to: Annotated[
        str | None, Query(max_length=10, description="YYYY, YYYY-MM or YYYY-MM-DD")
    ] = None,
) -> Response:
    """Best matches first (BM25 on SQLite, `ts_rank_cd` on PostgreSQL; a title counts ten
    times its text), each with a plain-text `snippet` and the `highlights` in it, the
    `total` and `facets` over all matches, and a cursor for the next page (good for this
    search until the next write, then a 400 saying so). Search text that cannot be parsed
    (an unclosed quote, `NEAR`, a lone `-`) is a 400 saying why.

    Answers are cached per worker until the next write (`ARCHIVE_SEARCH_CACHE_SIZE`
    answers, default 1024; 0 turns the cache off): a repeated search is answered without
    searching, yet always as the archive stands, since any recorded write empties it.
    Edits made with raw SQL, outside the API and the CLI, are not seen until the next
    write or a restart."""
    filters = archive_search.Filters(
        type=type,
        document=document,
        kind=kind,
        creator=creator,
        speaker=speaker,
        published_from=published_from,
        published_to=published_to,
    )
    cache: VersionedCache[Cached] = request.app.state.search_cache
    key = (q, filters, limit, cursor)  # Filters is a frozen dataclass: hashable, compared by value
    # Read first, in the search's own transaction: see archive/cache.py on consistency.
    version = changes.latest(session)
    cached = cache.get(version, key)
    if cached is None:
        cached = _search(session, q, filters, limit=limit, cursor=cursor, version=version)
        cache.put(version, key, cached)  # not reached by a bad query: that raised a 400
    content, etag, next_cursor = cached
    headers = {}
    if next_cursor:
        # Built per request: the link carries the request's own host and parameters.
        headers["Link"] = f'<{public_url(request, cursor=next_cursor)}>; rel="next"'
    return send_plain(request, content, etag, headers)


def _search(
    session: Session,
    q: str,
    filters: archive_search.Filters,
    *,
    limit: int,
    cursor: str | None,
    version: int,
) -> Cached:
    results = archive_search.search(
        session, q, filters, limit=limit, cursor=cursor, version=version
    )
    body = {
        "query": results.query,
        "total": results.total,
        "items": [vars(hit) for hit in results.items],
        "facets": results.facets,
        "next_cursor": results.next_cursor,
        "ignored": results.ignored,
        "corrections": [{"word": c.word, "read_as": list(c.read_as)} for c in results.corrections],
    }
    return (*plain_json(body), results.next_cursor)
