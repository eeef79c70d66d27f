"""Schemas of the change feed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ChangeRead(BaseModel):
    seq: int = Field(description="Position in the feed; increases with every change")
    entity: str = Field(examples=["document"], description="document, span, citation, claim…")
    id: str = Field(examples=["figes-secret-speech"], description="The entity's id")
    action: Literal["create", "update", "delete"]
    actor: str | None = Field(description="The API key (or import) that made the change")
    at: str = Field(examples=["2024-05-01T12:00:00Z"], description="When, RFC 3339 UTC")


class ChangeFeed(BaseModel):
    items: list[ChangeRead]
    total: int = Field(description="How many changes after `since` match, over all pages")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")
    since: int = Field(
        description="Pass as ?since= next time: everything up to it has been delivered"
    )
    latest: int = Field(description="The highest sequence number in the archive")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "seq": 520,
                            "entity": "document",
                            "id": "figes-secret-speech",
                            "action": "update",
                            "actor": "teacher",
                            "at": "2024-05-01T12:00:00Z",
                        }
                    ],
                    "total": 1,
                    "next_cursor": None,
                    "since": 520,
                    "latest": 520,
                }
            ]
        }
    )
