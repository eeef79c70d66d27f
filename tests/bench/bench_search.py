"""Search benchmark: the archive API against Datasette over the same 10,000 documents.

Run it (it is not part of the default test run; `bench` is in pytest's norecursedirs):

    .venv/bin/pytest tests/bench/bench_search.py -s
    # or: .venv/bin/python tests/bench/bench_search.py

It needs the `bench` extra (`pip install -e '.[bench]'`: datasette, sqlite-utils) and takes
about fifteen minutes. What it does, in one run:

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
4. loads each with two mixes at 8 concurrent keep-alive connections from one asyncio httpx
   client, for BENCH_SECONDS in total per server and mix, alternating between the three
   servers in BENCH_ROUNDS rounds so that other load on the machine falls on all alike:
   - the cold mix: 40,000 distinct queries drawn from the corpus (rare and common words,
     two-word ANDs of mid-frequency words, two- and three-word phrases taken from the
     texts), each sent at most once to each server, so that no answer repeats and the
     search cache cannot help: the engine itself is measured;
   - the repeated mix: 32 queries (8 of each kind), over and over, as real traffic never
     is; once warm, the archive answers them from its search cache.
   The archive answers `GET /v1/search?q=...&limit=10` (top 10 with snippets, plus total
   and facets); Datasette answers the equivalent top-10-with-snippet SQL (below) through its
   JSON API, with the same FTS5 match expression the archive's parser produces;
5. measures the typo cost on the cache-off server: 200 words of the corpus, each asked
   spelled right and with one edit (a changed or dropped letter, or two swapped), one
   connection; p50 of both;
6. prints requests/s, p50, p99, errors and server CPU per request for each, their ratios to
   Datasette and the import times, and checks the targets on the archive as configured by
   default: on the cold mix at least 1.25x Datasette's requests/s with a p99 no worse than
   Datasette's; on the repeated mix at least 2x; zero errors on both (cache on and off);
   `archive import` within 3x of sqlite-utils; a misspelled word answered within 3x of the
   same word spelled right;
7. runs the same import, both mixes and the typo cost against PostgreSQL (a scratch
   database created on the server of BENCH_PG_URL, default
   postgresql://postgres@127.0.0.1:5432/test, and dropped afterwards; BENCH_PG_URL=none
   skips it) and prints its figures (search cache on, as by default; no target yet).

The cache-off line of each mix is the search engine itself, FTS5 BM25 plus the total and
facets over all matches, against Datasette's top-10 query on the same engine; on the cold
mix the default server differs from it only by filling a cache it never reads.

Settings (environment): BENCH_DOCS (10000), BENCH_SECONDS (60 per server),
BENCH_ROUNDS (6), BENCH_CONCURRENCY (8), BENCH_COLD_QUERIES (40000), BENCH_DIR (keep the
files there instead of a temporary folder; an existing corpus of the right size is reused),
BENCH_PG_URL (none skips PostgreSQL), BENCH_PG_SCRATCH_URL (use this database, emptied,
rather than creating one).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
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

COLD_QUERIES = int(os.environ.get("BENCH_COLD_QUERIES", "40000"))
TYPO_QUERIES = 200

TARGET_THROUGHPUT = 1.25  # the cold mix
TARGET_REPEATED = 2.0  # the repeated mix, answered from the search cache
TARGET_IMPORT = 3.0
TARGET_TYPO = 3.0

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


def _corpus_words(corpus: Path, sample: int) -> Iterator[list[str]]:
    with corpus.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            if n >= sample:
                break
            yield re.findall(r"[a-z]+", json.loads(line)["text"].lower())


def choose_cold_queries(corpus: Path, count: int, sample: int = 4000) -> list[Query]:
    """`count` distinct queries drawn from the corpus, in a fixed shuffled order: rare and
    common words, two-word ANDs and two- and three-word phrases taken from the texts, a
    fifth of each (fewer single words when the corpus has too few; the phrases make up)."""
    rng = random.Random(16)
    texts = list(_corpus_words(corpus, sample))
    df: Counter[str] = Counter()
    for words in texts:
        df.update(set(words))
    content = [w for w in sorted(df) if w not in STOP_WORDS and len(w) > 2]
    rare = [w for w in content if df[w] <= 2]
    common = sorted((w for w in content if df[w] >= 0.02 * sample), key=lambda w: -df[w])
    mid = [w for w in content if 0.01 * sample <= df[w] <= 0.4 * sample]
    share = count // 5
    chosen: dict[str, str] = {}  # text -> kind

    def take(kind: str, candidates: Iterator[str], limit: int) -> None:
        added = 0
        for text in candidates:
            if added >= limit or len(chosen) >= count:
                return
            if text not in chosen:
                chosen[text] = kind
                added += 1

    def phrases(length: int) -> Iterator[str]:
        for _ in range(count * 20):
            words = rng.choice(texts)
            if len(words) <= length:
                continue
            at = rng.randrange(len(words) - length)
            run = words[at : at + length]
            if run[0] not in STOP_WORDS and run[-1] not in STOP_WORDS:
                yield '"' + " ".join(run) + '"'

    def pairs() -> Iterator[str]:
        for _ in range(count * 20):
            a, b = rng.sample(mid, 2)
            yield f"{a} {b}"

    rng.shuffle(rare)
    take("rare", iter(rare), share)
    take("common", iter(common), share // 4)
    take("and", pairs(), share)
    take("phrase2", phrases(2), share + (count - len(chosen) - 3 * share) // 2)
    take("phrase3", phrases(3), count - len(chosen))
    queries = [Query(kind, text) for text, kind in chosen.items()]
    rng.shuffle(queries)
    return queries


def choose_misspellings(corpus: Path, count: int, sample: int = 4000) -> list[tuple[str, str]]:
    """(right, wrong) pairs: words of the corpus with one edit (a changed or dropped letter,
    or two neighbours swapped) that makes a word the corpus does not hold."""
    rng = random.Random(1956)
    df: Counter[str] = Counter()
    for words in _corpus_words(corpus, sample):
        df.update(set(words))
    words = sorted(w for w in df if w not in STOP_WORDS and len(w) >= 6 and df[w] >= 3)
    rng.shuffle(words)
    pairs = []
    for word in words:
        if len(pairs) >= count:
            break
        at = rng.randrange(1, len(word) - 2)  # not the first letter, not the ending
        edit = rng.choice(("change", "drop", "swap"))
        if edit == "change":
            letter = rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c != word[at]])
            wrong = word[:at] + letter + word[at + 1 :]
        elif edit == "drop":
            wrong = word[:at] + word[at + 1 :]
        else:
            wrong = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        if wrong != word and wrong not in df:
            pairs.append((word, wrong))
    return pairs


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


@dataclass
class Mix:
    """Queries to send: `repeat`, over and over; else each once, from `next` on (across
    rounds), until they run out."""

    urls: list[tuple[Query, str]]
    repeat: bool
    next: int = 0

    def take(self) -> tuple[Query, str] | None:
        if not self.repeat and self.next >= len(self.urls):
            return None
        taken = self.urls[self.next % len(self.urls)]
        self.next += 1
        return taken


async def _load(mix: Mix, seconds: float, check, into: Load) -> None:  # noqa: ANN001
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < stop:
                taken = mix.take()
                if taken is None:
                    return
                query, url = taken
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
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
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


Target = tuple[Server, Mix, Any]


def measure(target: Target, seconds: float, into: Load) -> None:
    server_, mix, check = target
    before = cpu_seconds(server_.pid)
    asyncio.run(_load(mix, seconds, check, into))
    into.server_cpu += cpu_seconds(server_.pid) - before


def load_alternating(targets: dict[str, Target], warm_up: dict[str, list]) -> dict[str, Load]:
    """Warm each server with its `warm_up` URLs, then load them in turn, ROUNDS times."""
    results = {name: Load() for name in targets}
    for name, (_, _, check) in targets.items():
        warm(warm_up[name], check)
    for _ in range(ROUNDS):
        for name, target in targets.items():
            measure(target, SECONDS / ROUNDS, results[name])
    return results


def typo_cost(base: str, pairs: list[tuple[str, str]]) -> tuple[float, float, int]:
    """p50 (ms) of each word spelled right and of the same word misspelled, asked one after
    the other on one connection; and how many misspellings were corrected."""
    right, wrong, corrected = [], [], 0
    with httpx.Client(timeout=60) as client:
        for good, bad in pairs:
            for word, into in ((good, right), (bad, wrong)):
                start = time.perf_counter()
                response = client.get(f"{base}/v1/search?limit=10&q={quote(word)}")
                into.append(time.perf_counter() - start)
                response.raise_for_status()
                if word == bad and response.json().get("corrections"):
                    corrected += 1
    right.sort()
    wrong.sort()
    return right[len(right) // 2] * 1000, wrong[len(wrong) // 2] * 1000, corrected


# --- reporting -------------------------------------------------------------------------------


ARCHIVE, UNCACHED, DATASETTE = "archive (SQLite)", "archive, cache off", "datasette"
COLD, REPEATED = "cold mix", "repeated mix"


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


@dataclass
class PgFigures:
    imported: Timed
    loads: dict[str, Load]
    typo: tuple[float, float, int]


def _mix_lines(
    mix: str, loads: dict[str, Load], target: float, failures: list[str], note: str
) -> list[str]:
    archive, datasette, uncached = loads[ARCHIVE], loads[DATASETTE], loads[UNCACHED]
    throughput = archive.rate / datasette.rate if datasette.rate else float("inf")
    p99_ratio = archive.percentile(99) / datasette.percentile(99)
    lines = [
        f"{mix}:",
        describe(ARCHIVE, archive),
        describe(UNCACHED, uncached),
        describe(DATASETTE, datasette),
        f"  {ARCHIVE}: requests/s ratio {throughput:.2f}x (target >= {target}x), "
        f"p99 ratio {p99_ratio:.2f} (target <= 1), errors {archive.errors} "
        f"(datasette {datasette.errors}); server CPU per request "
        f"{archive.cpu_per_request / datasette.cpu_per_request:.2f}x Datasette's ({note})",
        f"  {UNCACHED}: {ratios(uncached, datasette)} (every request searches; no target)",
    ]
    for name, load in loads.items():
        if load.error_samples:
            lines.append(f"  {name} errors, e.g.: {load.error_samples}")
    if throughput < target:
        failures.append(f"{mix}: throughput {throughput:.2f}x < {target}x")
    if p99_ratio > 1:
        failures.append(
            f"{mix}: p99 {archive.percentile(99):.1f} ms > {datasette.percentile(99):.1f} ms"
        )
    for name in (ARCHIVE, UNCACHED):
        if loads[name].errors:
            failures.append(f"{mix}: {name}: {loads[name].errors} errors")
    return lines


def _typo_line(name: str, typo: tuple[float, float, int], failures: list[str] | None) -> str:
    right, wrong, corrected = typo
    ratio = wrong / right if right else float("inf")
    if failures is not None and ratio > TARGET_TYPO:
        failures.append(f"typo cost {ratio:.2f}x > {TARGET_TYPO}x")
    return (
        f"  {name:<22} p50 spelled right {right:6.1f} ms, misspelled {wrong:6.1f} ms: "
        f"{ratio:.2f}x (target <= {TARGET_TYPO:.0f}x); {corrected} of {TYPO_QUERIES} corrected"
    )


def _kinds(queries: list[Query]) -> str:
    return ", ".join(f"{k} {n}" for k, n in Counter(q.kind for q in queries).items())


def report(
    mixes: dict[str, list[Query]],
    imports: dict[str, Timed],
    loads: dict[str, dict[str, Load]],
    typo: tuple[float, float, int],
    pg: PgFigures | None,
) -> Outcome:
    failures: list[str] = []
    import_ratio = imports["archive"].wall / imports["sqlite-utils"].wall
    repeated = mixes[REPEATED]
    lines = [
        f"search benchmark: {DOCS} documents; cold mix of {len(mixes[COLD])} distinct queries "
        f"({_kinds(mixes[COLD])}), each sent at most once to each server; repeated mix of "
        f"{len(repeated)} queries ({_kinds(repeated)}); "
        f"{CONCURRENCY} connections, {SECONDS:.0f} s per server and mix in {ROUNDS} "
        f"alternating rounds, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"archive serve: {get_settings().workers} worker process(es)",
        "  repeated queries: " + " | ".join(q.text for q in repeated),
        "  cold queries, e.g.: " + " | ".join(q.text for q in mixes[COLD][:12]),
        "import (wall / CPU):",
        f"  archive import (SQLite)     {imports['archive'].wall:6.1f} s / "
        f"{imports['archive'].cpu:5.1f} s",
        f"  sqlite-utils insert+fts     {imports['sqlite-utils'].wall:6.1f} s / "
        f"{imports['sqlite-utils'].cpu:5.1f} s",
        f"  ratio {import_ratio:.2f}x (target <= {TARGET_IMPORT:.0f}x)",
    ]
    if import_ratio > TARGET_IMPORT:
        failures.append(f"import {import_ratio:.2f}x > {TARGET_IMPORT}x")
    lines += _mix_lines(COLD, loads[COLD], TARGET_THROUGHPUT, failures, "no query repeats")
    lines += _mix_lines(
        REPEATED, loads[REPEATED], TARGET_REPEATED, failures, "answered from the search cache"
    )
    lines += ["typo cost (one connection, cache off):", _typo_line(UNCACHED, typo, failures)]
    if pg is None:
        lines.append("PostgreSQL: skipped (BENCH_PG_URL=none or the server is unreachable)")
    else:
        lines += [
            "PostgreSQL (figures only; search cache on, as by default; server CPU: the API "
            "process only, not PostgreSQL's):",
            f"  archive import (PostgreSQL) {pg.imported.wall:6.1f} s / {pg.imported.cpu:5.1f} s",
            describe(f"{COLD}", pg.loads[COLD]),
            describe(f"{REPEATED}", pg.loads[REPEATED]),
            _typo_line("typo cost", pg.typo, None),
        ]
    lines.append("targets: " + ("all met" if not failures else "MISSED: " + "; ".join(failures)))
    return Outcome(lines, failures)


# --- PostgreSQL ---------------------------------------------------------------------------------


@contextmanager
def pg_database() -> Iterator[str | None]:
    """A scratch database on the BENCH_PG_URL server, or None when there is none; or, with
    BENCH_PG_SCRATCH_URL, that database itself, emptied first (schema public dropped)."""
    if PG_URL.lower() == "none":
        yield None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from archive.db import normalize_url

    if os.environ.get("BENCH_PG_SCRATCH_URL"):
        scratch = normalize_url(os.environ["BENCH_PG_SCRATCH_URL"])
        admin = create_engine(scratch, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        admin.dispose()
        yield make_url(scratch).render_as_string(hide_password=False)
        return

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


#: Cold queries kept aside to warm the servers up (never measured).
WARM_UP = 50


def run(folder: Path) -> Outcome:
    for tool in ("archive", "sqlite-utils", "datasette"):
        if not (BIN / tool).exists():
            raise FileNotFoundError(f"{BIN / tool} is missing: pip install -e '.[bench]'")
    corpus = make_corpus(folder)
    cold = choose_cold_queries(corpus, COLD_QUERIES + WARM_UP)
    cold, cold_warm_up = cold[WARM_UP:], cold[:WARM_UP]
    mixes = {COLD: cold, REPEATED: choose_queries(corpus)}
    misspellings = choose_misspellings(corpus, TYPO_QUERIES)
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
    kinds = {ARCHIVE: archive_url, UNCACHED: archive_url, DATASETTE: datasette_url}
    checks = {ARCHIVE: check_archive, UNCACHED: check_archive, DATASETTE: check_datasette}
    with (
        server(archive_cmd, "/v1/health", folder / "archive.log") as archive_server,
        server(
            archive_cmd, "/v1/health", folder / "archive-uncached.log", NO_CACHE_ENV
        ) as uncached_server,
        server(datasette_cmd, "/-/versions.json", folder / "datasette.log") as datasette_server,
    ):
        servers = {ARCHIVE: archive_server, UNCACHED: uncached_server, DATASETTE: datasette_server}
        loads = {}
        for mix, queries in mixes.items():
            warm_up = cold_warm_up if mix == COLD else queries
            loads[mix] = load_alternating(
                {
                    name: (
                        srv,
                        Mix([(q, kinds[name](srv.base, q)) for q in queries], mix == REPEATED),
                        checks[name],
                    )
                    for name, srv in servers.items()
                },
                {
                    name: [(q, kinds[name](srv.base, q)) for q in warm_up]
                    for name, srv in servers.items()
                },
            )
        typo = typo_cost(uncached_server.base, misspellings)
    pg = None
    with pg_database() as pg_url:
        if pg_url is not None:
            timed = archive_import(pg_url, corpus)
            pg_cmd = [str(BIN / "archive"), "serve", "--database-url", pg_url]
            with server(pg_cmd, "/v1/health", folder / "archive-pg.log") as pg_server:
                pg_loads = {}
                for mix, queries in mixes.items():
                    warm_up = cold_warm_up if mix == COLD else queries
                    warm([(q, archive_url(pg_server.base, q)) for q in warm_up], check_archive)
                    urls = [(q, archive_url(pg_server.base, q)) for q in queries]
                    pg_loads[mix] = Load()
                    measure(
                        (pg_server, Mix(urls, mix == REPEATED), check_archive),
                        SECONDS,
                        pg_loads[mix],
                    )
                pg = PgFigures(timed, pg_loads, typo_cost(pg_server.base, misspellings))
    outcome = report(mixes, imports, loads, typo, pg)
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
