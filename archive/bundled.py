"""The bundled corpus: five articles on Khrushchev's Secret Speech, and their annotations.

The texts ship byte for byte as package data (`archive/corpus/seeds/`), with the metadata
the texts themselves show (`documents.json`) and the curated annotations
(`annotations.ndjson`: citations, spans by exact text, claims, evidence).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlmodel import Session

from archive.db import migrate, session_scope
from archive.models import Document
from archive.transfer import ImportReport, Progress, import_lines

CORPUS = resources.files("archive") / "corpus"
ACTOR = "bundled-corpus"
STARTUP_LOCK = 1956_02_25  # any constant shared by every process of this service


def documents() -> list[dict[str, Any]]:
    """The five documents, each with its text read byte for byte from the seed file."""
    entries = json.loads((CORPUS / "documents.json").read_text(encoding="utf-8"))
    result = []
    for entry in entries:
        entry = dict(entry)
        raw = (CORPUS / "seeds" / entry.pop("file")).read_bytes()
        entry["text"] = raw.decode("utf-8")
        result.append(entry)
    return result


def lines() -> Iterator[str]:
    """The whole bundled corpus in the import format."""
    for doc in documents():
        yield json.dumps({"type": "document", **doc}, ensure_ascii=False)
    annotations = CORPUS / "annotations.ndjson"
    if annotations.is_file():
        yield from annotations.read_text(encoding="utf-8").splitlines()


def load(session: Session, progress: Progress | None = None) -> ImportReport:
    return import_lines(session, lines(), actor=ACTOR, progress=progress)


def document_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(Document)).scalar_one()


def initialize(engine: Engine, *, empty: bool = False) -> ImportReport | None:
    """Migrate the database; load the bundled corpus when it holds no documents.

    Returns what was loaded, or None when nothing was (an `empty` init, or documents exist).
    """
    with _startup_lock(engine):
        migrate(engine)
        if empty:
            return None
        with session_scope(engine, write=True) as session:
            # Counted inside the write transaction: a second process starting at the same
            # moment waits for the first one's load, then finds the documents there.
            if session.execute(select(func.count()).select_from(Document)).scalar_one():
                return None
            return load(session)


@contextmanager
def _startup_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, containers starting together migrate and load one at a time.

    (On SQLite the write lock already serializes them.)
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK})
            conn.commit()
