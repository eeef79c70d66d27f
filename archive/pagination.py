"""Opaque cursors for keyset pagination, and the page every list returns."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from archive.errors import BadQuery

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
INT4 = 2**31 - 1  # the largest integer a cursor's positions may hold (PostgreSQL integer)


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *keys: str) -> dict[str, Any] | None:
    """The position a cursor encodes; BadQuery when it was not made by `encode_cursor`."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise BadQuery("cursor: not a cursor this server made; use next_cursor as given") from None
    if not isinstance(position, dict) or any(k not in position for k in keys):
        raise BadQuery("cursor: not a cursor for this list; use next_cursor as given")
    return position


def decode_keyset(cursor: str | None, fields: dict[str, type]) -> tuple[Any, ...] | None:
    """The values of a keyset cursor, in the order of `fields` (name → `str` or `int`; ints
    within ±INT4, never booleans); BadQuery when it is not such a cursor."""
    position = decode_cursor(cursor, *fields)
    if position is None:
        return None
    values = tuple(position[name] for name in fields)
    for value, kind in zip(values, fields.values(), strict=True):
        if kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) <= INT4
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise BadQuery("cursor: not a cursor for this list; use next_cursor as given")
    return values
