"""Schemas of quote spans, their fidelity, and of a new revision of a document's text."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import Id, Strict, Text

SpanKind = Literal["quote", "passage", "note"]
AnchorStatus = Literal["exact", "moved", "fuzzy", "orphaned"]
Offset = Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)]
Exact = Annotated[Text, StringConstraints(min_length=1, max_length=100_000)]
Context = Annotated[Text, StringConstraints(max_length=1000)]
Speaker = Annotated[Text, StringConstraints(min_length=1, max_length=200)]
Note = Annotated[Text, StringConstraints(max_length=10_000)]
Tag = Annotated[Text, StringConstraints(min_length=1, max_length=64)]

ANCHOR_RULE = (
    "How the span was last anchored: `exact` (created, or found at its position after an "
    "edit), `moved` (its quote found elsewhere), `fuzzy` (found approximately: the words "
    "changed), `orphaned` (not found in the current text: `start`, `end` and `exact` are "
    "those it had in revision `revision`)."
)


class SpanFields(Strict):
    kind: SpanKind | None = Field(None, description="quote, passage or note (default: quote)")
    speaker: Speaker | None = Field(None, description="Who is quoted", examples=["Anastas Mikoyan"])
    quoted_from: Id | None = Field(None, description="The id of the span this one quotes")
    note: Note | None = None
    tags: list[Tag] | None = Field(None, max_length=50)
    citation_ids: list[Id] | None = Field(
        None, max_length=100, description="Citations of the same document behind this span"
    )


class SpanCreate(SpanFields):
    """Either `start` and `end`, or `exact` (with `prefix`/`suffix` to choose among repeats)."""

    id: Id | None = Field(None, description="Client-chosen id; default: a slug of the first words")
    start: Offset | None = Field(None, description="First code point (inclusive)")
    end: Offset | None = Field(None, description="Last code point (exclusive)")
    exact: Exact | None = Field(None, description="The words, as the text has them")
    prefix: Context | None = Field(None, description="Text just before, to choose among repeats")
    suffix: Context | None = Field(None, description="Text just after, to choose among repeats")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "exact": "God knows what we’re supposed to think",
                    "suffix": "…What will",
                    "kind": "quote",
                    "speaker": "Sergei Mezentsev",
                    "tags": ["reaction"],
                },
                {"start": 1161, "end": 1174, "kind": "passage"},
            ]
        },
    )


class SpanUpdate(SpanFields):
    """Fields to change. `start`/`end` or `exact` (+ `prefix`/`suffix`) re-target the span in
    the current text (an orphaned span gets a new home this way)."""

    start: Offset | None = None
    end: Offset | None = None
    exact: Exact | None = None
    prefix: Context | None = None
    suffix: Context | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"speaker": "Sergei Mezentsev", "tags": ["reaction", "congress"]}]
        },
    )


class SpanRead(BaseModel):
    id: str
    document_id: str
    start: int = Field(description="Code-point offset of the first character (inclusive)")
    end: int = Field(description="Code-point offset after the last character (exclusive)")
    exact: str = Field(description="text[start:end] (for an orphaned span: in `revision`)")
    prefix: str = Field(description="Up to 32 characters before")
    suffix: str = Field(description="Up to 32 characters after")
    kind: SpanKind
    speaker: str | None
    quoted_from: str | None
    note: str | None
    tags: list[str]
    citation_ids: list[str]
    anchor_status: AnchorStatus = Field(description=ANCHOR_RULE)
    revision: int = Field(description="The text revision the offsets point into")
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "fear-mikoyan-went-to-khrushchev",
                    "document_id": "fear-backstage",
                    "start": 999,
                    "end": 1442,
                    "exact": "I went to Nikita Sergeyevich and one on one began telling him ... "
                    "We have to report what happened, […] for the crimes that were committed.",
                    "prefix": 'on changed radically. Mikoyan: "',
                    "suffix": ' ..." The prospect of such a con',
                    "kind": "quote",
                    "speaker": "Anastas Mikoyan",
                    "quoted_from": None,
                    "note": "Mikoyan's recollection as reported by Moskovskiye Novosti.",
                    "tags": ["decision", "mikoyan", "responsibility"],
                    "citation_ids": [],
                    "anchor_status": "exact",
                    "revision": 1,
                    "created_by": "bundled-corpus",
                    "created_at": "2026-11-23T18:00:00Z",
                    "updated_at": "2026-11-23T18:00:00Z",
                }
            ]
        }
    )


class DiffItem(BaseModel):
    op: Literal["equal", "delete", "insert", "replace"] = Field(
        description="delete: source words the quote leaves out; insert: quote words the "
        "source does not have"
    )
    source: str
    quote: str


class FidelityRead(BaseModel):
    span_id: str
    quoted_from: str
    quote: str = Field(description="The span's words")
    source: str = Field(description="The words of the span it quotes")
    verdict: Literal["exact", "normalized", "elided", "altered"] = Field(
        description="exact: verbatim; normalized: the same words once quote marks, dashes, "
        "case, line breaks, notes and brackets are set aside; elided: words left out, none "
        "changed; altered: words changed or added"
    )
    score: float = Field(
        ge=0,
        le=1,
        description="1.0 for exact, and for normalized unless the punctuation differs",
    )
    diff: list[DiffItem]
    truncated: bool = Field(
        description="The quote stops short of the end of its source's sentence, or starts "
        "after its beginning"
    )
    punctuation: bool = Field(
        description="A mark between the quoted words, or the one it ends with, differs from "
        "the source's (quote marks, spacing, '...' for '…' aside)"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "span_id": "brief-mezentsev-title",
                    "quoted_from": "brief-mezentsev-what-next",
                    "quote": "The things that were said…God knows what we’re supposed to think!",
                    "source": "The things that were said…God knows what we’re supposed to "
                    "think…What will happen next?",
                    "verdict": "normalized",
                    "score": 0.9851,
                    "diff": [
                        {
                            "op": "equal",
                            "source": "The things … think",
                            "quote": "The things … think",
                        }
                    ],
                    "truncated": True,
                    "punctuation": True,
                }
            ]
        }
    )


class AnchoringCounts(BaseModel):
    exact: int
    moved: int
    fuzzy: int
    orphaned: int


class RevisionRead(BaseModel):
    document_id: str
    revision: int = Field(description="The document's revision now")
    changed: bool = Field(description="False when the text sent was the current text")
    anchoring: AnchoringCounts = Field(description="The document's spans by how they were found")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "document_id": "fear-backstage",
                    "revision": 2,
                    "changed": True,
                    "anchoring": {"exact": 41, "moved": 0, "fuzzy": 1, "orphaned": 0},
                }
            ]
        }
    )
