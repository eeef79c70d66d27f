"""Domain errors. They carry no HTTP status: `api/errors.py` maps each class to one, once."""

from __future__ import annotations

from typing import Any


class ArchiveError(Exception):
    """Base of every error the domain raises on purpose; `detail` is shown to the user."""

    title = "Archive error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(ArchiveError):
    title = "Not found"


class Conflict(ArchiveError):
    """The request clashes with the archive's state (duplicate id, ambiguous quote, link in use)."""

    title = "Conflict"


class InvalidInput(ArchiveError):
    """Well-formed but unacceptable input: offsets outside the text, a quote that is absent."""

    title = "Invalid input"


class BadQuery(ArchiveError):
    """Query text or a parameter that cannot be parsed (search syntax, cursor)."""

    title = "Bad request"


class PreconditionFailed(ArchiveError):
    title = "Precondition failed"


class Unauthorized(ArchiveError):
    title = "Unauthorized"


class Forbidden(ArchiveError):
    title = "Forbidden"


class Unavailable(ArchiveError):
    """The database cannot be reached right now."""

    title = "Service unavailable"


def brief(exc: BaseException) -> str:
    """A database driver's error in one short line, for logs: its class and first line,
    never the statement or its parameters (which SQLAlchemy's own message holds)."""
    orig = getattr(exc, "orig", None) or exc
    diag = getattr(orig, "diag", None)
    text = (getattr(diag, "message_primary", None) or str(orig)).strip()
    first = text.splitlines()[0] if text else ""
    if "[SQL:" in first:
        first = first[: first.index("[SQL:")].rstrip()
    return f"{type(orig).__name__}: {first[:200]}"
