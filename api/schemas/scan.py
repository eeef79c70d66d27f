"""Schemas of checking a text: the passages of it that occur in the archive, and the
places a span's words are quoted."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import Id, Strict, Text
from api.schemas.quotes import KIND_RULE, MIN_SCORE_RULE, QuoteMatch
from api.schemas.spans import DiffItem
from archive.lookup.run import MAX_DOCUMENTS
from archive.lookup.scan import MAX_MIN_WORDS, MAX_TEXT, MIN_WORDS
from archive.text.alignment import DEFAULT_MIN_SCORE

ScannedText = Annotated[Text, StringConstraints(min_length=1, max_length=MAX_TEXT)]


class QuoteScan(Strict):
    text: ScannedText = Field(
        description=f"The text to check: an essay, a chapter, an article (up to {MAX_TEXT:,} "
        "characters)"
    )
    documents: list[Id] | None = Field(
        None, max_length=MAX_DOCUMENTS, description="Only these documents"
    )
    kind: Literal["primary", "secondary"] | None = Field(None, description=KIND_RULE)
    min_score: float = Field(DEFAULT_MIN_SCORE, ge=0, le=1, description=MIN_SCORE_RULE)
    min_words: int = Field(
        MIN_WORDS,
        ge=1,
        le=MAX_MIN_WORDS,
        description="The shortest passage reported, in words: shorter runs of words shared "
        "with a source are common phrases more often than quotations",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "Teachers ask how the speech reached ordinary people. Political "
                    "prisoners were exluded from the amnesty. Historians still argue about the "
                    "numbers."
                }
            ]
        },
    )


class FidelityVerdict(BaseModel):
    verdict: Literal["exact", "normalized", "elided", "altered"] = Field(
        description="exact: verbatim; normalized: the same words once quote marks, dashes, "
        "case, line breaks, notes and brackets are set aside; elided: words left out, none "
        "changed; altered: words changed or added"
    )
    score: float = Field(ge=0, le=1)
    truncated: bool = Field(
        description="The quotation stops short of the end of the source's sentence, or starts "
        "after its beginning"
    )
    punctuation: bool = Field(
        description="A mark between the quoted words, or the one it ends with, differs from "
        "the source's"
    )
    diff: list[DiffItem]


class BestMatch(BaseModel):
    document_id: str
    document_title: str
    start: int = Field(description="Code-point offset into the document's current text")
    end: int
    exact: str = Field(description="The text as the document has it, text[start:end]")
    match: Literal["exact", "normalized", "fuzzy"]
    score: float = Field(ge=0, le=1)
    fidelity: FidelityVerdict = Field(
        description="How faithfully the passage quotes this source, word by word"
    )


class ScannedPassage(BaseModel):
    start: int = Field(description="Code-point offset into the scanned text")
    end: int
    text: str = Field(description="The scanned text's words, text[start:end]")
    matches: list[QuoteMatch] = Field(
        description="Every place in the archive this passage (or part of it) occurs, best first"
    )
    best: BestMatch = Field(
        description="The closest source: the match covering most of the passage"
    )


PASSAGE_EXAMPLE = {
    "start": 53,
    "end": 102,
    "text": "Political prisoners were exluded from the amnesty",
    "matches": [
        {
            "document_id": "figes-secret-speech",
            "document_title": "The Secret Speech",
            "start": 429,
            "end": 479,
            "exact": "Political prisoners were excluded from the amnesty",
            "prefix": "sed by an amnesty on 27 March.\n\n",
            "suffix": ". Their cases needed to be revie",
            "score": 0.98,
            "match": "fuzzy",
            "spans": [{"id": "figes-political-excluded", "speaker": None, "kind": "passage"}],
            "claims": ["amnesty-27-march-1953"],
        }
    ],
    "best": {
        "document_id": "figes-secret-speech",
        "document_title": "The Secret Speech",
        "start": 429,
        "end": 479,
        "exact": "Political prisoners were excluded from the amnesty",
        "match": "fuzzy",
        "score": 0.98,
        "fidelity": {
            "verdict": "altered",
            "score": 0.9899,
            "diff": [
                {
                    "op": "equal",
                    "source": "Political prisoners were",
                    "quote": "Political prisoners were",
                },
                {"op": "replace", "source": "excluded", "quote": "exluded"},
                {"op": "equal", "source": "from the amnesty", "quote": "from the amnesty"},
            ],
        },
    },
}


class QuoteScanRead(BaseModel):
    passages: list[ScannedPassage] = Field(description="In text order; none overlap")

    model_config = ConfigDict(json_schema_extra={"examples": [{"passages": [PASSAGE_EXAMPLE]}]})


class QuotingPlace(BaseModel):
    document_id: str
    document_title: str
    published: str | None = Field(description="When the quoting document was published")
    start: int = Field(description="Code-point offset into the quoting document's current text")
    end: int
    exact: str = Field(description="The quoting document's words, text[start:end]")
    match: Literal["exact", "normalized", "fuzzy"] | None = Field(
        description="How the span's words were found there (null: a curated quotation whose "
        "words the lookup does not recognise)"
    )
    score: float | None = Field(ge=0, le=1)
    curated: bool = Field(description="A span there says it is `quoted_from` this one")
    fidelity: FidelityVerdict | None = Field(
        description="How faithfully this place quotes the span"
    )


class DocumentQuotationsRead(BaseModel):
    document_id: str
    passages: list[ScannedPassage] = Field(
        description="The document's passages that occur in other documents, in text order"
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"document_id": "secret-speech-brief", "passages": []}]}
    )
