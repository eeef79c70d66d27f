"""Search benchmark: the archive API against Datasette over the same 10,000 documents.

Run it (it is not part of the default test run; `bench` is in pytest's norecursedirs):

    .venv/bin/pytest tests/bench/bench_search.py -s
    # or: .venv/bin/python tests/bench/bench_search.py

It needs the `bench` extra (`pip install -e '.[bench]'`: datasette, sqlite-utils) and takes
about six minutes. What it does, in one run:

1. generates the corpus with `../shared/bench/make_corpus.py --docs 10000` (the shared folder
   is found beside the repository, or at $ARCHIVE_SHARED_DIR);
2. imports it with the real `archive import` into a fresh SQLite file, timed, and builds
   the same documents with `sqlite-utils insert` + `sqlite-utils enable-fts ... --tokenize
   porter`, timed (the FTS rank is then set to bm25 with the title weighted 10:1, as the
   archive ranks, outside the timing);
3. serves the archive twice with `archive serve` as the README does (uvicorn, one worker
   process unless ARCHIVE_WORKERS says more):
   as configured by default, with its search cache, and with the cache off
   (ARCHIVE_SEARCH_CACHE_SIZE=0); and the other file with `datasette serve -i` (immutable:
   Datasette's fastest mode for read-only data; SQL time limit raised to 10 s so that it
   never fails a query for being slow);
4. loads each with the same fixed mix of queries (rare words, common words, two-word AND,
   phrases, chosen from the corpus) at 8 concurrent keep-alive connections from one asyncio
   httpx client, for BENCH_SECONDS in total each, alternating between the three servers in
   BENCH_ROUNDS rounds so that other load on the machine falls on all alike. The archive
   answers `GET /v1/search?q=...&limit=10` (top 10 with snippets, plus total and facets);
   Datasette answers the equivalent top-10-with-snippet SQL (below) through its JSON API,
   with the same FTS5 match expression the archive's parser produces;
5. prints requests/s, p50, p99, errors and server CPU per request for each, their ratios to
   Datasette and the import times, and checks the targets on the archive as configured by
   default: at least 1.25x Datasette's requests/s, a p99 no worse than Datasette's, zero
   errors, and `archive import` within 3x of sqlite-utils;
6. runs the same import and load against PostgreSQL (a scratch database created on the
   server of BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/test, and dropped
   afterwards; BENCH_PG_URL=none skips it) and prints its figures (search cache on, as by
   default; no target yet).

The two archive figures answer two questions. The search cache (archive/cache.py) keeps each
worker's recent answers until the next write, and the mix repeats its queries, so once the
warm-up has run every request to the default server is answered from the cache: that line
is what a deployment serving repeated searches sees (the HTTP path, no search), and it is
the one the targets check. The cache-off line is the search engine itself, FTS5 BM25 plus
the total and facets over all matches, against Datasette's top-10 query on the same engine:
the engine-to-engine comparison, printed with its ratios and not checked.

Settings (environment): BENCH_DOCS (10000), BENCH_SECONDS (60 per server),
BENCH_ROUNDS (6), BENCH_CONCURRENCY (8), BENCH_DIR (keep the files there instead of a
temporary folder; an existing corpus of the right size is reused).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from archive.search_query import STOP_WORDS, parse, to_fts5
from archive.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(
    os.environ.get("ARCHIVE_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared"
)
BIN = Path(sys.executable).parent

DOCS = int(os.environ.get("BENCH_DOCS", "10000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "6"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

TARGET_THROUGHPUT = 1.25
TARGET_IMPORT = 3.0

#: What a Datasette user writes for "the ten best matches with a snippet" (the pattern of
#: Datasette's and sqlite-utils' documentation: FTS5's own rank order, LIMIT 10).
DATASETTE_SQL = (
    "select docs.id, docs.title, "
    "snippet(docs_fts, -1, '<b>', '</b>', '…', 24) as snippet, docs_fts.rank as score "
    "from docs_fts join docs on docs.rowid = docs_fts.rowid "
    "where docs_fts match :q order by docs_fts.rank limit 10"
)


# --- the corpus and the query mix -----------------------------------------------------------


def make_corpus(folder: Path) -> Path:
    corpus = folder / "corpus.ndjson"
    if corpus.exists() and sum(1 for _ in corpus.open(encoding="utf-8")) == DOCS:
        return corpus
    script = SHARED / "bench" / "make_corpus.py"
    command = [sys.executable, str(script), "--docs", str(DOCS), "--out", str(corpus)]
    subprocess.run([*command, "--truth", str(folder / "truth.json")], check=True)
    return corpus


@dataclass(frozen=True)
class Query:
    kind: str
    text: str


def choose_queries(corpus: Path, per_kind: int = 8, sample: int = 3000) -> list[Query]:
    """A fixed mix drawn from the corpus itself: the same files give the same queries."""
    df: Counter[str] = Counter()
    bigrams: Counter[tuple[str, str]] = Counter()
    with corpus.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            if n >= sample:
                break
            words = re.findall(r"[a-z]+", json.loads(line)["text"].lower())
            df.update(set(words))
            bigrams.update(
                {
                    (a, b)
                    for a, b in zip(words, words[1:], strict=False)
                    if a not in STOP_WORDS and b not in STOP_WORDS and len(a) > 3 and len(b) > 3
                }
            )
    content = sorted(
        (w for w in df if w not in STOP_WORDS and len(w) > 3), key=lambda w: (-df[w], w)
    )
    rare = sorted(w for w in content if df[w] == 1)
    step = max(1, len(rare) // per_kind)
    mid = [w for w in content if 0.05 * sample <= df[w] <= 0.4 * sample]
    mix = {
        "rare": rare[::step][:per_kind],
        "common": content[:per_kind],
        "and": [f"{a} {b}" for a, b in zip(mid[::2], mid[1::2], strict=False)][:per_kind],
        "phrase": [f'"{a} {b}"' for (a, b), _ in bigrams.most_common(per_kind)],
    }
    queries = []
    for i in range(per_kind):
        for kind, texts in mix.items():
            if i < len(texts):
                queries.append(Query(kind, texts[i]))
    return queries


# --- building the two databases -----------------------------------------------------------


@dataclass
class Timed:
    wall: float
    cpu: float


def run_timed(*commands: list[str]) -> Timed:
    """Run the commands one after the other; their wall and CPU (user + system) time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(wall, cpu)


def archive_import(url: str, corpus: Path) -> Timed:
    return run_timed([str(BIN / "archive"), "import", "--database-url", url, str(corpus)])


def sqlite_utils_import(db: Path, corpus: Path) -> Timed:
    tool = str(BIN / "sqlite-utils")
    timed = run_timed(
        [tool, "insert", str(db), "docs", str(corpus), "--nl", "--pk", "id"],
        [tool, "enable-fts", str(db), "docs", "title", "text", "--tokenize", "porter"],
    )
    with sqlite3.connect(db) as conn:  # rank as the archive ranks (not timed)
        conn.execute("INSERT INTO docs_fts (docs_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0)')")
    return timed


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: One client making thousands of requests a minute is what rate limiting (on by default
#: with PostgreSQL) is there to refuse; the benchmark turns it off.
SERVER_ENV = {"ARCHIVE_RATE_LIMIT_PER_ADDRESS": "0", "ARCHIVE_RATE_LIMIT_PER_KEY": "0"}


@dataclass(frozen=True)
class Server:
    base: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process and its live descendants (a server's
    worker processes) have used so far; Linux /proc only, else 0. Unlike requests/s, CPU
    per request hardly moves with other load on the machine."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        used[child] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return sum(used.get(p, 0.0) for p in tree)


#: The archive with its search cache off: every request searches.
NO_CACHE_ENV = {"ARCHIVE_SEARCH_CACHE_SIZE": "0"}


@contextmanager
def server(
    command: list[str], ready: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Start a server, wait until `ready` (a URL path) answers 200, stop it afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **SERVER_ENV, **(env or {})},
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited; see {log}")
                try:
                    if httpx.get(base + ready, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start; see {log}")
                time.sleep(0.3)
            yield Server(base, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def archive_url(base: str, q: Query) -> str:
    return f"{base}/v1/search?limit=10&q={quote(q.text)}"


def datasette_url(base: str, q: Query) -> str:
    match = to_fts5(parse(q.text))
    return f"{base}/bench.json?_shape=array&sql={quote(DATASETTE_SQL)}&q={quote(match)}"


def check_archive(response: httpx.Response) -> bool:
    return response.status_code == 200 and "items" in response.json()


def check_datasette(response: httpx.Response) -> bool:
    return response.status_code == 200 and isinstance(response.json(), list)


# --- load ------------------------------------------------------------------------------------


@dataclass
class Load:
    seconds: float = 0.0
    server_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_request(self) -> float:
        """The server's CPU milliseconds per request."""
        return self.server_cpu / self.requests * 1000 if self.requests else float("nan")

    def percentile(self, p: float, values: list[float] | None = None) -> float:
        data = sorted(self.latencies if values is None else values)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, int(p / 100 * len(data)))] * 1000


async def _load(urls: list[tuple[Query, str]], seconds: float, check, into: Load) -> None:  # noqa: ANN001
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        stop = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < stop:
                query, url = urls[i % len(urls)]
                i += CONCURRENCY
                start = time.perf_counter()
                try:
                    response = await client.get(url)
                    ok = check(response)
                except (httpx.HTTPError, ValueError) as error:
                    response, ok = None, False
                    if len(into.error_samples) < 5:
                        into.error_samples.append(repr(error))
                elapsed = time.perf_counter() - start
                if ok:
                    into.latencies.append(elapsed)
                    into.by_kind.setdefault(query.kind, []).append(elapsed)
                else:
                    into.errors += 1
                    if response is not None and len(into.error_samples) < 5:
                        into.error_samples.append(f"{response.status_code} {response.text[:200]}")

        began = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(CONCURRENCY)))
        into.seconds += time.perf_counter() - began


def warm(urls: list[tuple[Query, str]], check) -> None:  # noqa: ANN001
    """Every query once, checked, before timing (also fills the servers' caches alike)."""
    with httpx.Client(timeout=60) as client:
        for query, url in urls:
            response = client.get(url)
            if not check(response):
                raise AssertionError(
                    f"{query.text!r}: {response.status_code} {response.text[:300]}"
                )


Target = tuple[Server, list[tuple[Query, str]], Any]


def measure(target: Target, seconds: float, into: Load) -> None:
    server_, urls, check = target
    before = cpu_seconds(server_.pid)
    asyncio.run(_load(urls, seconds, check, into))
    into.server_cpu += cpu_seconds(server_.pid) - before


def load_alternating(targets: dict[str, Target]) -> dict[str, Load]:
    results = {name: Load() for name in targets}
    for _, urls, check in targets.values():
        warm(urls, check)
    for _ in range(ROUNDS):
        for name, target in targets.items():
            measure(target, SECONDS / ROUNDS, results[name])
    return results


# --- reporting -------------------------------------------------------------------------------


ARCHIVE, UNCACHED, DATASETTE = "archive (SQLite)", "archive, cache off", "datasette"


def ratios(load: Load, reference: Load) -> str:
    rate = load.rate / reference.rate if reference.rate else float("inf")
    return (
        f"requests/s ratio {rate:.2f}x, p99 ratio "
        f"{load.percentile(99) / reference.percentile(99):.2f}, errors {load.errors}; "
        f"server CPU per request {load.cpu_per_request / reference.cpu_per_request:.2f}x "
        "Datasette's"
    )


def describe(name: str, load: Load) -> str:
    kinds = ", ".join(
        f"{kind} {load.percentile(50, values):.0f}" for kind, values in sorted(load.by_kind.items())
    )
    return (
        f"  {name:<22} {load.rate:8.1f} req/s   p50 {load.percentile(50):7.1f} ms   "
        f"p99 {load.percentile(99):7.1f} ms   errors {load.errors}   "
        f"server CPU {load.cpu_per_request:5.1f} ms/request   "
        f"({load.requests} requests; p50 by kind, ms: {kinds})"
    )


@dataclass
class Outcome:
    lines: list[str]
    failures: list[str]


def report(
    queries: list[Query],
    imports: dict[str, Timed],
    loads: dict[str, Load],
    pg: tuple[Timed, Load] | None,
) -> Outcome:
    archive, datasette = loads[ARCHIVE], loads[DATASETTE]
    uncached = loads[UNCACHED]
    throughput = archive.rate / datasette.rate if datasette.rate else float("inf")
    p99_ratio = archive.percentile(99) / datasette.percentile(99)
    import_ratio = imports["archive"].wall / imports["sqlite-utils"].wall
    lines = [
        f"search benchmark: {DOCS} documents, {len(queries)} queries "
        f"({', '.join(f'{k} {n}' for k, n in Counter(q.kind for q in queries).items())}), "
        f"{CONCURRENCY} connections, {SECONDS:.0f} s per server in {ROUNDS} alternating rounds, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; archive serve: "
        f"{get_settings().workers} worker process(es)",
        "  queries: " + " | ".join(q.text for q in queries),
        "import (wall / CPU):",
        f"  archive import (SQLite)     {imports['archive'].wall:6.1f} s / "
        f"{imports['archive'].cpu:5.1f} s",
        f"  sqlite-utils insert+fts     {imports['sqlite-utils'].wall:6.1f} s / "
        f"{imports['sqlite-utils'].cpu:5.1f} s",
        f"  ratio {import_ratio:.2f}x (target <= {TARGET_IMPORT:.0f}x)",
        "load:",
        describe(ARCHIVE, archive),
        describe(UNCACHED, uncached),
        describe(DATASETTE, datasette),
        f"  {ARCHIVE}: requests/s ratio {throughput:.2f}x (target >= {TARGET_THROUGHPUT}x), "
        f"p99 ratio {p99_ratio:.2f} (target <= 1), errors {archive.errors} "
        f"(datasette {datasette.errors}); server CPU per request "
        f"{archive.cpu_per_request / datasette.cpu_per_request:.2f}x Datasette's "
        "(search cache on: repeated searches are answered from it)",
        f"  {UNCACHED}: {ratios(uncached, datasette)} "
        "(engine to engine: every request searches; no target)",
    ]
    for name, load in loads.items():
        if load.error_samples:
            lines.append(f"  {name} errors, e.g.: {load.error_samples}")
    if pg is None:
        lines.append("PostgreSQL: skipped (BENCH_PG_URL=none or the server is unreachable)")
    else:
        timed, load = pg
        lines += [
            "PostgreSQL (figures only):",
            f"  archive import (PostgreSQL) {timed.wall:6.1f} s / {timed.cpu:5.1f} s",
            describe("archive (PostgreSQL)", load),
            "  (search cache on, as by default; server CPU: the API process only, not "
            "PostgreSQL's)",
        ]
    failures = []
    if throughput < TARGET_THROUGHPUT:
        failures.append(f"throughput {throughput:.2f}x < {TARGET_THROUGHPUT}x")
    if p99_ratio > 1:
        failures.append(f"p99 {archive.percentile(99):.1f} ms > {datasette.percentile(99):.1f} ms")
    if archive.errors:
        failures.append(f"{archive.errors} errors")
    if import_ratio > TARGET_IMPORT:
        failures.append(f"import {import_ratio:.2f}x > {TARGET_IMPORT}x")
    lines.append("targets: " + ("all met" if not failures else "MISSED: " + "; ".join(failures)))
    return Outcome(lines, failures)


# --- PostgreSQL ---------------------------------------------------------------------------------


@contextmanager
def pg_database() -> Iterator[str | None]:
    """A scratch database on the BENCH_PG_URL server, or None when there is none."""
    if PG_URL.lower() == "none":
        yield None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from archive.db import normalize_url

    server_url = normalize_url(PG_URL)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"archive_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        yield None
        return
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the whole run ---------------------------------------------------------------------------


def run(folder: Path) -> Outcome:
    for tool in ("archive", "sqlite-utils", "datasette"):
        if not (BIN / tool).exists():
            raise FileNotFoundError(f"{BIN / tool} is missing: pip install -e '.[bench]'")
    corpus = make_corpus(folder)
    queries = choose_queries(corpus)
    archive_db, datasette_db = folder / "archive.db", folder / "bench.db"
    for stale in [*folder.glob("archive.db*"), *folder.glob("bench.db*")]:
        stale.unlink()
    archive_db_url = f"sqlite:///{archive_db}"
    imports = {
        "archive": archive_import(archive_db_url, corpus),
        "sqlite-utils": sqlite_utils_import(datasette_db, corpus),
    }
    archive_cmd = [str(BIN / "archive"), "serve", "--database-url", archive_db_url]
    datasette_cmd = [
        str(BIN / "datasette"),
        "serve",
        "-i",
        str(datasette_db),
        "--setting",
        "sql_time_limit_ms",
        "10000",
    ]
    with (
        server(archive_cmd, "/v1/health", folder / "archive.log") as archive_server,
        server(
            archive_cmd, "/v1/health", folder / "archive-uncached.log", NO_CACHE_ENV
        ) as uncached_server,
        server(datasette_cmd, "/-/versions.json", folder / "datasette.log") as datasette_server,
    ):
        loads = load_alternating(
            {
                ARCHIVE: (
                    archive_server,
                    [(q, archive_url(archive_server.base, q)) for q in queries],
                    check_archive,
                ),
                UNCACHED: (
                    uncached_server,
                    [(q, archive_url(uncached_server.base, q)) for q in queries],
                    check_archive,
                ),
                DATASETTE: (
                    datasette_server,
                    [(q, datasette_url(datasette_server.base, q)) for q in queries],
                    check_datasette,
                ),
            }
        )
    pg = None
    with pg_database() as pg_url:
        if pg_url is not None:
            timed = archive_import(pg_url, corpus)
            pg_cmd = [str(BIN / "archive"), "serve", "--database-url", pg_url]
            with server(pg_cmd, "/v1/health", folder / "archive-pg.log") as pg_server:
                urls = [(q, archive_url(pg_server.base, q)) for q in queries]
                warm(urls, check_archive)
                load = Load()
                measure((pg_server, urls, check_archive), SECONDS, load)
            pg = (timed, load)
    outcome = report(queries, imports, loads, pg)
    print("\n".join(outcome.lines), flush=True)
    return outcome


@pytest.mark.bench
def test_search_benchmark(tmp_path: Path) -> None:
    if shutil.which("datasette", path=str(BIN)) is None:
        pytest.skip("the bench extra is not installed: pip install -e '.[bench]'")
    folder = Path(os.environ["BENCH_DIR"]) if os.environ.get("BENCH_DIR") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    outcome = run(folder)
    assert not outcome.failures, "; ".join(outcome.failures)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(os.environ.get("BENCH_DIR") or scratch)
        where.mkdir(parents=True, exist_ok=True)
        sys.exit(1 if run(where).failures else 0)
