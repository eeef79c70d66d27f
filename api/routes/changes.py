"""The change feed: every create, update and delete, in order, for mirrors that catch up."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import Reader, SessionDep
from api.errors import responses
from api.routes.documents import Cursor, Limit, page_response
from api.schemas.changes import ChangeFeed
from archive import changes
from archive.errors import BadQuery
from archive.models import Change
from archive.pagination import Page, decode_cursor, encode_cursor
from archive.transfer import iso

router = APIRouter(prefix="/v1", tags=["changes"])

MAX_SEQ = 2**63 - 1

# `changes.ENTITIES`, the kinds of entity the feed records: any other name is a 422 naming
# them, never an empty feed (a mirror filtering on a misspelt `claims` would skip every claim).
Entity = Literal["document", "span", "citation", "claim", "evidence"]


def present(change: Change) -> dict[str, Any]:
    return {
        "seq": change.seq,
        "entity": change.entity,
        "id": change.entity_id,
        "action": change.action,
        "actor": change.actor,
        "at": iso(change.at),
    }


@router.get(
    "/changes",
    summary="Changes since a sequence number",
    response_model=ChangeFeed,
    responses=responses(304, 400, 401, 422),
)
def list_changes(
    request: Request,
    session: SessionDep,
    _: Reader,
    since: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_SEQ,
            description="Return changes after this sequence number (the `since` of your "
            "last answer; 0 for everything)",
            examples=[0],
        ),
    ] = 0,
    entity: Annotated[
        Entity | None,
        Query(
            description="Only changes to this kind of entity: " + ", ".join(changes.ENTITIES),
            examples=["document"],
        ),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Every create, update and delete with a sequence number that only grows, oldest first.

    To mirror the archive, read `/v1/changes?since=0` page by page, fetch (or drop, for
    `delete`) each entity named, and keep the answer's `since`; later, ask for
    `?since=<that number>` to catch up. A change committed while you read is never skipped:
    sequence numbers are handed out in commit order. Deleting a document also deletes its
    spans and citations without a change of their own."""
    position = decode_cursor(cursor, "since")
    if position is not None:
        try:
            since = int(position["since"])
        except (TypeError, ValueError):
            since = -1
        if not 0 <= since <= MAX_SEQ:
            raise BadQuery("cursor: not a cursor for this list; use next_cursor as given")
    feed = changes.feed(session, since=since, limit=limit, entity=entity)
    page = Page(
        items=feed.items,
        total=feed.total,
        next_cursor=encode_cursor({"since": feed.next_since}) if feed.more else None,
        extra={"since": feed.next_since, "latest": feed.latest},
    )
    return page_response(request, page, [present(c) for c in feed.items])
