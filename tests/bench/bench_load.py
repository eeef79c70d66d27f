"""Load benchmark: mixed reads and writes (80/20) at 16 connections against a real
`archive serve`, on SQLite and on PostgreSQL. Prints throughput, p50/p99 and errors.

    python tests/bench/bench_load.py                    # 60 s per database, both databases
    python tests/bench/bench_load.py --duration 10 --databases sqlite
    BENCH_DURATION=30 pytest tests/bench/bench_load.py -s

PostgreSQL: a scratch database is created (and dropped) through --pg-admin-url
(default postgresql://postgres@127.0.0.1:5432/test, or $BENCH_PG_ADMIN_URL). Errors are
responses with a status the operation should never give (5xx above all) and transport
failures; zero is expected. Rate limiting is off for the run (it would be the limit measured).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.archive.servers import create_key, running_server  # noqa: E402

DEFAULT_DURATION = float(os.environ.get("BENCH_DURATION", "60"))
DEFAULT_PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
DOCUMENTS = [
    "figes-secret-speech",
    "siegelbaum-secret-speech",
    "secret-speech-brief",
    "fear-backstage",
    "not-so-secret-speech",
]
TEXT = (
    "On 25 February 1956 Khrushchev spoke to a closed session of the Twentieth Congress. "
    "Mikoyan had urged him to speak; the delegates listened in silence. Note {n}."
)


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if error:
                self.errors.append(error)


class Worker:
    """One connection: 80% reads of the corpus and of what it wrote, 20% writes."""

    def __init__(self, base: str, key: str, n: int, paths: set[str], stats: Stats) -> None:
        self.client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        self.n = n
        self.paths = paths
        self.stats = stats
        self.mine: list[str] = []
        self.random = random.Random(n)
        self.count = 0

    def call(
        self, kind: str, ok: tuple[int, ...], send: Callable[[], httpx.Response]
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = send()
        except httpx.HTTPError as exc:
            self.stats.add(kind, time.perf_counter() - started, f"{kind}: {exc!r}")
            return None
        error = None
        if response.status_code not in ok:
            error = f"{kind}: {response.status_code} {response.text[:200]}"
        self.stats.add(kind, time.perf_counter() - started, error)
        return response

    def read(self) -> None:
        c, r = self.client, self.random
        doc = r.choice(self.mine[-20:] if self.mine and r.random() < 0.3 else DOCUMENTS)
        choice = r.randrange(8)
        if choice == 0:
            self.call("read", (200,), lambda: c.get("/v1/documents", params={"limit": 20}))
        elif choice == 1:
            self.call("read", (200,), lambda: c.get(f"/v1/documents/{doc}"))
        elif choice == 2:
            self.call(
                "read",
                (200,),
                lambda: c.get(f"/v1/documents/{doc}/text", params={"start": 0, "end": 60}),
            )
        elif choice == 3 and "/v1/claims" in self.paths:
            self.call("read", (200,), lambda: c.get("/v1/claims", params={"limit": 20}))
        elif choice == 4 and "/v1/search" in self.paths:
            q = r.choice(["Mikoyan", "secret speech", "Congress", "Stalin"])
            self.call("read", (200,), lambda: c.get("/v1/search", params={"q": q}))
        elif choice == 5 and "/v1/spans" in self.paths:
            self.call("read", (200,), lambda: c.get("/v1/spans", params={"document": doc}))
        elif choice == 6:
            self.call(
                "read", (200,), lambda: c.get("/v1/changes", params={"since": 0, "limit": 50})
            )
        else:
            self.call(
                "read",
                (200,),
                lambda: (
                    c.get(f"/v1/documents/{doc}/citations")
                    if "/v1/documents/{doc_id}/citations" in self.paths
                    else c.get(f"/v1/documents/{doc}")
                ),
            )

    def write(self) -> None:
        c, r = self.client, self.random
        self.count += 1
        if not self.mine or r.random() < 0.4:
            doc_id = f"bench-{self.n}-{self.count}-{uuid.uuid4().hex[:6]}"
            body = {
                "id": doc_id,
                "title": f"Bench {self.n}.{self.count}",
                "text": TEXT.format(n=self.count),
            }
            headers = {"Idempotency-Key": doc_id}
            if self.call(
                "create", (201,), lambda: c.post("/v1/documents", json=body, headers=headers)
            ):
                self.mine.append(doc_id)
            return
        doc_id = r.choice(self.mine)
        if r.random() < 0.5 and "/v1/documents/{doc_id}/spans" in self.paths:
            exact = r.choice(["25 February 1956", "Mikoyan had urged him", "in silence"])
            self.call(
                "create",
                (201, 409),
                lambda: c.post(f"/v1/documents/{doc_id}/spans", json={"exact": exact}),
            )
            return
        current = self.call("read", (200,), lambda: c.get(f"/v1/documents/{doc_id}"))
        if current is None:
            return
        etag = current.headers.get("etag", "*")
        self.call(
            "update",
            (200, 412),
            lambda: c.patch(
                f"/v1/documents/{doc_id}",
                json={"description": f"edit {self.count}"},
                headers={"If-Match": etag},
            ),
        )

    def run(self, deadline: float) -> None:
        try:
            while time.monotonic() < deadline:
                if self.random.random() < 0.8:
                    self.read()
                else:
                    self.write()
        except Exception as exc:  # noqa: BLE001 - counted, never silently lost
            self.stats.add("crash", 0.0, f"worker {self.n}: {exc!r}")
        finally:
            self.client.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_load(base: str, key: str, connections: int, duration: float) -> tuple[Stats, float]:
    paths = set(httpx.get(f"{base}/openapi.json").json()["paths"])
    stats = Stats()
    workers = [Worker(base, key, n, paths, stats) for n in range(connections)]
    for w in workers:  # warm up: every connection open, every code path loaded once
        w.read()
    stats.latencies.clear()
    started = time.monotonic()
    threads = [threading.Thread(target=w.run, args=(started + duration,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats, time.monotonic() - started


def report(name: str, stats: Stats, elapsed: float, connections: int) -> str:
    everything = [x for values in stats.latencies.values() for x in values]
    lines = [
        f"{name}: {len(everything)} requests in {elapsed:.1f} s at {connections} connections: "
        f"{len(everything) / elapsed:.0f} req/s, p50 {percentile(everything, 50) * 1000:.1f} ms, "
        f"p99 {percentile(everything, 99) * 1000:.1f} ms, errors {len(stats.errors)}"
    ]
    for kind in ("read", "create", "update"):
        values = stats.latencies.get(kind, [])
        if values:
            lines.append(
                f"  {kind:<6} {len(values):>7}  p50 {percentile(values, 50) * 1000:7.1f} ms  "
                f"p99 {percentile(values, 99) * 1000:7.1f} ms  "
                f"mean {statistics.fmean(values) * 1000:7.1f} ms"
            )
    writes = sum(len(stats.latencies.get(k, [])) for k in ("create", "update"))
    lines.append(f"  writes {100 * writes / max(1, len(everything)):.0f}% of requests")
    for error in stats.errors[:5]:
        lines.append(f"  error: {error}")
    return "\n".join(lines)


@contextmanager
def database(kind: str, pg_admin: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from archive.db import normalize_url

    name = f"archive_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(pg_admin), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench(kind: str, duration: float, connections: int, pg_admin: str) -> tuple[str, Stats]:
    with database(kind, pg_admin) as url:
        key = create_key(url, "bench")
        with running_server(url) as server:
            stats, elapsed = run_load(server.base, key, connections, duration)
    return report(kind, stats, elapsed, connections), stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION, help="seconds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN)
    args = parser.parse_args(argv)
    failed = False
    for kind in args.databases.split(","):
        text, stats = bench(kind.strip(), args.duration, args.connections, args.pg_admin_url)
        print(text, flush=True)
        failed = failed or bool(stats.errors)
    return 1 if failed else 0


def test_load() -> None:
    """`pytest tests/bench/bench_load.py -s` (BENCH_DURATION, BENCH_DATABASES)."""
    databases = os.environ.get("BENCH_DATABASES", "sqlite,postgresql")
    assert main(["--databases", databases]) == 0


if __name__ == "__main__":
    sys.exit(main())
