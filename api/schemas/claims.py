"""Schemas of claims, their evidence and provenance, and of the whole-archive import."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import Id, Strict, Text

ClaimStatus = Literal["corroborated", "single-source", "contested", "unsupported"]
Stance = Literal["supports", "contradicts", "qualifies"]
Statement = Annotated[Text, StringConstraints(min_length=1, max_length=2000)]
Tag = Annotated[Text, StringConstraints(min_length=1, max_length=64)]
Note = Annotated[Text, StringConstraints(max_length=10_000)]

STATUS_RULE = (
    "Derived from the evidence when read: `contested` when any evidence contradicts, "
    "`corroborated` when spans of two or more documents support, `single-source` when one "
    "document does, `unsupported` when none does. Evidence whose span is orphaned (its words "
    "no longer in the text) does not count."
)


class ClaimCreate(Strict):
    id: Id | None = Field(None, description="Client-chosen id; default: a slug of the statement")
    statement: Statement = Field(examples=["The speech was delivered on 25 February 1956."])
    tags: list[Tag] = Field(default_factory=list, max_length=50, examples=[["date", "congress"]])
    note: Note | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "speech-read-in-four-hours",
                    "statement": "Khrushchev spoke for about four hours.",
                    "tags": ["congress"],
                }
            ]
        },
    )


class ClaimUpdate(Strict):
    statement: Statement | None = None
    tags: list[Tag] | None = Field(None, max_length=50)
    note: Note | None = None

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"tags": ["date", "congress", "1956"]}]}
    )


class EvidenceCounts(BaseModel):
    supports: int
    contradicts: int
    qualifies: int


class ClaimRead(BaseModel):
    id: str
    statement: str
    tags: list[str]
    note: str | None
    status: ClaimStatus = Field(description=STATUS_RULE)
    disputed: bool = Field(
        description="Some evidence whose span is anchored contradicts or qualifies the claim: "
        "the sources disagree on it (even when it is not `contested`)"
    )
    evidence_counts: EvidenceCounts = Field(
        description="Every piece of evidence recorded, by stance (orphaned spans included)"
    )
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "speech-date-25-february",
                    "statement": "The speech was delivered on 25 February 1956.",
                    "tags": ["date", "congress"],
                    "note": "Siegelbaum (“Khrushchev’s Secret Speech”) alone dates the speech "
                    "February 24; the other four texts give 25 February.",
                    "status": "contested",
                    "disputed": True,
                    "evidence_counts": {"supports": 3, "contradicts": 1, "qualifies": 0},
                    "created_by": "bundled-corpus",
                    "created_at": "2026-11-23T18:00:00Z",
                    "updated_at": "2026-11-23T18:00:00Z",
                }
            ]
        }
    )


class EvidenceCreate(Strict):
    id: Id | None = Field(None, description="Client-chosen id; default: `<claim>--<document>`")
    span_id: Id = Field(examples=["siegelbaum-february-24"])
    stance: Stance
    note: Note | None = Field(None, description="What the span says about the claim")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "span_id": "siegelbaum-february-24",
                    "stance": "contradicts",
                    "note": "Siegelbaum dates the speech 'February 24, 1956'.",
                }
            ]
        },
    )


class EvidenceUpdate(Strict):
    stance: Stance | None = None
    note: Note | None = None

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"stance": "qualifies"}]}
    )


class EvidenceRead(BaseModel):
    id: str
    claim_id: str
    span_id: str
    document_id: str
    stance: Stance
    note: str | None
    recorded_by: str | None = Field(description="The name of the key that recorded it")
    recorded_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "speech-date-25-february--siegelbaum",
                    "claim_id": "speech-date-25-february",
                    "span_id": "siegelbaum-february-24",
                    "document_id": "siegelbaum-secret-speech",
                    "stance": "contradicts",
                    "note": "Siegelbaum dates the speech 'February 24, 1956'.",
                    "recorded_by": "bundled-corpus",
                    "recorded_at": "2026-11-23T18:00:00Z",
                }
            ]
        }
    )


class ProvenanceSpan(BaseModel):
    id: str
    exact: str = Field(description="The exact words, `text[start:end]` of the document")
    start: int
    end: int
    prefix: str
    suffix: str
    speaker: str | None
    kind: str
    quoted_from: str | None = Field(description="The span these words quote, when known")
    anchor_status: str
    created_by: str | None
    created_at: datetime


class ProvenanceDocument(BaseModel):
    id: str
    title: str
    creators: list[dict[str, Any]]
    published: str | None
    publisher: str | None
    source_url: str | None


class ProvenanceCitation(BaseModel):
    id: str
    label: str | None
    raw: str
    status: str
    csl: dict[str, Any]
    text: str = Field(description="The reference formatted in `?style=` (default Chicago)")


class ProvenanceEvidence(BaseModel):
    id: str
    stance: Stance
    note: str | None
    recorded_by: str | None
    recorded_at: datetime
    span: ProvenanceSpan
    document: ProvenanceDocument
    citations: list[ProvenanceCitation]


class Tension(BaseModel):
    supporting: str = Field(description="The id of a piece of evidence that supports the claim")
    opposing: str = Field(description="The id of one that contradicts or qualifies it")
    stance: Literal["contradicts", "qualifies"] = Field(description="The opposing one's stance")


class ProvenanceRead(BaseModel):
    claim: ClaimRead
    status: ClaimStatus
    evidence: list[ProvenanceEvidence]
    documents: int = Field(description="How many distinct documents the evidence comes from")
    conflicts: list[list[str]] = Field(
        description="Pairs [supporting evidence id, contradicting evidence id]"
    )
    tensions: list[Tension] = Field(
        description="Each supporting piece of evidence paired with each contradicting or "
        "qualifying one; evidence whose span is orphaned is in neither list"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "claim": ClaimRead.model_config["json_schema_extra"]["examples"][0],
                    "status": "contested",
                    "evidence": [
                        {
                            "id": "speech-date-25-february--siegelbaum",
                            "stance": "contradicts",
                            "note": "Siegelbaum dates the speech 'February 24, 1956'.",
                            "recorded_by": "bundled-corpus",
                            "recorded_at": "2026-11-23T18:00:00Z",
                            "span": {
                                "id": "siegelbaum-february-24",
                                "exact": "On February 24, 1956 before assembled delegates "
                                "to the Communist Party’s Twentieth Congress …",
                                "start": 90,
                                "end": 313,
                                "prefix": "ubject essay: Lewis Siegelbaum\n\n",
                                "suffix": " The speech was “secret” in the ",
                                "speaker": None,
                                "kind": "passage",
                                "quoted_from": None,
                                "anchor_status": "exact",
                                "created_by": "bundled-corpus",
                                "created_at": "2026-11-23T18:00:00Z",
                            },
                            "document": {
                                "id": "siegelbaum-secret-speech",
                                "title": "Khrushchev’s Secret Speech",
                                "creators": [{"name": "Lewis Siegelbaum", "role": "author"}],
                                "published": None,
                                "publisher": None,
                                "source_url": None,
                            },
                            "citations": [],
                        }
                    ],
                    "documents": 4,
                    "conflicts": [
                        ["speech-date-25-february--fear", "speech-date-25-february--siegelbaum"]
                    ],
                    "tensions": [
                        {
                            "supporting": "speech-date-25-february--fear",
                            "opposing": "speech-date-25-february--siegelbaum",
                            "stance": "contradicts",
                        }
                    ],
                }
            ]
        }
    )


class ImportResult(BaseModel):
    imported: dict[str, int] = Field(
        description="Records written, by type",
        examples=[{"document": 5, "citation": 37, "span": 186, "claim": 81, "evidence": 210}],
    )
    lines: int = Field(description="Non-blank lines read", examples=[519])
