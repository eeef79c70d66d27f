"""The change feed: every create, update and delete, numbered in the order it was recorded."""

from __future__ import annotations

from sqlmodel import Session

from archive.models import Change


def record(session: Session, entity: str, entity_id: str, action: str, actor: str | None) -> None:
    """Log a change in the caller's transaction, so it lands or vanishes with the write."""
    session.add(Change(entity=entity, entity_id=entity_id, action=action, actor=actor))
