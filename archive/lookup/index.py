"""The passage index: where each run of three words of every current text lies.

Quote lookup and text scans ask "which texts hold these words, in this order?" of the whole
archive. A full-text index answers it a word at a time and then has to read the texts; this
index answers it for runs of words (*shingles*, as in passim and TextPAIR) and points at
small stretches of text, so a lookup's work follows the quotation and its matches, not the
size of the archive or of the texts it occurs in.

Two tables, alike on SQLite and PostgreSQL (migration 0003):

- `passage_chunks`: each current text cut into *chunks* of about `CHUNK_CHARS` characters,
  at whitespace: where the chunk starts in the text, in characters and in UTF-8 bytes
  (`char_start`, `byte_start`), and how many index words come before it (`word_start`).
  A lookup reads the few chunks around a match and nothing else of the text (`read`).
  Chunk ids are never reused.
- `passage_postings`: the postings, `(shingle hash, chunk id)` pairs as little-endian 32-bit
  integers, kept in 2**`BUCKET_BITS` buckets by the hash's top bits, one row per bucket.
  A text write appends its postings to the buckets its shingles fall in (one upsert per
  bucket, in bucket order, so concurrent writers on PostgreSQL queue on the rows they share
  instead of deadlocking); removing a text rewrites those buckets without its chunks.
  A lookup reads the buckets of its shingles only: a few kilobytes per shingle at 100,000
  documents.

The shingles are `archive.text.tokens`' (words folded as a lookup compares them; hashes of
32 bits, whose rare collisions only send the alignment to look at a stretch of text that
then does not match). A shingle belongs to the chunk its first word is in.

Everything here runs in the caller's transaction: a text write and its index entries
commit together or not at all. `check` compares the index with the current texts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    delete,
    insert,
    select,
    text,
)
from sqlmodel import Session

from archive.db import driver_executemany, driver_rows
from archive.text import tokens

CHUNK_CHARS = 512  # characters in a chunk, about (cut at the next whitespace)
BUCKET_BITS = 16  # postings are kept in 2**BUCKET_BITS rows
_SHIFT = 32 - BUCKET_BITS
_BATCH = 4000  # rows per statement in bulk writes
_CUT = re.compile(r"[ \t\n\r\f\v]")

metadata = MetaData()

chunks = Table(
    "passage_chunks",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column(
        "document_id",
        String(64),
        ForeignKey("documents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("revision", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("char_start", Integer, nullable=False),
    Column("byte_start", BigInteger, nullable=False),
    Column("word_start", Integer, nullable=False),
    UniqueConstraint("document_id", "seq", name="uq_passage_chunks_document_id_seq"),
    sqlite_autoincrement=True,
)

postings = Table(
    "passage_postings",
    metadata,
    Column("bucket", Integer, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)


# --- cutting texts ----------------------------------------------------------------------


def cuts(text_: str) -> list[int]:
    """Chunk boundaries in `text_`: 0, then the first ASCII whitespace at or after every
    CHUNK_CHARS characters (so no word is cut; a text with no such whitespace for four
    chunks' length is cut there anyway), then the text's length."""
    bounds = [0]
    n = len(text_)
    while bounds[-1] + CHUNK_CHARS < n:
        start = bounds[-1] + CHUNK_CHARS
        m = _CUT.search(text_, start, start + 3 * CHUNK_CHARS)
        bounds.append(m.start() if m else start + 3 * CHUNK_CHARS)
    bounds.append(n)
    return bounds


@dataclass
class Prepared:
    """Chunk rows for some texts (without ids) and the postings of each chunk."""

    rows: list[dict]
    hashes: np.ndarray  # uint32 shingle hash of each posting
    chunk: np.ndarray  # the row (in `rows`) of each posting


def prepare(texts: Sequence[tuple[str, int, str]]) -> Prepared:
    """Chunks and shingles of these (document id, revision, text): all of them at once."""
    rows: list[dict] = []
    pieces: list[str] = []
    first_piece: list[int] = []
    for doc_id, revision, body in texts:
        bounds = cuts(body)
        first_piece.append(len(pieces))
        byte = 0
        for seq, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
            piece = body[lo:hi]
            rows.append(
                {
                    "document_id": doc_id,
                    "revision": revision,
                    "seq": seq,
                    "char_start": lo,
                    "byte_start": byte,
                    "word_start": 0,
                }
            )
            pieces.append(piece)
            byte += len(piece) if piece.isascii() else len(piece.encode("utf-8"))
    if not pieces:
        return Prepared(rows, np.zeros(0, np.uint32), np.zeros(0, np.int64))
    words = tokens.words(pieces)
    piece_doc = np.repeat(
        np.arange(len(texts)), np.diff(np.r_[first_piece, len(pieces)]).astype(np.int64)
    )
    word_doc = piece_doc[words.pieces]
    per_piece = np.bincount(words.pieces, minlength=len(pieces))
    # index words before each chunk in its own text
    before = np.cumsum(per_piece) - per_piece
    doc_first_word = before[np.asarray(first_piece, np.int64)]
    word_start = before - doc_first_word[piece_doc]
    for row, start in zip(rows, word_start.tolist(), strict=True):
        row["word_start"] = start
    hashes = tokens.shingles(words.hashes)
    if not len(hashes):
        return Prepared(rows, hashes, np.zeros(0, np.int64))
    same_text = word_doc[: len(hashes)] == word_doc[tokens.SHINGLE - 1 :]
    return Prepared(rows, hashes[same_text], words.pieces[: len(hashes)][same_text])


# --- writing ----------------------------------------------------------------------------


def add(session: Session, texts: Sequence[tuple[str, int, str]]) -> None:
    """Index these (document id, revision, text), whose chunks are not in the index yet.

    The texts are cut and hashed a group at a time (bounded memory for a large import);
    their postings go into the buckets once, at the end."""
    if not texts:
        return
    _lock(session)
    keys: list[np.ndarray] = []
    for i in range(0, len(texts), _GROUP):
        prepared = prepare(texts[i : i + _GROUP])
        if not prepared.rows:
            continue
        chunk_ids = np.asarray(_insert_chunks(session, prepared.rows), np.uint64)
        if len(prepared.hashes):
            keys.append(
                (prepared.hashes.astype(np.uint64) << np.uint64(32)) | chunk_ids[prepared.chunk]
            )
    if keys:
        _append(session, _unique(np.concatenate(keys)))


_GROUP = 2000  # texts cut and hashed at once


def _unique(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct keys (sorting beats numpy's hash-based unique here)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _insert_chunks(session: Session, rows: list[dict]) -> list[int]:
    """Store chunk rows under new ids (never used before), in order; their ids."""
    n = len(rows)
    if _postgres(session):
        ids = (
            session.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('passage_chunks', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": n},
            )
            .scalars()
            .all()
        )
    else:  # one writer at a time: ids follow the highest ever given (AUTOINCREMENT)
        last = session.execute(
            text("SELECT seq FROM sqlite_sequence WHERE name = 'passage_chunks'")
        ).scalar()
        ids = list(range((last or 0) + 1, (last or 0) + 1 + n))
    if ids and max(ids) >= 2**32:
        raise OverflowError("passage index: chunk ids beyond 32 bits")
    for row, chunk_id in zip(rows, ids, strict=True):
        row["id"] = chunk_id
    if _postgres(session):
        for i in range(0, n, _BATCH):
            session.execute(insert(chunks), rows[i : i + _BATCH])
    else:
        driver_executemany(
            session,
            "INSERT INTO passage_chunks (id, document_id, revision, seq, char_start, byte_start, "
            "word_start) VALUES (:id, :document_id, :revision, :seq, :char_start, :byte_start, "
            ":word_start)",
            rows,
        )
    return ids


def decode(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, chunk ids) of one bucket's postings."""
    pairs = np.frombuffer(data, "<u4").reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def _append(session: Session, keys: np.ndarray) -> None:
    """Append postings (sorted distinct keys: hash << 32 | chunk) to their buckets."""
    pairs = np.empty((len(keys), 2), "<u4")
    pairs[:, 0] = keys >> np.uint64(32)
    pairs[:, 1] = keys & np.uint64(0xFFFFFFFF)
    buffer = pairs.tobytes()
    buckets = (pairs[:, 0] >> np.uint32(_SHIFT)).astype(np.int64)
    edges = np.r_[0, np.flatnonzero(np.diff(buckets)) + 1, len(buckets)]
    names = buckets[edges[:-1]].tolist()
    data = [
        buffer[a * 8 : b * 8] for a, b in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True)
    ]
    if _postgres(session):
        statement = text(
            "INSERT INTO passage_postings (bucket, data) "
            "SELECT * FROM unnest(CAST(:b AS integer[]), CAST(:d AS bytea[])) "
            "ON CONFLICT (bucket) DO UPDATE SET data = passage_postings.data || excluded.data"
        )
        for i in range(0, len(names), _BATCH):
            session.execute(statement, {"b": names[i : i + _BATCH], "d": data[i : i + _BATCH]})
        return
    driver_executemany(
        session,
        "INSERT INTO passage_postings (bucket, data) VALUES (?, ?) ON CONFLICT (bucket) "
        "DO UPDATE SET data = CAST(passage_postings.data || excluded.data AS BLOB)",
        list(zip(names, data, strict=True)),
    )


def remove(session: Session, document_ids: Iterable[str]) -> None:
    """Take these documents' chunks and their postings out of the index."""
    ids = list(dict.fromkeys(document_ids))
    if not ids:
        return
    _lock(session)
    rows = []
    for i in range(0, len(ids), _BATCH):
        rows += session.execute(
            select(chunks.c.id, chunks.c.document_id, chunks.c.revision).where(
                chunks.c.document_id.in_(ids[i : i + _BATCH])
            )
        ).all()
    if not rows:
        return
    gone = np.asarray(sorted(r.id for r in rows), np.uint32)
    # the buckets its shingles were put in: the shingles of the texts as indexed
    indexed = {(r.document_id, r.revision) for r in rows}
    texts = [(d, rev, _text(session, d, rev)) for d, rev in sorted(indexed)]
    prepared = prepare([t for t in texts if t[2] is not None])
    buckets = sorted(set((prepared.hashes >> np.uint32(_SHIFT)).tolist()))
    _rewrite(session, buckets, gone)
    for i in range(0, len(ids), _BATCH):
        session.execute(delete(chunks).where(chunks.c.document_id.in_(ids[i : i + _BATCH])))


def _text(session: Session, document_id: str, revision: int) -> str | None:
    return session.execute(
        text("SELECT text FROM document_texts WHERE document_id = :d AND revision = :r"),
        {"d": document_id, "r": revision},
    ).scalar()


def _rewrite(session: Session, buckets: list[int], gone: np.ndarray) -> None:
    """Rewrite these buckets without the postings of the chunks `gone` (sorted)."""
    pg = _postgres(session)
    changed: list[tuple[int, bytes]] = []
    for i in range(0, len(buckets), _BATCH):
        part = buckets[i : i + _BATCH]
        for bucket, data in _read_buckets(session, part, lock=pg):
            hashes, chunk = decode(data)
            keep = ~np.isin(chunk, gone, assume_unique=False)
            if not keep.all():
                pairs = np.frombuffer(data, "<u4").reshape(-1, 2)[keep]
                changed.append((bucket, pairs.tobytes()))
    empty = [b for b, d in changed if not d]
    full = [(b, d) for b, d in changed if d]
    if full:
        if pg:
            statement = text(
                "UPDATE passage_postings p SET data = u.d FROM unnest("
                "CAST(:b AS integer[]), CAST(:d AS bytea[])) AS u(b, d) WHERE p.bucket = u.b"
            )
            for i in range(0, len(full), _BATCH):
                part = full[i : i + _BATCH]
                session.execute(statement, {"b": [b for b, _ in part], "d": [d for _, d in part]})
        else:
            session.execute(
                text("UPDATE passage_postings SET data = :d WHERE bucket = :b"),
                [{"b": b, "d": d} for b, d in full],
            )
    for i in range(0, len(empty), _BATCH):
        session.execute(delete(postings).where(postings.c.bucket.in_(empty[i : i + _BATCH])))


def _read_buckets(
    session: Session, buckets: list[int], *, lock: bool = False
) -> list[tuple[int, bytes]]:
    """(bucket, data) of these buckets that hold postings; one statement, one parameter."""
    if not buckets:
        return []
    if _postgres(session):
        sql = (
            "SELECT bucket, data FROM passage_postings WHERE bucket = ANY(CAST(:b AS integer[])) "
            "ORDER BY bucket" + (" FOR UPDATE" if lock else "")
        )
        params = {"b": buckets}
    else:
        sql = (
            "SELECT bucket, data FROM passage_postings "
            "WHERE bucket IN (SELECT value FROM json_each(:b)) ORDER BY bucket"
        )
        params = {"b": json.dumps(buckets)}
    return [(row[0], bytes(row[1])) for row in session.execute(text(sql), params)]


def replace(session: Session, document_id: str, revision: int, body: str) -> None:
    """The document's text is now `body` (revision `revision`): index it in place of the
    text it had."""
    remove(session, [document_id])
    add(session, [(document_id, revision, body)])


def _lock(session: Session) -> None:
    """PostgreSQL: one writer of the index at a time, until its transaction ends. A text
    write takes bucket rows in one order to remove and in another to add, so two at once
    could deadlock; text writes are few, and each holds this lock only for its own
    transaction. (SQLite has one writer at a time anyway.)"""
    if _postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


_LOCK_KEY = 0x70617373  # "pass": this archive's advisory lock for the passage index


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- reading ----------------------------------------------------------------------------


def postings_of(session: Session, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every posting of these shingle hashes: (hash, chunk id) arrays, in bucket order."""
    wanted = np.unique(hashes.astype(np.uint32))
    buckets = sorted(set((wanted >> np.uint32(_SHIFT)).tolist()))
    data = b"".join(d for _, d in _read_buckets(session, buckets))
    h, c = decode(data)
    hit = np.isin(h, wanted)
    return h[hit], c[hit]


def read(session: Session, groups: list[tuple[str, int, int]]) -> list[tuple[int, str] | None]:
    """The current text of each run of chunks (document id, first seq, last seq): where it
    starts in its document and the text, or None when the document has no such chunks.

    Only those characters are read: on SQLite, the bytes between the two chunks' byte
    offsets, through SQLite's incremental blob I/O; on PostgreSQL, `substr` (which
    decompresses a stored text only as far as it reads). Two statements for all the runs.
    """
    if not groups:
        return []
    pg = _postgres(session)
    groups = [(d, max(0, lo), max(0, hi)) for d, lo, hi in groups]
    if pg:
        sql = (
            "SELECT g.k, c.seq, c.char_start, c.byte_start, c.revision, 0 FROM unnest("
            "CAST(:d AS text[]), CAST(:lo AS integer[]), CAST(:hi AS integer[])) "
            "WITH ORDINALITY AS g(d, lo, hi, k) JOIN passage_chunks c ON c.document_id = g.d "
            "AND c.seq BETWEEN g.lo AND g.hi + 1 ORDER BY g.k, c.seq"
        )
        params: dict = {
            "d": [g[0] for g in groups],
            "lo": [g[1] for g in groups],
            "hi": [g[2] for g in groups],
        }
        rows = [(int(r[0]) - 1, *r[1:]) for r in session.execute(text(sql), params)]
    else:
        sql = (
            "SELECT j.key, c.seq, c.char_start, c.byte_start, c.revision, t.rowid "
            "FROM json_each(:g) j JOIN passage_chunks c "
            "ON c.document_id = json_extract(j.value, '$[0]') AND c.seq "
            "BETWEEN json_extract(j.value, '$[1]') AND json_extract(j.value, '$[2]') + 1 "
            "JOIN document_texts t ON t.document_id = c.document_id AND t.revision = c.revision "
            "ORDER BY j.key, c.seq"
        )
        rows = driver_rows(session, sql, {"g": json.dumps(groups)})
    spans: dict[int, list] = {}
    for k, seq, char_start, byte_start, revision, rowid in rows:
        if k not in spans:
            spans[k] = [char_start, byte_start, None, None, revision, rowid]
        if seq == groups[k][2] + 1:  # the chunk after the run: where the run ends
            spans[k][2], spans[k][3] = char_start, byte_start
    result: list[tuple[int, str] | None] = [None] * len(groups)
    if pg:
        keys = sorted(spans)
        if not keys:
            return result
        sql = (
            "SELECT g.k, substr(t.text, g.s + 1, g.n) FROM unnest(CAST(:d AS text[]), "
            "CAST(:r AS integer[]), CAST(:s AS integer[]), CAST(:n AS integer[])) "
            "WITH ORDINALITY AS g(d, r, s, n, k) "
            "JOIN document_texts t ON t.document_id = g.d AND t.revision = g.r"
        )
        params = {
            "d": [groups[k][0] for k in keys],
            "r": [spans[k][4] for k in keys],
            "s": [spans[k][0] for k in keys],
            "n": [2**31 - 1 if spans[k][2] is None else spans[k][2] - spans[k][0] for k in keys],
        }
        for n, body in session.execute(text(sql), params):
            k = keys[int(n) - 1]
            result[k] = (spans[k][0], body)
        return result
    connection = session.connection().connection.driver_connection
    for k, (char_start, byte_start, _, byte_end, _, rowid) in spans.items():
        with connection.blobopen("document_texts", "text", rowid, readonly=True) as blob:
            blob.seek(byte_start)
            data = blob.read(-1 if byte_end is None else byte_end - byte_start)
        result[k] = (char_start, data.decode("utf-8"))
    return result


def seqs(session: Session, document_ids: list[str]) -> dict[str, list[tuple[int, int]]]:
    """(seq, char_start) of every chunk of these documents, in order."""
    found: dict[str, list[tuple[int, int]]] = {}
    for i in range(0, len(document_ids), _BATCH):
        for doc_id, seq, start in session.execute(
            select(chunks.c.document_id, chunks.c.seq, chunks.c.char_start)
            .where(chunks.c.document_id.in_(document_ids[i : i + _BATCH]))
            .order_by(chunks.c.document_id, chunks.c.seq)
        ):
            found.setdefault(doc_id, []).append((seq, start))
    return found


# --- checking ---------------------------------------------------------------------------


def check(session: Session) -> list[str]:
    """What differs between the index and the current texts, as sentences (none when the
    index is exact): a current text with no chunks or chunks that do not spell it, chunks
    of a revision or document that is not current, postings missing or left behind."""
    problems: list[str] = []
    current = session.execute(
        text(
            "SELECT d.id, d.revision, t.text FROM documents d JOIN document_texts t "
            "ON t.document_id = d.id AND t.revision = d.revision ORDER BY d.id"
        )
    ).all()
    stored: dict[str, list] = {}
    for row in session.execute(
        select(
            chunks.c.id,
            chunks.c.document_id,
            chunks.c.revision,
            chunks.c.seq,
            chunks.c.char_start,
            chunks.c.byte_start,
            chunks.c.word_start,
        ).order_by(chunks.c.document_id, chunks.c.seq)
    ):
        stored.setdefault(row.document_id, []).append(row)
    expected: list[np.ndarray] = []
    for doc_id, revision, body in current:
        rows = stored.pop(doc_id, [])
        want = prepare([(doc_id, revision, body)])
        have = [(r.revision, r.seq, r.char_start, r.byte_start, r.word_start) for r in rows]
        wanted = [
            (r["revision"], r["seq"], r["char_start"], r["byte_start"], r["word_start"])
            for r in want.rows
        ]
        if have != wanted:
            problems.append(
                f"passage index: document {doc_id!r}: its chunks do not match its current "
                f"text (revision {revision}); run `archive reindex`"
            )
            continue
        ids = np.asarray([r.id for r in rows], np.uint64)
        if len(want.hashes):
            expected.append((want.hashes.astype(np.uint64) << np.uint64(32)) | ids[want.chunk])
    for doc_id in stored:
        problems.append(f"passage index: chunks of {doc_id!r}, which is not a current text")
    want_keys = np.unique(np.concatenate(expected)) if expected else np.zeros(0, np.uint64)
    have_parts = []
    for bucket, data in session.execute(text("SELECT bucket, data FROM passage_postings")):
        h, c = decode(bytes(data))
        if len(h) and np.any((h >> np.uint32(_SHIFT)) != bucket):
            problems.append(f"passage index: bucket {bucket} holds postings of another bucket")
        have_parts.append((h.astype(np.uint64) << np.uint64(32)) | c.astype(np.uint64))
    have_keys = np.concatenate(have_parts) if have_parts else np.zeros(0, np.uint64)
    if len(np.unique(have_keys)) != len(have_keys):
        problems.append("passage index: some postings are stored twice")
    missing = np.setdiff1d(want_keys, have_keys)
    stale = np.setdiff1d(have_keys, want_keys)
    if len(missing):
        problems.append(f"passage index: {len(missing)} postings missing; run `archive reindex`")
    if len(stale):
        problems.append(f"passage index: {len(stale)} stale postings; run `archive reindex`")
    return problems


def rebuild(session: Session) -> int:
    """Build the whole index again from the current texts; the number of texts indexed."""
    session.execute(delete(postings))
    session.execute(delete(chunks))
    current = session.execute(
        text(
            "SELECT d.id, d.revision, t.text FROM documents d JOIN document_texts t "
            "ON t.document_id = d.id AND t.revision = d.revision ORDER BY d.id"
        )
    ).all()
    add(session, [(r[0], r[1], r[2]) for r in current])
    return len(current)
