"""Schemas of citations: a note or in-text reference with its CSL-JSON item."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import Id, Strict, Text

CitationStatus = Literal["ok", "broken", "empty", "ibid"]
Label = Annotated[Text, StringConstraints(max_length=64)]
Raw = Annotated[Text, StringConstraints(max_length=10_000)]
Note = Annotated[Text, StringConstraints(max_length=10_000)]

TAUBMAN = {
    "id": "brief-note-9",
    "type": "book",
    "author": [{"family": "Taubman", "given": "William"}],
    "title": "Khrushchev: The Man and His Era",
    "publisher": "W.W. Norton & Co.",
    "issued": {"date-parts": [[2003]]},
    "page": "273",
}

CSL_DESCRIPTION = (
    "One CSL-JSON item (valid against the CSL-JSON schema) holding only what the note states. "
    "Its `id` is always the citation's id."
)


class CitationCreate(Strict):
    id: Id | None = Field(None, description="Client-chosen id; default: `cit-<hex>`")
    document_id: Id = Field(description="The document the note is printed in")
    label: Label | None = Field(None, description="The note marker", examples=["9"])
    raw: Raw = Field(
        "",
        description="The note exactly as printed (it must occur in the document's text); "
        "empty when the note's text is missing",
    )
    csl: dict[str, Any] | None = Field(None, description=CSL_DESCRIPTION)
    status: CitationStatus | None = Field(
        None, description="Default: `empty` when `raw` is empty, else `ok`"
    )
    note: Note | None = Field(None, description="The curator's remark")
    span_ids: list[Id] = Field(
        default_factory=list, max_length=1000, description="Spans of the same document it supports"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "brief-note-9-copy",
                    "document_id": "secret-speech-brief",
                    "label": "9",
                    "raw": "Taubman, William (2003), Khrushchev: The Man and His Era, "
                    "W.W. Norton & Co., p 273",
                    "csl": {k: v for k, v in TAUBMAN.items() if k != "id"},
                    "span_ids": ["brief-goriunov"],
                }
            ]
        },
    )


class CitationUpdate(Strict):
    """Any of these; `span_ids` replaces the links. The document never changes."""

    label: Label | None = None
    raw: Raw | None = None
    csl: dict[str, Any] | None = Field(None, description=CSL_DESCRIPTION)
    status: CitationStatus | None = None
    note: Note | None = None
    span_ids: list[Id] | None = Field(None, max_length=1000)

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"label": "9", "status": "ok"}]}
    )


class CitationRead(BaseModel):
    id: str
    document_id: str
    label: str | None
    raw: str
    csl: dict[str, Any]
    status: CitationStatus
    note: str | None
    span_ids: list[str]
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "brief-note-9",
                    "document_id": "secret-speech-brief",
                    "label": "9",
                    "raw": "Taubman, William (2003), Khrushchev: The Man and His Era, "
                    "W.W. Norton & Co., p 273",
                    "csl": TAUBMAN,
                    "status": "ok",
                    "note": None,
                    "span_ids": ["brief-goriunov"],
                    "created_by": "bundled-corpus",
                    "created_at": "2026-11-23T18:00:00Z",
                    "updated_at": "2026-11-23T18:00:00Z",
                }
            ]
        }
    )
