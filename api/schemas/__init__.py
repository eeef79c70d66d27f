"""Request and response schemas: one module per entity family, separate from the table
models. Examples come from the bundled corpus, so that /docs shows real data."""

from api.schemas.common import PageOf
from api.schemas.documents import (
    DocumentCreate,
    DocumentRead,
    DocumentUpdate,
    Health,
)

__all__ = ["DocumentCreate", "DocumentRead", "DocumentUpdate", "Health", "PageOf"]
