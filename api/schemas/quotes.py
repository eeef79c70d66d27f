"""Schemas of quote lookup: where does a quotation occur in the archive?"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import Id, Strict, Text
from archive.lookup.run import MAX_DOCUMENTS, MAX_MATCHES, MAX_QUERY
from archive.text.alignment import DEFAULT_MIN_SCORE

Quotation = Annotated[Text, StringConstraints(min_length=1, max_length=MAX_QUERY)]

MIN_SCORE_RULE = (
    f"Leave out matches scoring below this (0 to 1; default {DEFAULT_MIN_SCORE}, calibrated so "
    "that a quotation that is not in the archive matches nothing)"
)
KIND_RULE = "Only documents of this kind (`primary` or `secondary`, as in /v1/search)"


class QuoteLookup(Strict):
    text: Quotation = Field(description="The quotation, as you have it")
    documents: list[Id] | None = Field(
        None, max_length=MAX_DOCUMENTS, description="Only these documents"
    )
    kind: Literal["primary", "secondary"] | None = Field(None, description=KIND_RULE)
    min_score: float = Field(DEFAULT_MIN_SCORE, ge=0, le=1, description=MIN_SCORE_RULE)
    limit: int = Field(
        20, ge=1, le=MAX_MATCHES, description="At most this many matches (best first)"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": '"God knows what we are supposed to think"'},
                {
                    "text": "If you dont obtain confesions from the doctors we will shorten "
                    "you by a head",
                    "documents": ["secret-speech-brief"],
                    "min_score": 0.85,
                    "limit": 5,
                },
            ]
        },
    )


class SpanRef(BaseModel):
    id: str
    speaker: str | None
    kind: Literal["quote", "passage", "note"]


class QuoteMatch(BaseModel):
    document_id: str
    document_title: str
    start: int = Field(description="Code-point offset into the document's current text")
    end: int
    exact: str = Field(description="The text as the document has it, text[start:end]")
    prefix: str = Field(description="Up to 32 characters before")
    suffix: str = Field(description="Up to 32 characters after")
    score: float = Field(ge=0, le=1, description="1 exact, 0.99 normalized, at most 0.98 fuzzy")
    match: Literal["exact", "normalized", "fuzzy"]
    spans: list[SpanRef] = Field(description="Curated spans this occurrence overlaps")
    claims: list[str] = Field(description="Claims resting on those spans (through evidence)")


class QuoteLookupRead(BaseModel):
    query: str
    matches: list[QuoteMatch]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": '"God knows what we are supposed to think"',
                    "matches": [
                        {
                            "document_id": "secret-speech-brief",
                            "document_title": "The Secret Speech",
                            "start": 46,
                            "end": 84,
                            "exact": "God knows what we’re supposed to think",
                            "prefix": "ech\n\n“The things that were said…",
                            "suffix": "!”\n\nNikita Khrushchev, First Sec",
                            "score": 0.99,
                            "match": "normalized",
                            "spans": [
                                {
                                    "id": "brief-mezentsev-title",
                                    "speaker": "Sergei Mezentsev",
                                    "kind": "quote",
                                }
                            ],
                            "claims": [],
                        }
                    ],
                }
            ]
        }
    )
