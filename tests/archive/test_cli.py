"""The `archive` command as an archivist uses it, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from archive.db import normalize_url
from tests.archive.servers import running_server

ARCHIVE = [sys.executable, "-m", "archive.cli"]


def run(url: str, *args: str, stdin: str | None = None, ok: bool = True):  # noqa: ANN201
    result = subprocess.run(
        [*ARCHIVE, *args, "--database-url", url],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )
    if ok:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_init_loads_the_corpus_once(fresh_database: str) -> None:
    first = run(fresh_database, "init")
    assert "loaded the bundled corpus: 5 documents" in first.stdout.replace("\n", " ")
    second = run(fresh_database, "init")
    assert "holds 5 documents" in second.stdout


def test_init_empty_migrates_only(fresh_database: str) -> None:
    result = run(fresh_database, "init", "--empty")
    assert "holds 0 documents" in result.stdout


def test_keys_create_list_revoke(fresh_database: str) -> None:
    created = run(fresh_database, "keys", "create", "history-dept", "--scope", "admin")
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("ak_") and len(secret) > 40
    listing = run(fresh_database, "keys", "list").stdout
    assert "history-dept" in listing and "admin" in listing and secret not in listing
    assert "active" in listing
    dup = run(fresh_database, "keys", "create", "history-dept", ok=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    run(fresh_database, "keys", "revoke", "history-dept")
    assert "revoked" in run(fresh_database, "keys", "list").stdout


def _works(url: str, secret: str) -> bool:
    from archive import keys
    from archive.db import engine_for, session_scope

    with session_scope(engine_for(normalize_url(url))) as session:
        return keys.authenticate(session, secret) is not None


def test_a_revoked_name_can_be_used_again_and_keys_rotate_and_delete(fresh_database: str) -> None:
    def secret_of(result) -> str:  # noqa: ANN001
        return result.stdout.strip().splitlines()[-1]

    first = secret_of(run(fresh_database, "keys", "create", "teacher", "--scope", "write"))
    run(fresh_database, "keys", "revoke", "teacher")
    assert not _works(fresh_database, first)
    again = secret_of(run(fresh_database, "keys", "create", "teacher", "--scope", "admin"))
    assert again.startswith("ak_") and again != first
    assert _works(fresh_database, again) and not _works(fresh_database, first)
    listing = run(fresh_database, "keys", "list").stdout
    assert "teacher" in listing and "admin" in listing and "active" in listing

    # rotate: a new secret, the old one dead at once, the scope kept
    rotated = secret_of(run(fresh_database, "keys", "rotate", "teacher"))
    assert _works(fresh_database, rotated) and not _works(fresh_database, again)
    assert "admin" in run(fresh_database, "keys", "list").stdout
    # rotate makes a key that does not exist
    made = secret_of(run(fresh_database, "keys", "rotate", "notebook", "--scope", "write"))
    assert _works(fresh_database, made)

    run(fresh_database, "keys", "delete", "notebook")
    assert "notebook" not in run(fresh_database, "keys", "list").stdout
    assert not _works(fresh_database, made)
    missing = run(fresh_database, "keys", "delete", "notebook", ok=False)
    assert missing.returncode == 1 and "no key named 'notebook'" in missing.stderr


def test_the_readme_key_lines_are_safe_to_run_twice(fresh_database: str) -> None:
    """Each `VAR=$(.venv/bin/archive keys …)` line of the README, run twice in a shell,
    leaves a working key in VAR both times."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    lines = [line for line in readme.splitlines() if "=$(.venv/bin/archive keys" in line]
    assert len(lines) >= 2, "the README's key lines"
    for line in lines:
        variable = line.split("=", 1)[0]
        command = line.replace(".venv/bin/archive", f"{sys.executable} -m archive.cli")
        command = command.replace(" | tail", f" --database-url '{fresh_database}' | tail")
        script = (
            f'set -e\n{command}\necho "first=${variable}"\n{command}\necho "second=${variable}"'
        )
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        values = dict(x.split("=", 1) for x in result.stdout.split() if "=" in x)
        assert values["first"].startswith("ak_") and values["second"].startswith("ak_"), line
        assert _works(fresh_database, values["second"]), line


def test_import_is_all_or_nothing(fresh_database: str, tmp_path: Path) -> None:
    run(fresh_database, "init", "--empty")
    good = {"title": "A", "text": "alpha text", "id": "doc-a"}
    lines = [
        json.dumps(good),
        json.dumps({"type": "document", "title": "B", "text": "b"}),
        "{not json",
        json.dumps({"title": "C", "text": "c"}),
    ]
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(fresh_database, "import", str(path), ok=False)
    assert result.returncode == 1
    assert "line 3" in result.stderr
    assert "holds 0 documents" in run(fresh_database, "init", "--empty").stdout

    path.write_text("\n".join(lines[:2] + lines[3:]) + "\n", encoding="utf-8")
    result = run(fresh_database, "import", str(path))
    assert "Imported 3 documents" in result.stdout
    exported = run(fresh_database, "export", "-").stdout.splitlines()
    assert {json.loads(line)["id"]: json.loads(line)["title"] for line in exported} == {
        "doc-a": "A",
        "b": "B",
        "c": "C",
    }


def test_import_refreshes_postgresql_statistics(fresh_database: str, tmp_path: Path) -> None:
    """After a bulk import the planner knows the new rows at once (ANALYZE on PostgreSQL),
    instead of planning the first searches for empty tables until autovacuum runs."""
    if not fresh_database.startswith("postgresql"):
        pytest.skip("SQLite has nothing to refresh")
    run(fresh_database, "init", "--empty")
    path = tmp_path / "docs.ndjson"
    path.write_text(json.dumps({"title": "A", "text": "alpha"}) + "\n", encoding="utf-8")
    run(fresh_database, "import", str(path))
    engine = create_engine(normalize_url(fresh_database))
    try:
        with engine.connect() as connection:
            analyzed = connection.execute(
                text(
                    "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                    "WHERE relname = 'documents'"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert analyzed


def test_import_leaves_no_write_ahead_log_behind(fresh_database: str, tmp_path: Path) -> None:
    """SQLite: an import's pages end up in the database file, not left in the -wal file
    beside it (where they would take the disk space twice, and the next server would read
    them with a lookup per page until some write checkpointed them)."""
    if not fresh_database.startswith("sqlite"):
        pytest.skip("PostgreSQL has no write-ahead log file beside the database")
    run(fresh_database, "init", "--empty")
    path = tmp_path / "docs.ndjson"
    words = "the delegates sat in silence while the first secretary read on " * 40
    records = [{"id": f"d{n}", "title": f"Report {n}", "text": words} for n in range(300)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    run(fresh_database, "import", str(path))
    database = Path(fresh_database.removeprefix("sqlite:///"))
    log = database.with_name(database.name + "-wal")
    assert database.stat().st_size > 300 * len(words)
    assert not log.exists() or log.stat().st_size == 0
    assert "holds 300 documents" in run(fresh_database, "init", "--empty").stdout


def test_bad_settings_stop_a_command_before_it_starts(fresh_database: str) -> None:
    result = subprocess.run(
        [*ARCHIVE, "serve", "--database-url", fresh_database],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ARCHIVE_WORKERS": "several"},
    )
    assert result.returncode == 2
    assert "ARCHIVE_WORKERS" in result.stderr and "integer" in result.stderr
    assert "Traceback" not in result.stderr
    if fresh_database.startswith("sqlite"):  # nothing was created
        assert not Path(fresh_database.removeprefix("sqlite:///")).exists()

    bad = run(fresh_database, "serve", "--workers", "0", ok=False)
    assert bad.returncode == 2 and "--workers" in bad.stderr and "at least 1" in bad.stderr


def test_serve_starts_the_workers_asked_for(fresh_database: str) -> None:
    """`archive serve` answers in one process unless ARCHIVE_WORKERS (or --workers) asks
    for more, which then share the database."""
    if not Path("/proc").is_dir():
        pytest.skip("counts worker processes through /proc")
    for env, workers in (({}, 1), ({"ARCHIVE_WORKERS": "3"}, 3)):
        with running_server(fresh_database, env=env) as server:
            children = _worker_processes(server.process.pid)
            assert len(children) == (workers if workers > 1 else 0), server.output()
            assert httpx.get(f"{server.base}/v1/search", params={"q": "Mikoyan"}).json()["total"]


def _worker_processes(pid: int) -> list[int]:
    """The children of `pid` that run the app (not multiprocessing's resource tracker)."""
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            command = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields.get("PPid", "0")) == pid and b"resource_tracker" not in command:
            children.append(int(status.parent.name))
    return children


def test_import_reports_bad_fields_by_line(fresh_database: str) -> None:
    run(fresh_database, "init", "--empty")
    lines = (
        json.dumps({"title": "A", "text": "x"})
        + "\n"
        + json.dumps({"title": "B", "text": "y", "published": "last year"})
    )
    result = run(fresh_database, "import", "-", stdin=lines, ok=False)
    assert result.returncode == 1 and "line 2" in result.stderr and "published" in result.stderr


def test_export_import_round_trip_is_identical(fresh_database: str, tmp_path: Path) -> None:
    run(fresh_database, "init")
    first = tmp_path / "first.ndjson"
    run(fresh_database, "export", str(first))
    records = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()]
    assert [r["type"] for r in records][:5] == ["document"] * 5

    other = fresh_database.replace("fresh.db", "other.db") if "sqlite" in fresh_database else None
    if other is None:
        pytest.skip("round trip into a second PostgreSQL database is covered by the API test")
    run(other, "init", "--empty")
    run(other, "import", str(first))
    second = tmp_path / "second.ndjson"
    run(other, "export", str(second))
    assert first.read_bytes() == second.read_bytes()


def test_check_passes_on_the_bundled_corpus(fresh_database: str) -> None:
    run(fresh_database, "init")
    result = run(fresh_database, "check")
    assert "All consistent" in result.stdout and "5 documents" in result.stdout


def test_check_names_a_broken_span(fresh_database: str) -> None:
    from sqlalchemy import text

    from archive.db import make_engine

    run(fresh_database, "init", "--empty")
    doc = {"id": "d", "title": "D", "text": "Hey you, Klim, cut out the lying."}
    span = {"type": "span", "id": "klim", "document_id": "d", "exact": "Klim"}
    run(fresh_database, "import", "-", stdin=json.dumps(doc) + "\n" + json.dumps(span))
    engine = make_engine(fresh_database)
    with engine.begin() as conn:
        conn.execute(text('UPDATE spans SET "start" = 0, "end" = 3 WHERE id = :id'), {"id": "klim"})
    engine.dispose()
    result = run(fresh_database, "check", ok=False)
    assert result.returncode == 1
    assert "span klim" in result.stdout and "'Hey'" in result.stdout


def test_two_servers_starting_together_load_the_corpus_once(fresh_database: str) -> None:
    starts = [
        subprocess.Popen(
            [*ARCHIVE, "init", "--database-url", fresh_database],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in starts:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    exported = run(fresh_database, "export", "-").stdout.splitlines()
    assert sum(json.loads(line)["type"] == "document" for line in exported) == 5


@pytest.mark.parametrize(
    "record, field",
    [
        ({"type": "claim", "id": "c", "statement": "s", "tags": ["nul\u0000"]}, "tags"),
        (
            {"type": "document", "id": "d", "title": "t", "text": "x", "language": "x" * 40},
            "language",
        ),
        ({"type": "document", "id": "d", "title": "t", "text": "x", "revision": 2**40}, "revision"),
    ],
)
def test_import_refuses_what_a_database_could_not_store(
    fresh_database: str, record: dict, field: str
) -> None:
    run(fresh_database, "init", "--empty")
    result = run(fresh_database, "import", "-", stdin=json.dumps(record), ok=False)
    assert result.returncode == 1 and field in result.stderr and "Traceback" not in result.stderr
