"""The whole archive as NDJSON: export, import into an empty archive, export again, and get
the same bytes; through HTTP and through the `archive` command. Imports are all or nothing.
`archive check` names broken citation and evidence links."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from archive import bundled, keys
from archive.db import engine_for, session_scope
from archive.settings import Settings

NDJSON = "application/x-ndjson"
TYPES = ["document", "citation", "span", "claim", "evidence"]


@pytest.fixture
def another_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the suite's kind (a round trip needs two)."""
    if make_url(database_url).get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'another.db'}"
        return
    name = f"archive_other_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        engine_for.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_archive(url: str) -> tuple[TestClient, str]:
    """A client of a freshly migrated, empty archive, and an admin key for it."""
    engine = engine_for(url)
    bundled.initialize(engine, empty=True)
    with session_scope(engine, write=True) as session:
        _, secret = keys.create_key(session, "archivist", "admin")
    return TestClient(create_app(Settings(database_url=url)), raise_server_exceptions=False), secret


def import_into_empty(url: str, body: bytes) -> tuple[TestClient, httpx.Response]:
    """A client of a fresh, empty archive at `url`, and its answer to importing `body`."""
    client, secret = empty_archive(url)
    response = client.post(
        "/v1/import",
        content=body,
        headers={"Authorization": f"Bearer {secret}", "Content-Type": NDJSON},
    )
    return client, response


def bundled_counts() -> Counter[str]:
    return Counter(json.loads(line).get("type", "document") for line in bundled.lines())


def test_export_streams_every_record_in_order(client: TestClient, seeds: dict[str, str]) -> None:
    response = client.get("/v1/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == NDJSON
    lines = response.text.splitlines()
    records = [json.loads(line) for line in lines]
    types = [r["type"] for r in records]
    assert types == sorted(types, key=TYPES.index), "documents, citations, spans, claims, evidence"
    assert Counter(types) == bundled_counts()
    for record in records:
        if record["type"] == "document":
            assert record["text"] == seeds[record["id"]]
        if record["type"] == "span":
            text_ = seeds[record["document_id"]]
            assert text_[record["start"] : record["end"]] == record["exact"]
    assert response.content.endswith(b"\n") and "\\u" not in response.text[:2000]


def test_http_round_trip_gives_identical_bytes(client: TestClient, fresh_database: str) -> None:
    exported = client.get("/v1/export").content
    other, secret = empty_archive(fresh_database)
    with other:
        assert other.get("/v1/export").content == b""
        imported = other.post(
            "/v1/import",
            content=exported,
            headers={"Authorization": f"Bearer {secret}", "Content-Type": NDJSON},
        )
        assert imported.status_code == 200, imported.text
        counts = Counter(json.loads(line)["type"] for line in exported.splitlines())
        assert imported.json() == {"imported": dict(counts), "lines": sum(counts.values())}
        assert other.get("/v1/export").content == exported
        contested = other.get("/v1/claims?status=contested").json()
        assert contested == client.get("/v1/claims?status=contested").json()
        prov = "/v1/claims/speech-date-25-february/provenance"
        assert other.get(prov).json() == client.get(prov).json()


def test_import_is_all_or_nothing(fresh_database: str) -> None:
    other, secret = empty_archive(fresh_database)
    admin = {"Authorization": f"Bearer {secret}", "Content-Type": NDJSON}
    good = [
        json.dumps(
            {"type": "document", "id": "d", "title": "D", "text": "Klim, cut out the lying."}
        ),
        json.dumps({"type": "span", "id": "klim", "document_id": "d", "exact": "Klim"}),
        json.dumps({"type": "claim", "id": "c", "statement": "Klim was lying."}),
        json.dumps(
            {
                "type": "evidence",
                "id": "e",
                "claim_id": "c",
                "span_id": "klim",
                "stance": "supports",
            }
        ),
    ]
    with other:
        malformed = other.post(
            "/v1/import", content="\n".join([*good[:2], "{oops", *good[2:]]), headers=admin
        )
        assert malformed.status_code == 422
        assert malformed.headers["content-type"] == "application/problem+json"
        assert "line 3" in malformed.json()["detail"]
        dangling = good[:3] + [good[3].replace('"klim"', '"nobody"')]
        refused = other.post("/v1/import", content="\n".join(dangling), headers=admin)
        assert refused.status_code == 422 and "line 4" in refused.json()["detail"]
        not_utf8 = other.post(
            "/v1/import", content=b"\n".join([good[0].encode(), b"\xff\xfe"]), headers=admin
        )
        assert not_utf8.status_code == 422 and "line 2" in not_utf8.json()["detail"]
        assert other.get("/v1/export").content == b"", "nothing landed"
        assert other.get("/v1/documents").json()["total"] == 0

        done = other.post("/v1/import", content="\n".join(good) + "\n", headers=admin)
        assert done.status_code == 200, done.text
        assert done.json()["imported"] == {
            "document": 1,
            "citation": 0,
            "span": 1,
            "claim": 1,
            "evidence": 1,
        }
        assert other.get("/v1/claims/c").json()["status"] == "single-source"
        again = other.post("/v1/import", content="\n".join(good), headers=admin)
        assert again.status_code == 422 and "already" in again.json()["detail"]
        assert other.get("/v1/export").text.count("\n") == 4


def test_import_needs_an_admin_key(client: TestClient, write_key: str) -> None:
    line = json.dumps({"type": "document", "id": "x", "title": "X", "text": "x"})
    assert client.post("/v1/import", content=line).status_code == 401
    writer = client.post(
        "/v1/import", content=line, headers={"Authorization": f"Bearer {write_key}"}
    )
    assert writer.status_code == 403
    assert client.get("/v1/documents/x").status_code == 404


# --- the command line -------------------------------------------------------------------------


def archive_cli(url: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "archive.cli", *args, "--database-url", url],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
    )
    if ok:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_cli_round_trip_gives_identical_files(
    fresh_database: str, another_database: str, tmp_path: Path
) -> None:
    archive_cli(fresh_database, "init")
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    archive_cli(fresh_database, "export", str(first))
    assert Counter(json.loads(line)["type"] for line in first.open(encoding="utf-8")) == (
        bundled_counts()
    )
    archive_cli(another_database, "init", "--empty")
    archive_cli(another_database, "import", str(first))
    archive_cli(another_database, "export", str(second))
    assert first.read_bytes() == second.read_bytes()
    checked = archive_cli(another_database, "check")
    assert "All consistent" in checked.stdout and "210 evidence" in checked.stdout


def test_check_names_broken_citations_and_exits_non_zero(fresh_database: str) -> None:
    archive_cli(fresh_database, "init")
    engine = engine_for(fresh_database)
    with engine.begin() as conn:
        csl = json.dumps({"id": "brief-note-16", "type": "journal-article"})
        value = "CAST(:csl AS JSONB)" if engine.dialect.name == "postgresql" else ":csl"
        conn.execute(
            text(f"UPDATE citations SET csl = {value} WHERE id = 'brief-note-16'"), {"csl": csl}
        )
        conn.execute(text("UPDATE citations SET status = 'ok' WHERE id = 'brief-note-2'"))
    engine.dispose()
    result = archive_cli(fresh_database, "check", ok=False)
    assert result.returncode == 1
    assert "citation brief-note-16" in result.stdout and "type" in result.stdout
    assert "citation brief-note-2" in result.stdout
    assert "2 problem(s)" in result.stdout


DOC = {"type": "document", "id": "d", "title": "D", "text": "Klim, cut out the lying."}
# Lines the import's own checks refuse, on either database.
MALFORMED = [
    [{**DOC, "title": "lone \ud800"}],
    [DOC, {"type": "span", "id": "s", "document_id": "d", "start": 0, "end": 2**40}],
    [{"type": "claim", "id": "c", "statement": "s", "created_at": "9999-99-99"}],
    [{"type": "evidence", "id": "e", "claim_id": 5, "span_id": [], "stance": None}],
    [{"type": "widget"}],
    ["not an object"],
]
# Values only PostgreSQL's columns refuse (SQLite stores them): never a 5xx, all or nothing.
BEYOND_COLUMNS = [
    [{**DOC, "revision": 2**40}],
    [{**DOC, "language": "x" * 40}],
    [{**DOC, "creators": [{"name": "nul\u0000", "role": "author"}]}],
    [DOC, {"type": "citation", "id": "n", "document_id": "d", "label": "x" * 70}],
    [
        DOC,
        {
            "type": "citation",
            "id": "n",
            "document_id": "d",
            "csl": {"id": "n", "type": "book", "title": "\u0000"},
        },
    ],
    [DOC, {"type": "span", "id": "s", "document_id": "d", "exact": "Klim", "tags": ["\u0000"]}],
    [{"type": "claim", "id": "c", "statement": "s", "created_by": "x" * 70}],
]


@pytest.mark.parametrize("records", MALFORMED + BEYOND_COLUMNS)
def test_hostile_imports_never_give_a_5xx(
    client: TestClient, admin_key: str, dialect: str, records: list
) -> None:
    body = "\n".join(json.dumps(r) for r in records)
    response = client.post(
        "/v1/import", content=body, headers={"Authorization": f"Bearer {admin_key}"}
    )
    if records in MALFORMED or dialect == "postgresql":
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert client.get("/v1/documents/d").status_code == 404
        assert client.get("/v1/claims/c").status_code == 404
    else:  # accepted or refused by the import's checks, as they tighten; never a 5xx
        assert response.status_code in (200, 422), response.text


LINE_LIKE = "a😀b\r\nc\u2028line\u2029para\u0085next"  # str.splitlines() splits at all of them


def separators_export(url: str) -> bytes:
    """The export of an archive holding one document whose text has those separators."""
    source, secret = empty_archive(url)
    with source:
        created = source.post(
            "/v1/documents",
            json={"id": "separators", "title": "Separators", "text": LINE_LIKE},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert created.status_code == 201, created.text
        exported = source.get("/v1/export").content
    assert "\u2028".encode() in exported and "\u0085".encode() in exported
    return exported


def test_texts_with_unicode_line_separators_survive_an_http_round_trip(
    fresh_database: str, another_database: str
) -> None:
    """The export writes U+2028, U+2029 and U+0085 as they are (valid inside a JSON
    string); the import splits lines at line feeds only."""
    exported = separators_export(fresh_database)
    target, imported = import_into_empty(another_database, exported)
    with target:
        assert imported.status_code == 200, imported.text
        assert target.get("/v1/documents/separators/text").text == LINE_LIKE
        assert target.get("/v1/export").content == exported


def test_texts_with_unicode_line_separators_survive_a_cli_round_trip(
    fresh_database: str, another_database: str, tmp_path: Path
) -> None:
    exported = separators_export(fresh_database)
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    first.write_bytes(exported)
    archive_cli(another_database, "init", "--empty")
    archive_cli(another_database, "import", str(first))
    archive_cli(another_database, "export", str(second))
    assert second.read_bytes() == exported


# --- an import holds each record to what the API holds the archive to ----------------------

NOTE = {"type": "citation", "id": "n", "document_id": "d", "label": "1", "raw": "the lying"}
# "cut" in "Klim, cut out the lying.", as the export writes a span: its context included.
CUT = {
    "type": "span",
    "id": "cut",
    "document_id": "d",
    "revision": 1,
    "start": 6,
    "end": 9,
    "exact": "cut",
    "prefix": "Klim, ",
    "suffix": " out the lying.",
    "citation_ids": ["n"],
}
# Records the API would refuse and `archive check` would flag: the lines, the line the 422
# names, and words of its reason.
UNFAITHFUL = {
    "empty raw with status ok": ([DOC, {**NOTE, "raw": "", "status": "ok"}], 2, "'empty'"),
    "revision 99": ([DOC, NOTE, {**CUT, "revision": 99}], 3, "has no revision 99"),
    "an earlier revision": (
        [{**DOC, "revision": 2}, NOTE, {**CUT, "revision": 1}],
        3,
        "not the current revision",
    ),
    "prefix garbage": ([DOC, NOTE, {**CUT, "prefix": "garbage"}], 3, "prefix 'garbage'"),
    "a prefix the text does not end with": ([DOC, NOTE, {**CUT, "prefix": "Kl"}], 3, "Kl"),
    "suffix garbage": ([DOC, NOTE, {**CUT, "suffix": "garbage"}], 3, "suffix 'garbage'"),
    "exact elsewhere": ([DOC, NOTE, {**CUT, "exact": "out"}], 3, "is 'cut', not 'out'"),
    "citation of another document": (
        [DOC, {**DOC, "id": "e"}, {**NOTE, "document_id": "e"}, CUT],
        4,
        "belongs to document 'e'",
    ),
    "a quote that repeats": (
        [
            {**DOC, "text": "Klim, cut. Klim, cut."},
            {"type": "span", "document_id": "d", "exact": "cut"},
        ],
        2,
        "occurs 2 times",
    ),
}


def ndjson(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def test_faithful_records_import_as_given(client: TestClient, admin_key: str) -> None:
    admin = {"Authorization": f"Bearer {admin_key}", "Content-Type": NDJSON}
    response = client.post("/v1/import", content=ndjson([DOC, NOTE, CUT]), headers=admin)
    assert response.status_code == 200, response.text
    span = client.get("/v1/spans/cut").json()
    assert {k: span[k] for k in ("start", "end", "exact", "prefix", "suffix")} == {
        k: CUT[k] for k in ("start", "end", "exact", "prefix", "suffix")
    }
    assert span["citation_ids"] == ["n"]
    assert client.get("/v1/citations/n").json()["raw"] == "the lying"


@pytest.mark.parametrize("case", UNFAITHFUL, ids=list(UNFAITHFUL))
def test_import_refuses_what_the_api_refuses(client: TestClient, admin_key: str, case: str) -> None:
    records, line, reason = UNFAITHFUL[case]
    before = client.get("/v1/export").content
    response = client.post(
        "/v1/import",
        content=ndjson(records),
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": NDJSON},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert detail.startswith(f"line {line}: ") and reason in detail, detail
    assert client.get("/v1/export").content == before, "nothing landed"
    assert client.get("/v1/documents/d").status_code == 404


def test_cli_import_refuses_what_the_api_refuses(fresh_database: str, tmp_path: Path) -> None:
    archive_cli(fresh_database, "init", "--empty")
    for case in ("empty raw with status ok", "revision 99", "prefix garbage"):
        records, line, reason = UNFAITHFUL[case]
        path = tmp_path / "import.ndjson"
        path.write_text(ndjson(records), encoding="utf-8")
        result = archive_cli(fresh_database, "import", str(path), ok=False)
        assert result.returncode == 1, case
        message = " ".join(result.stderr.split())
        assert f"line {line}: " in message and reason in message, message
    exported = tmp_path / "export.ndjson"
    archive_cli(fresh_database, "export", str(exported))
    assert exported.read_bytes() == b"", "nothing landed"


def test_orphaned_spans_survive_a_round_trip(fresh_database: str, another_database: str) -> None:
    """An orphaned span names the revision it was lost in, whose text an export does not
    carry: it imports as it is, while its document imports at its current revision."""
    source, secret = empty_archive(fresh_database)
    writer = {"Authorization": f"Bearer {secret}"}
    with source:
        made = source.post(
            "/v1/documents", json={k: DOC[k] for k in ("id", "title", "text")}, headers=writer
        )
        assert made.status_code == 201, made.text
        spans = [("cut", "cut"), ("lying", "lying")]
        for span_id, exact in spans:
            made = source.post(
                "/v1/documents/d/spans", json={"id": span_id, "exact": exact}, headers=writer
            )
            assert made.status_code == 201, made.text
        replaced = source.put(
            "/v1/documents/d/text", json={"text": "Klim, stop the lying."}, headers=writer
        )
        assert replaced.json()["anchoring"]["orphaned"] == 1, replaced.text
        exported = source.get("/v1/export").content
    assert b'"anchor_status":"orphaned"' in exported and b'"revision":2' in exported
    target, imported = import_into_empty(another_database, exported)
    with target:
        assert imported.status_code == 200, imported.text
        assert target.get("/v1/export").content == exported


def test_check_names_spans_whose_context_is_not_the_text(fresh_database: str) -> None:
    archive_cli(fresh_database, "init")
    engine = engine_for(fresh_database)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE spans SET prefix = 'garbage' WHERE id = 'siegelbaum-secret-scare'")
        )
        conn.execute(text("UPDATE spans SET suffix = '' WHERE id = 'brief-secret-speech-name'"))
    engine.dispose()
    result = archive_cli(fresh_database, "check", ok=False)
    assert result.returncode == 1
    assert "span siegelbaum-secret-scare" in result.stdout
    assert "prefix 'garbage' is not what the text has before" in result.stdout
    assert "span brief-secret-speech-name" in result.stdout
    assert "suffix '' is not what the text has after" in result.stdout
    assert "2 problem(s)" in result.stdout


def test_an_export_whose_text_no_longer_holds_a_note_imports_again(
    fresh_database: str, another_database: str
) -> None:
    """A new revision of a text may leave a citation's note out (the archive keeps the
    citation): its export must still import, byte for byte."""
    source, secret = empty_archive(fresh_database)
    with source:
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": NDJSON}
        assert source.post("/v1/import", content=ndjson([DOC, NOTE]), headers=headers).is_success
        replaced = source.put(
            "/v1/documents/d/text",
            json={"text": "Klim, cut out the truth."},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert replaced.status_code == 200, replaced.text
        exported = source.get("/v1/export").content
    target, imported = import_into_empty(another_database, exported)
    with target:
        assert imported.status_code == 200, imported.text
        assert target.get("/v1/export").content == exported
        assert target.get("/v1/citations/n").json()["raw"] == "the lying"


def test_a_shorter_context_that_agrees_with_the_text_is_taken_whole(
    fresh_database: str,
) -> None:
    """As the API does when it creates a span: the prefix and suffix given need only agree
    with the text around it; the archive stores the full context."""
    client, imported = import_into_empty(
        fresh_database, ndjson([DOC, NOTE, {**CUT, "prefix": ", ", "suffix": " out"}])
    )
    with client:
        assert imported.status_code == 200, imported.text
        span = client.get("/v1/spans/cut").json()
        assert (span["prefix"], span["suffix"]) == (CUT["prefix"], CUT["suffix"])


@pytest.mark.parametrize("depth", [100_000, 40])
def test_a_deeply_nested_line_is_a_422_naming_it_and_imports_nothing(
    client: TestClient, admin_key: str, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    body = ndjson([DOC]) + '{"type": "claim", "id": "c", "statement": "s", "tags": ' + nested
    body += "}\n"
    before = client.get("/v1/export").content
    response = client.post(
        "/v1/import",
        content=body,
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": NDJSON},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("line 2: nested more than 32 levels deep")
    assert client.get("/v1/export").content == before
    # and the service goes on answering
    assert client.get("/v1/health").status_code == 200


def test_a_deeply_nested_text_body_is_a_422(writer: TestClient) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    response = writer.put(
        "/v1/documents/fear-backstage/text",
        content='{"text": ' + nested + "}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "nested too deeply" in response.json()["detail"]
