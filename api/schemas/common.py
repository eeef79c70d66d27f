"""Types shared by every schema family: storable strings, ids, pages."""

from __future__ import annotations

import re
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from archive.documents import check_published
from archive.models import ID_PATTERN

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value: str) -> str:
    if _UNSTORABLE.search(value):
        raise ValueError("contains a NUL character or a lone surrogate")
    return value


def _published(value: str | None) -> str | None:
    try:
        return check_published(value)
    except Exception as exc:  # InvalidInput -> a validation message
        raise ValueError(str(exc).partition(": ")[2]) from None


Text = Annotated[str, AfterValidator(_storable)]
Line = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_storable)]
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Published = Annotated[str | None, Field(examples=["1956-06-05"]), AfterValidator(_published)]

T = TypeVar("T")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PageOf(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="How many items match, over all pages")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")
