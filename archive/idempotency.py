"""Idempotency records: the first response to a POST sent with an `Idempotency-Key`.

A record is inserted *pending* in the same transaction as the create it guards, so the two
commit together or not at all; its response is filled in right after, before the client
sees it. Keys are scoped to a principal (the API key's name): two clients may use the same
key without meeting. Records older than the retention period are forgotten.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlmodel import Session

from archive.models import IdempotencyRecord, utcnow

PENDING = 0  # status_code of a record whose response is not stored yet
BASE64_MARK = "x-archive-body-base64"
KEPT_HEADERS = ("content-type", "location", "etag", "link", "x-text-revision")


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests "the same request" for a key: method, URL and body. A JSON
    body counts by its value, not its bytes: a retry that spaces or orders its keys
    differently (`{"a": 1}` for `{"a":1}`) is the same request."""
    digest = hashlib.sha256()
    for part in (method.upper(), path, query):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(_canonical(body))
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8): its bytes
        return body
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b"json\0" + canonical.encode("utf-8", "surrogatepass")


def find(session: Session, principal: str, key: str) -> IdempotencyRecord | None:
    return session.execute(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
        )
    ).scalar_one_or_none()


def expired(record: IdempotencyRecord, ttl_seconds: int) -> bool:
    return record.created_at < utcnow() - timedelta(seconds=ttl_seconds)


def begin(
    session: Session,
    principal: str,
    key: str,
    *,
    method: str,
    path: str,
    request_hash: str,
    ttl_seconds: int,
) -> None:
    """Insert the pending record in the caller's transaction, dropping this principal's
    expired ones. A concurrent request with the same key that got there first makes the
    flush fail (IntegrityError) or, on SQLite, could not have begun (the write lock)."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal,
            IdempotencyRecord.created_at < utcnow() - timedelta(seconds=ttl_seconds),
        )
    )
    session.add(
        IdempotencyRecord(
            principal=principal,
            key=key,
            method=method,
            path=path[:4000],
            request_hash=request_hash,
            status_code=PENDING,
            headers={},
            body="",
        )
    )
    session.flush()


def complete(
    session: Session, principal: str, key: str, status: int, headers: dict[str, str], body: bytes
) -> bool:
    """Store the response of a pending record; False when there was none to complete."""
    kept = {k: v for k, v in headers.items() if k in KEPT_HEADERS}
    try:
        text = body.decode("utf-8")
        if "\x00" in text:
            raise ValueError("NUL")
    except ValueError:
        text = base64.b64encode(body).decode("ascii")
        kept[BASE64_MARK] = "1"
    result = session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.principal == principal,
            IdempotencyRecord.key == key,
            IdempotencyRecord.status_code == PENDING,
        )
        .values(status_code=status, headers=kept, body=text)
    )
    return bool(result.rowcount)


def forget(session: Session, principal: str, key: str) -> None:
    """Drop a pending record (its request did not succeed, so a retry may run again)."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal,
            IdempotencyRecord.key == key,
            IdempotencyRecord.status_code == PENDING,
        )
    )


# A pending record's note of the resource its request created, written in the request's own
# transaction: if the response is then lost (a crash before it was stored), a retry is
# answered from it instead of with a 409.
CREATED = "x-archive-created"


def note_created(session: Session, principal: str, key: str, location: str) -> None:
    session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.principal == principal,
            IdempotencyRecord.key == key,
            IdempotencyRecord.status_code == PENDING,
        )
        .values(headers={CREATED: location})
    )


def created_location(record: IdempotencyRecord) -> str | None:
    """Where the resource a pending (committed) record's request created is, if noted."""
    if record.status_code != PENDING or not isinstance(record.headers, dict):
        return None
    location = record.headers.get(CREATED)
    return location if isinstance(location, str) else None


def stored_body(record: IdempotencyRecord) -> bytes:
    if record.headers.get(BASE64_MARK):
        return base64.b64decode(record.body)
    return record.body.encode("utf-8")


def stored_headers(record: IdempotencyRecord) -> dict[str, str]:
    return {k: v for k, v in record.headers.items() if k != BASE64_MARK}
