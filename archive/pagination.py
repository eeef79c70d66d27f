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
