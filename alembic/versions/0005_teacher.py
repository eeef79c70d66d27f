"""who stored each revision of a document's text

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 18:20:00

`document_texts.created_by`: the name of the key that stored the revision (null for texts
stored before this column, by an import, or by the bundled corpus's loader), shown by
GET /v1/documents/{id}/revisions. SQLite adds a nullable column in place, so the search
triggers on the table stay as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("document_texts", sa.Column("created_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("document_texts", recreate="never") as batch:
        batch.drop_column("created_by")
