"""The bundled corpus: five articles on Khrushchev's Secret Speech, and their annotations.

The texts ship byte for byte as package data (`archive/corpus/seeds/`), with the metadata
the texts themselves show (`documents.json`) and the curated annotations
(`annotations.ndjson`: citations, spans by exact text, claims, evidence).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from archive.db import migrate, session_scope
from archive.models import Document
from archive.transfer import ImportReport, Progress, import_lines

CORPUS = resources.files("archive") / "corpus"
ACTOR = "bundled-corpus"


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
    migrate(engine)
    if empty or document_count(engine):
        return None
    with session_scope(engine, write=True) as session:
        return load(session)
