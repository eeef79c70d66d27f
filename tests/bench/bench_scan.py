"""Checking a text at scale: a 2,000-word text that quotes ten planted passages.

On the 10,000-document benchmark corpus (shared/bench/make_corpus.py, imported with
`archive import` into a fresh database), each text embeds the ten planted passages, damaged
as the truth file's queries are (straight quotes, a dropped word, a swapped letter pair),
among about 1,850 words of new prose, in a shuffled order; every text has its own damage.
`POST /v1/quotes/scan` on a real server must find all ten, each with every planted copy of
it among its matches (within 10 characters), and report no other passage. Printed, not
asserted as timings: p50 and p99 over the texts, and the server's peak memory growth for one
scan (its high-water mark of resident memory, reset first). Targets (issue 15): p50 at most
300 ms on SQLite and 600 ms on PostgreSQL, at most +150 MB.

    .venv/bin/pytest tests/bench/bench_scan.py -s
    ARCHIVE_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/scratch \\
        .venv/bin/pytest tests/bench/bench_scan.py -s

`BENCH_DOCS` (10000) and `BENCH_SCAN_TEXTS` (20) change the corpus and the number of texts;
`BENCH_DIR` keeps the corpus there and reuses it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.archive.servers import cli, running_server

DOCS = int(os.environ.get("BENCH_DOCS", "10000"))
TEXTS = int(os.environ.get("BENCH_SCAN_TEXTS", "20"))
WORDS = 2000
NEAR = 10  # characters: a match this close to a planted copy's start finds it

# New prose, in the register of a teacher's handout: it names the same people and events as
# the corpus, but in sentences of its own.
PROSE = [
    "Before reading the sources, each group wrote down what it already believed about the "
    "year nineteen fifty six.",
    "Most pupils expected a single dramatic night, not months of committee meetings.",
    "Our worksheet asks who wanted the report read aloud and who preferred silence.",
    "A map of the hall helps students picture where the delegates sat.",
    "Several students noticed that the translations disagree about small words.",
    "We compared the dates given by two historians and marked the difference in red.",
    "The textbook devotes barely a page to these events, so we add the documents.",
    "One student asked why a leader would criticise the system he had served for decades.",
    "Another pointed out that fear shaped every decision taken in those weeks.",
    "Ask the class to underline every sentence that sounds like a direct quotation.",
    "Then ask whether the writer tells us where each quotation comes from.",
    "Good historians show their evidence; careless ones paraphrase without saying so.",
    "The exercise takes about forty minutes with a class of thirty.",
    "Pupils who finish early can compare the Hungarian reaction with the Polish one.",
    "Remind everyone that memoirs were written long after the meetings they describe.",
    "Khrushchev's own recollections are vivid but not always reliable.",
    "Stalin's reputation did not collapse overnight, whatever the headlines suggested.",
    "In the discussion, keep returning to the question of who knew what, and when.",
    "A short glossary at the end explains terms such as plenum, presidium and purge.",
    "The final task is a paragraph arguing whether the speech was truly secret.",
    "Students often confuse the congress with the later plenum in June.",
    "Encourage them to quote accurately and to mark every omission with an ellipsis.",
    "Photocopies of the sources are in the folder on the teacher's desk.",
    "Next week we turn to the thaw in literature and the cinema of the period.",
]


def load_make_corpus(shared_dir: Path) -> ModuleType:
    path = shared_dir / "bench" / "make_corpus.py"
    if not path.is_file():
        pytest.skip(f"{path} is missing: the benchmark corpus generator ships in shared/bench")
    spec = importlib.util.spec_from_file_location("make_corpus", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compose(make_corpus: ModuleType, seed: int) -> tuple[str, list[tuple[int, int, int]]]:
    """A text of about WORDS words quoting the ten planted passages, each damaged afresh, and
    where each quotation is: (start, end, index in PLANTED)."""
    rng = random.Random(seed)
    quotes = [(k, make_corpus.damage(p, rng)) for k, p in enumerate(make_corpus.PLANTED)]
    prose_words = WORDS - sum(len(q.split()) for _, q in quotes)
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < prose_words:
        sentences.append(rng.choice(PROSE))
    slots = sorted(rng.sample(range(1, len(sentences)), len(quotes)))
    rng.shuffle(quotes)
    parts: list[str] = []
    places: list[tuple[int, int, int]] = []
    at = 0
    for n, sentence in enumerate(sentences):
        if slots and n == slots[0]:
            slots.pop(0)
            k, quote = quotes.pop()
            lead = rng.choice(["As one source has it, ", "We read: ", "A witness wrote that "])
            start = at + len(lead)
            parts.append(f"{lead}{quote}")
            places.append((start, start + len(quote), k))
            at += len(parts[-1]) + 1
        parts.append(sentence)
        at += len(sentence) + 1
    return " ".join(parts), places


def _kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def check(
    answer: dict[str, Any], places: list[tuple[int, int, int]], truth: list[dict[str, Any]]
) -> tuple[int, int, list[str]]:
    """(passages found at all their sources, passages reported that quote nothing planted,
    what was missed)."""
    found, missed = 0, []
    passages = answer["passages"]
    used = set()
    for start, end, k in places:
        hit = [n for n, p in enumerate(passages) if p["start"] < end and start < p["end"]]
        used.update(hit)
        sources = truth[k]["occurrences"]
        matches = [m for n in hit for m in passages[n]["matches"]]
        ok = all(
            any(
                m["document_id"] == o["document_id"] and abs(m["start"] - o["start"]) <= NEAR
                for m in matches
            )
            for o in sources
        )
        found += ok
        if not ok:
            missed.append(f"passage {k} ({len(hit)} passage(s), {len(matches)} matches)")
    return found, len(passages) - len(used), missed


def test_scanning_a_text_at_scale(
    fresh_database: str, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    engine = make_url(fresh_database).get_backend_name()
    kept = os.environ.get("BENCH_DIR")
    where = Path(kept) if kept else tmp_path_factory.mktemp("bench-scan")
    make_corpus = load_make_corpus(shared_dir)
    corpus, truth_file = where / f"scan-corpus-{DOCS}.ndjson", where / f"scan-truth-{DOCS}.json"
    if not (corpus.is_file() and truth_file.is_file()):
        subprocess.run(
            [sys.executable, str(shared_dir / "bench" / "make_corpus.py"), "--docs", str(DOCS)]
            + ["--out", str(corpus), "--truth", str(truth_file)],
            check=True,
        )
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    started = time.perf_counter()
    cli(fresh_database, "import", str(corpus), timeout=3600)
    print(
        f"\n{engine}: `archive import` of {DOCS:,} documents took "
        f"{time.perf_counter() - started:.0f} s"
    )
    texts = [compose(make_corpus, seed) for seed in range(TEXTS)]
    times: list[float] = []
    found = extra = 0
    missed: list[str] = []
    with running_server(fresh_database, startup_timeout=600) as server:
        pid = server.process.pid
        with httpx.Client(base_url=server.base, timeout=120) as client:
            client.post("/v1/quotes/scan", json={"text": texts[0][0]}).raise_for_status()
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            before = _kib(pid, "VmRSS")
            for body, places in texts:
                t0 = time.perf_counter()
                response = client.post("/v1/quotes/scan", json={"text": body})
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, response.text
                got, others, lost = check(response.json(), places, truth)
                found += got
                extra += others
                missed += lost
            growth = (_kib(pid, "VmHWM") - before) / 1024
    times.sort()
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    target = 300 if engine == "sqlite" else 600
    print(
        f"{engine}, {DOCS:,} documents, {TEXTS} texts of ~{WORDS:,} words quoting 10 planted "
        f"passages each: found at all their sources {found}/{10 * TEXTS}; other passages "
        f"reported {extra}; p50 {p50:.0f} ms (target <= {target}), p99 {p99:.0f} ms; peak "
        f"memory growth +{growth:.0f} MB (target <= 150)"
    )
    if missed:
        print("  missed: " + "; ".join(missed[:20]))
    assert found == 10 * TEXTS, missed[:10]
    assert extra == 0
