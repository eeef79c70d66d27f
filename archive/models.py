"""Table models: the schema of the whole archive.

A document's text is stored once per revision (`document_texts`); spans point into the text
of the document's current revision by code-point offsets. Claims are linked to spans by
evidence rows; a claim's status is derived from them when read, never stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
DOCUMENT_KINDS = ("primary", "secondary")
SPAN_KINDS = ("quote", "passage", "note")
ANCHOR_STATUSES = ("exact", "moved", "fuzzy", "orphaned")
STANCES = ("supports", "contradicts", "qualifies")
CITATION_STATUSES = ("ok", "broken", "empty", "ibid")
SCOPES = ("write", "admin")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
SeqType = BigInteger().with_variant(Integer(), "sqlite")


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _fk(target: str, ondelete: str, *, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        sa_column=Column(
            String(64), ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
        )
    )


class Document(SQLModel, table=True):
    __tablename__ = "documents"
    __table_args__ = (CheckConstraint("kind IN ('primary', 'secondary')", name="kind"),)

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    title: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(default="secondary", sa_column=Column(String(16), nullable=False))
    creators: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONType, nullable=False)
    )
    published: str | None = Field(default=None, sa_column=Column(String(10), index=True))
    publisher: str | None = Field(default=None, sa_column=Column(Text))
    source_url: str | None = Field(default=None, sa_column=Column(Text))
    language: str | None = Field(default=None, sa_column=Column(String(35)))
    rights: str | None = Field(default=None, sa_column=Column(Text))
    description: str | None = Field(default=None, sa_column=Column(Text))
    revision: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    text_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    length: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = _created()
    updated_at: datetime = _created()


class DocumentText(SQLModel, table=True):
    """The text of one revision of a document, exactly as given."""

    __tablename__ = "document_texts"

    document_id: str = Field(
        sa_column=Column(
            String(64), ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
        )
    )
    revision: int = Field(sa_column=Column(Integer, primary_key=True))
    text: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = _created()
    created_by: str | None = Field(default=None, sa_column=Column(String(64)))


class Citation(SQLModel, table=True):
    __tablename__ = "citations"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    document_id: str = _fk("documents.id", "CASCADE")
    label: str | None = Field(default=None, sa_column=Column(String(64)))
    raw: str = Field(default="", sa_column=Column(Text, nullable=False))
    csl: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    status: str = Field(default="ok", sa_column=Column(String(16), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text))
    created_by: str | None = Field(default=None, sa_column=Column(String(64)))
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Span(SQLModel, table=True):
    __tablename__ = "spans"
    __table_args__ = (
        Index("ix_spans_document_id_start", "document_id", "start"),
        CheckConstraint('"start" >= 0 AND "end" > "start"', name="offsets"),
    )

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    document_id: str = _fk("documents.id", "CASCADE", index=False)
    revision: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    start: int = Field(sa_column=Column(Integer, nullable=False))
    end: int = Field(sa_column=Column(Integer, nullable=False))
    exact: str = Field(sa_column=Column(Text, nullable=False))
    prefix: str = Field(default="", sa_column=Column(Text, nullable=False))
    suffix: str = Field(default="", sa_column=Column(Text, nullable=False))
    kind: str = Field(default="quote", sa_column=Column(String(16), nullable=False))
    speaker: str | None = Field(default=None, sa_column=Column(Text, index=True))
    quoted_from: str | None = _fk("spans.id", "SET NULL", nullable=True)
    note: str | None = Field(default=None, sa_column=Column(Text))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    anchor_status: str = Field(default="exact", sa_column=Column(String(16), nullable=False))
    created_by: str | None = Field(default=None, sa_column=Column(String(64)))
    created_at: datetime = _created()
    updated_at: datetime = _created()


class CitationSpan(SQLModel, table=True):
    """A citation supports a span (a note marker glued to a quotation, say)."""

    __tablename__ = "citation_spans"

    citation_id: str = Field(
        sa_column=Column(
            String(64), ForeignKey("citations.id", ondelete="CASCADE"), primary_key=True
        )
    )
    span_id: str = Field(
        sa_column=Column(
            String(64), ForeignKey("spans.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )


class Claim(SQLModel, table=True):
    __tablename__ = "claims"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    statement: str = Field(sa_column=Column(Text, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text))
    created_by: str | None = Field(default=None, sa_column=Column(String(64)))
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Evidence(SQLModel, table=True):
    """A span supports, contradicts or qualifies a claim. A span in use cannot be deleted."""

    __tablename__ = "evidence"
    __table_args__ = (
        UniqueConstraint("claim_id", "span_id"),
        CheckConstraint("stance IN ('supports', 'contradicts', 'qualifies')", name="stance"),
    )

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    claim_id: str = _fk("claims.id", "CASCADE")
    span_id: str = _fk("spans.id", "RESTRICT")
    stance: str = Field(sa_column=Column(String(16), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text))
    recorded_by: str | None = Field(default=None, sa_column=Column(String(64)))
    recorded_at: datetime = _created()


class ApiKey(SQLModel, table=True):
    """An API key. Only the SHA-256 of the secret is stored; `prefix` identifies it in lists."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    scope: str = Field(sa_column=Column(String(16), nullable=False))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = _created()
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Change(SQLModel, table=True):
    """The change feed: one row per create, update or delete, in commit order."""

    __tablename__ = "changes"

    seq: int | None = Field(
        default=None, sa_column=Column(SeqType, primary_key=True, autoincrement=True)
    )
    entity: str = Field(sa_column=Column(String(16), nullable=False))
    entity_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    action: str = Field(sa_column=Column(String(8), nullable=False))
    actor: str | None = Field(default=None, sa_column=Column(String(64)))
    at: datetime = _created()


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a POST sent with an `Idempotency-Key`, replayed on retries."""

    __tablename__ = "idempotency_records"

    principal: str = Field(sa_column=Column(String(64), primary_key=True))
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    method: str = Field(sa_column=Column(String(8), nullable=False))
    path: str = Field(sa_column=Column(Text, nullable=False))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int = Field(sa_column=Column(Integer, nullable=False))
    headers: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _created()
