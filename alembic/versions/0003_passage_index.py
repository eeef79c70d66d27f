"""passage index for quote lookup: chunks of every current text and shingle postings

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 18:40:00

See archive/lookup/index.py for what the two tables hold. The tables are created here as
that module describes them at this revision, and filled from the current texts with its
code (the index is derived data: `archive reindex` builds it again at any time).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel import Session

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "passage_chunks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column(
            "document_id",
            sa.String(64),
            sa.ForeignKey("documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("char_start", sa.Integer, nullable=False),
        sa.Column("byte_start", sa.BigInteger, nullable=False),
        sa.Column("word_start", sa.Integer, nullable=False),
        sa.UniqueConstraint("document_id", "seq", name="uq_passage_chunks_document_id_seq"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "passage_postings",
        sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # buckets are read whole and rewritten whole: keep them uncompressed
        op.execute("ALTER TABLE passage_postings ALTER COLUMN data SET STORAGE EXTERNAL")
    from archive.lookup import index

    index.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_table("passage_postings")
    op.drop_table("passage_chunks")
