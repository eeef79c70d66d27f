"""Schemas of documents, and of the health check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import Id, Line, Published, Strict, Text
from archive.documents import SOURCE_URL_PATTERN

DocumentKind = Literal["primary", "secondary"]


class Creator(Strict):
    name: Line = Field(min_length=1, examples=["Orlando Figes"])
    role: Line = Field("author", examples=["author"])


class Counts(BaseModel):
    spans: int
    citations: int
    claims: int


class DocumentFields(Strict):
    title: Line = Field(min_length=1, examples=["The Secret Speech"])
    kind: DocumentKind = "secondary"
    creators: list[Creator] = Field(default_factory=list, max_length=100)
    published: Published = None
    publisher: Line | None = Field(None, examples=["orlandofiges.info"])
    source_url: Line | None = Field(
        None,
        description="Where the document comes from: an http(s) URL, a doi: or a urn:",
        json_schema_extra={"pattern": SOURCE_URL_PATTERN},
        examples=["https://www.orlandofiges.info/section10_AftertheWar/TheSecretSpeech.php"],
    )
    language: Annotated[str, StringConstraints(max_length=35)] | None = Field(None, examples=["en"])
    rights: Line | None = Field(None, examples=["© 2014 Orlando Figes | All Rights Reserved"])
    description: Text | None = None


class DocumentCreate(DocumentFields):
    id: Id | None = Field(None, description="Client-chosen id; default: a slug of the title")
    text: Text = Field(min_length=1, description="The full text, stored byte for byte")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "ignatiev-exchange",
                    "title": "Stalin to Ignatiev, as reported in the Secret Speech",
                    "kind": "primary",
                    "creators": [{"name": "Nikita Khrushchev", "role": "speaker"}],
                    "published": "1956-02-25",
                    "text": "Stalin told him curtly, “If you do not obtain confessions from "
                    "the doctors we will shorten you by a head.”",
                }
            ]
        },
    )


class DocumentUpdate(Strict):
    """Metadata only; the text changes through PUT /v1/documents/{id}/text."""

    title: Line | None = Field(None, min_length=1)
    kind: DocumentKind | None = None
    creators: list[Creator] | None = Field(None, max_length=100)
    published: Published = None
    publisher: Line | None = None
    source_url: Line | None = Field(
        None,
        description="Where the document comes from: an http(s) URL, a doi: or a urn:",
        json_schema_extra={"pattern": SOURCE_URL_PATTERN},
        examples=["https://www.orlandofiges.info/section10_AftertheWar/TheSecretSpeech.php"],
    )
    language: Annotated[str, StringConstraints(max_length=35)] | None = None
    rights: Line | None = None
    description: Text | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"publisher": "orlandofiges.info", "language": "en"}]},
    )


class DocumentRead(BaseModel):
    id: str
    title: str
    kind: DocumentKind
    creators: list[dict[str, Any]]
    published: str | None
    publisher: str | None
    source_url: str | None
    language: str | None
    rights: str | None
    description: str | None
    length: int = Field(description="Length of the text in Unicode code points")
    text_sha256: str
    revision: int
    created_at: datetime
    updated_at: datetime
    counts: Counts

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "figes-secret-speech",
                    "title": "The Secret Speech",
                    "kind": "secondary",
                    "creators": [{"name": "Orlando Figes", "role": "author"}],
                    "published": "2014",
                    "publisher": "orlandofiges.info",
                    "source_url": None,
                    "language": "en",
                    "rights": "© 2014 Orlando Figes | All Rights Reserved",
                    "description": "Essay on the Gulag amnesty of 1953, the Pospelov "
                    "commission and the Secret Speech.",
                    "length": 2699,
                    "text_sha256": "…",
                    "revision": 1,
                    "created_at": "2026-11-23T18:00:00Z",
                    "updated_at": "2026-11-23T18:00:00Z",
                    "counts": {"spans": 6, "citations": 0, "claims": 9},
                }
            ]
        }
    )


class Health(BaseModel):
    status: Literal["ok"]
    database: str = Field(examples=["sqlite"])
    documents: int | None = Field(
        None,
        examples=[5],
        description="How many documents the archive holds; only to a key when reads need one",
    )


class RevisionInfoRead(BaseModel):
    revision: int = Field(description="1 for the first text; each new text adds one")
    length: int = Field(description="The text's length in code points")
    text_sha256: str
    created_at: datetime
    created_by: str | None = Field(
        description="The name of the key that stored it (null for the corpus and imports)"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "revision": 2,
                    "length": 13988,
                    "text_sha256": "9f2c…",
                    "created_at": "2026-12-03T18:30:00Z",
                    "created_by": "teacher",
                }
            ]
        }
    )
