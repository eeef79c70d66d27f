"""Schemas of search results."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FacetValue(BaseModel):
    value: str = Field(examples=["span"])
    count: int = Field(examples=[4])


class Facets(BaseModel):
    """Counts over the whole result set, largest first. Documents and spans count under
    their document's values, a claim under those of the documents its evidence quotes."""

    type: list[FacetValue]
    kind: list[FacetValue]
    creator: list[FacetValue]
    year: list[FacetValue]


class SearchHit(BaseModel):
    type: Literal["document", "span", "claim"]
    id: str = Field(examples=["fear-mikoyan-requests"])
    document_id: str | None = Field(
        description="The document of a document or span; null for a claim",
        examples=["fear-backstage"],
    )
    title: str = Field(
        description="The document's title (for a span, its document's); a claim's statement",
        examples=["Fear Backstage Before Khrushchev's Secret Speech"],
    )
    score: float = Field(description="Relevance, higher is better", examples=[6.96719])
    snippet: str = Field(
        description="Plain text around the best match",
        examples=["…that not one of the cases I forwarded was denied rehabilitation. Mikoyan's"],
    )
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) code-point offsets of the matches in `snippet`",
        examples=[[[66, 73]]],
    )


class Correction(BaseModel):
    word: str = Field(
        description="A word of the search that matches nothing in the index", examples=["Kruschev"]
    )
    read_as: list[str] = Field(
        description="The index's nearest words, searched in its place (any of them)",
        examples=[["khrushchev"]],
    )


class SearchResults(BaseModel):
    query: str = Field(description="The search text as given", examples=["Mikoyan"])
    total: int = Field(description="How many items match, over all pages", examples=[6])
    items: list[SearchHit]
    facets: Facets
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")
    ignored: list[str] = Field(
        description="Words of the search text left out because they are too common to index",
        examples=[["the"]],
    )
    corrections: list[Correction] = Field(
        default=[],
        description="Misspelled words read as the nearest words of the index; empty when "
        "every word was found as typed",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "Mikoyan",
                    "total": 6,
                    "items": [
                        {
                            "type": "span",
                            "id": "fear-mikoyan-requests",
                            "document_id": "fear-backstage",
                            "title": "Fear Backstage Before Khrushchev's Secret Speech",
                            "score": 6.96719,
                            "snippet": "…that not one of the cases I forwarded was denied "
                            "rehabilitation. Mikoyan's recollection as reported…",
                            "highlights": [[66, 73]],
                        }
                    ],
                    "facets": {
                        "type": [
                            {"value": "span", "count": 4},
                            {"value": "claim", "count": 1},
                            {"value": "document", "count": 1},
                        ],
                        "kind": [{"value": "secondary", "count": 6}],
                        "creator": [],
                        "year": [],
                    },
                    "next_cursor": None,
                    "ignored": [],
                    "corrections": [],
                }
            ]
        }
    )
