"""The curated annotations of the bundled corpus, checked as data (no database, no app).

`archive/corpus/annotations.ndjson` holds citations, spans (by exact text, with prefix/suffix
only where the text repeats), claims and evidence for the five seed texts. These tests prove
the file consistent with the texts byte for byte, every reference resolvable, every CSL item
valid against the CSL-JSON schema, and the curation rules kept: the eighteen claims of
CORPUS.md present and in order, claim 1 contested by Siegelbaum's "February 24", every quote
attributed or explained.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.shared import shared_file

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "archive" / "corpus"
ANNOTATIONS = CORPUS / "annotations.ndjson"
CSL_SCHEMA = shared_file("external/csl/schemas/input/csl-data.json")

TYPES = ("citation", "span", "claim", "evidence")
ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
SPAN_KINDS = {"quote", "passage", "note"}
STANCES = {"supports", "contradicts", "qualifies"}
CITATION_STATUSES = {"ok", "broken", "empty", "ibid"}

# The eighteen claims CORPUS.md requires, in its order.
REQUIRED_CLAIMS = [
    "speech-date-25-february",
    "closed-session-no-discussion",
    "delivered-to-1430-delegates",
    "speech-26000-words",
    "nyt-full-text-5-june-1956",
    "text-via-poland-israeli-intelligence",
    "pospelov-findings-led-to-speech",
    "molotov-voroshilov-kaganovich-opposed",
    "blame-shifted-onto-stalin",
    "secret-from-press-read-to-members",
    "encouraged-hungarian-uprising",
    "cpusa-lost-30000-members",
    "amnesty-27-march-1953",
    "kirov-murder-blamed-on-stalin",
    "speech-put-off-until-after-elections",
    "archives-purged-on-khrushchev-orders",
    "june-1957-ouster-failed",
    "silent-on-collectivization-famine",
]


# --- loading ------------------------------------------------------------------------------


@cache
def texts() -> dict[str, str]:
    entries = json.loads((CORPUS / "documents.json").read_text(encoding="utf-8"))
    return {e["id"]: (CORPUS / "seeds" / e["file"]).read_bytes().decode("utf-8") for e in entries}


@cache
def records() -> tuple[dict[str, Any], ...]:
    out = []
    for number, line in enumerate(ANNOTATIONS.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"line {number} is blank"
        record = json.loads(line)
        assert isinstance(record, dict), f"line {number} is not a JSON object"
        record["_line"] = number
        out.append(record)
    return tuple(out)


def of_type(kind: str) -> list[dict[str, Any]]:
    return [r for r in records() if r["type"] == kind]


def by_id(kind: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in of_type(kind)}


def locate(span: dict[str, Any]) -> tuple[int, int]:
    text = texts()[span["document_id"]]
    prefix, suffix = span.get("prefix") or "", span.get("suffix") or ""
    needle = prefix + span["exact"] + suffix
    start = text.index(needle) + len(prefix)
    return start, start + len(span["exact"])


def status_of(claim_id: str) -> str:
    """The claim status as the contract derives it from the evidence."""
    spans = by_id("span")
    stances = [e["stance"] for e in of_type("evidence") if e["claim_id"] == claim_id]
    supporting_docs = {
        spans[e["span_id"]]["document_id"]
        for e in of_type("evidence")
        if e["claim_id"] == claim_id and e["stance"] == "supports"
    }
    if "contradicts" in stances:
        return "contested"
    if len(supporting_docs) >= 2:
        return "corroborated"
    return "single-source" if supporting_docs else "unsupported"


# --- the file as a whole --------------------------------------------------------------------


def test_file_is_utf8_ndjson_with_known_types_in_order() -> None:
    raw = ANNOTATIONS.read_bytes()
    raw.decode("utf-8")  # raises on invalid UTF-8
    assert raw.endswith(b"\n") and b"\r" not in raw
    ranks = []
    for r in records():
        assert r.get("type") in TYPES, f"line {r['_line']}: unknown type {r.get('type')!r}"
        ranks.append(TYPES.index(r["type"]))
    assert ranks == sorted(ranks), "records must come as citations, spans, claims, evidence"
    assert set(ranks) == set(range(len(TYPES))), "every type must be present"


def test_ids_are_unique_and_url_safe() -> None:
    seen: Counter[str] = Counter(r.get("id") for r in records())
    assert not [i for i, n in seen.items() if n > 1], "duplicate ids"
    bad = [
        r["id"] for r in records() if not (isinstance(r.get("id"), str) and ID.fullmatch(r["id"]))
    ]
    assert not bad, f"ids not matching {ID.pattern}: {bad}"


def test_documents_are_known() -> None:
    for r in records():
        if r["type"] in ("citation", "span"):
            assert r["document_id"] in texts(), f"line {r['_line']}: {r['document_id']!r}"


# --- spans -------------------------------------------------------------------------------------


def test_every_span_occurs_exactly_once_in_its_text() -> None:
    problems = []
    for s in of_type("span"):
        text = texts()[s["document_id"]]
        assert isinstance(s["exact"], str) and s["exact"], f"{s['id']}: empty exact"
        prefix, suffix = s.get("prefix") or "", s.get("suffix") or ""
        count = text.count(prefix + s["exact"] + suffix)
        if count != 1:
            problems.append(f"{s['id']}: found {count} times")
        if (prefix or suffix) and text.count(s["exact"]) == 1:
            problems.append(f"{s['id']}: prefix/suffix given though exact is unique")
        if not (prefix or suffix) and text.count(s["exact"]) > 1:
            problems.append(f"{s['id']}: exact repeats; needs prefix or suffix")
    assert not problems, "\n".join(problems)


def test_span_offsets_reproduce_exact() -> None:
    for s in of_type("span"):
        start, end = locate(s)
        assert texts()[s["document_id"]][start:end] == s["exact"]
        assert "start" not in s and "end" not in s, f"{s['id']}: offsets are computed, not typed"


def test_span_fields() -> None:
    for s in of_type("span"):
        assert s["kind"] in SPAN_KINDS, s["id"]
        assert s["speaker"] is None or (isinstance(s["speaker"], str) and s["speaker"].strip())
        assert s["note"] is None or isinstance(s["note"], str)
        assert isinstance(s["tags"], list) and all(isinstance(t, str) for t in s["tags"])
        assert isinstance(s["citation_ids"], list)
        if s["kind"] != "quote":
            assert s["speaker"] is None, f"{s['id']}: only quotes have speakers"


def test_every_quote_has_a_speaker_or_a_note_why_not() -> None:
    missing = [
        s["id"]
        for s in of_type("span")
        if s["kind"] == "quote" and not s["speaker"] and not (s["note"] or "").strip()
    ]
    assert not missing, f"quotes with neither speaker nor note: {missing}"


def test_notes_name_documents_not_internal_file_numbers() -> None:
    """A reader sees these notes through the API: "Siegelbaum (001)" or "CORPUS.md" mean
    nothing there; the notes name the documents by author or title instead."""
    internal = re.compile(r"(?<![\d,.])00[0-4]\b|CORPUS\.md|seeds/")
    leaking = [
        (record["id"], field)
        for kind in TYPES
        for record in of_type(kind)
        for field in ("note", "statement")
        if internal.search(record.get(field) or "")
    ]
    assert not leaking, f"notes that speak of internal files: {leaking}"


def test_quoted_from_resolves_within_the_archive() -> None:
    spans = by_id("span")
    for s in spans.values():
        source = s["quoted_from"]
        if source is None:
            continue
        assert source in spans, f"{s['id']}: quoted_from {source!r} is no span"
        assert source != s["id"], f"{s['id']} quotes itself"
        assert spans[source]["kind"] == "quote", f"{s['id']}: quoted_from must name a quote"
    # no chains that loop back
    for s in spans.values():
        seen, current = set(), s["id"]
        while current is not None:
            assert current not in seen, f"quoted_from cycle through {s['id']}"
            seen.add(current)
            current = spans[current]["quoted_from"]


def test_citation_ids_resolve_to_citations_of_the_same_document() -> None:
    citations = by_id("citation")
    for s in of_type("span"):
        for cid in s["citation_ids"]:
            assert cid in citations, f"{s['id']}: no citation {cid!r}"
            assert citations[cid]["document_id"] == s["document_id"], f"{s['id']} -> {cid}"


# --- citations ------------------------------------------------------------------------------


def test_citation_raw_is_printed_in_its_text() -> None:
    for c in of_type("citation"):
        assert isinstance(c["raw"], str)
        if c["raw"]:
            assert c["raw"] in texts()[c["document_id"]], f"{c['id']}: raw not in the text"
        assert isinstance(c["label"], str) and c["label"], c["id"]


def test_citation_status_rules() -> None:
    for c in of_type("citation"):
        assert c["status"] in CITATION_STATUSES, c["id"]
        csl = c["csl"]
        assert csl["id"] == c["id"], f"{c['id']}: the CSL id is the citation id"
        if c["status"] == "empty":
            assert c["raw"] == "", f"{c['id']}: an empty note invents no text"
            assert set(csl) <= {"id", "type", "note"}, f"{c['id']}: empty note with data"
        if c["status"] == "broken":
            assert set(csl) - {"id", "type", "note", "author"} == set(), c["id"]
        if c["status"] == "ibid":
            assert c["raw"].startswith("Ibid"), c["id"]
            assert "Ibid" in csl.get("note", "") and "note" in csl["note"], c["id"]


def test_brief_notes_one_citation_per_number() -> None:
    """002's markers run 1..32 (20 and 21 appear twice); one citation per note number."""
    brief = [c for c in of_type("citation") if c["document_id"] == "secret-speech-brief"]
    labels = sorted(int(c["label"]) for c in brief if c["label"].isdigit())
    assert labels == list(range(1, 33))
    status = {int(c["label"]): c["status"] for c in brief if c["label"].isdigit()}
    assert status[9] == "ok" and status[10] == "ibid" and status[1] == "broken"
    assert status[2] == "empty" and status[32] == "empty"
    taubman = next(c for c in brief if c["label"] == "9")["csl"]
    assert taubman["author"][0]["family"] == "Taubman"
    assert taubman["issued"]["date-parts"][0][0] == 2003 and taubman["page"] == "273"
    tromly = next(c for c in brief if c["label"] == "16")["csl"]
    assert tromly["DOI"] == "10.1080/0966813041000235119"


def test_in_text_references_are_cited() -> None:
    labels = {(c["document_id"], c["label"]) for c in of_type("citation")}
    assert ("not-so-secret-speech", "Freeze, 418") in labels
    assert any(d == "fear-backstage" and "Moskovskiye Novosti" in label for d, label in labels)


@cache
def csl_validator():
    import jsonschema

    assert CSL_SCHEMA.is_file(), f"CSL-JSON schema not found at {CSL_SCHEMA} (ARCHIVE_SHARED_DIR)"
    schema = json.loads(CSL_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_every_csl_item_validates_against_the_csl_json_schema() -> None:
    validator = csl_validator()
    items = [c["csl"] for c in of_type("citation")]
    for c in of_type("citation"):
        errors = [e.message for e in validator.iter_errors([c["csl"]])]
        assert not errors, f"{c['id']}: {errors}"
    assert not list(validator.iter_errors(items))


# --- claims and evidence ----------------------------------------------------------------------


def test_claim_fields() -> None:
    for c in of_type("claim"):
        assert isinstance(c["statement"], str) and c["statement"].strip(), c["id"]
        assert isinstance(c["tags"], list) and all(isinstance(t, str) for t in c["tags"])
        assert c["note"] is None or isinstance(c["note"], str)


def test_the_eighteen_corpus_claims_come_first_in_order() -> None:
    ids = [c["id"] for c in of_type("claim")]
    assert ids[: len(REQUIRED_CLAIMS)] == REQUIRED_CLAIMS


def test_evidence_resolves() -> None:
    claims, spans = by_id("claim"), by_id("span")
    pairs: set[tuple[str, str]] = set()
    for e in of_type("evidence"):
        assert e["claim_id"] in claims, f"{e['id']}: no claim {e['claim_id']!r}"
        assert e["span_id"] in spans, f"{e['id']}: no span {e['span_id']!r}"
        assert e["stance"] in STANCES, e["id"]
        assert (e["claim_id"], e["span_id"]) not in pairs, f"{e['id']}: duplicate evidence"
        pairs.add((e["claim_id"], e["span_id"]))
        assert isinstance(e["note"], str) and e["note"].strip(), f"{e['id']}: explain the stance"


def test_every_claim_rests_on_supporting_evidence() -> None:
    unsupported = [c["id"] for c in of_type("claim") if status_of(c["id"]) == "unsupported"]
    assert not unsupported


def test_claim_1_is_contested_by_siegelbaums_february_24() -> None:
    spans = by_id("span")
    evidence = [e for e in of_type("evidence") if e["claim_id"] == REQUIRED_CLAIMS[0]]
    against = [spans[e["span_id"]] for e in evidence if e["stance"] == "contradicts"]
    assert any(
        s["document_id"] == "siegelbaum-secret-speech" and "February 24" in s["exact"]
        for s in against
    )
    supporting = {spans[e["span_id"]]["document_id"] for e in evidence if e["stance"] == "supports"}
    assert {"figes-secret-speech", "secret-speech-brief", "fear-backstage"} <= supporting
    assert status_of(REQUIRED_CLAIMS[0]) == "contested"


@pytest.mark.parametrize(
    ("claim_id", "document_id", "stance"),
    [
        ("text-via-poland-israeli-intelligence", "secret-speech-brief", "supports"),
        ("text-via-poland-israeli-intelligence", "siegelbaum-secret-speech", "qualifies"),
        ("molotov-voroshilov-kaganovich-opposed", "fear-backstage", "supports"),
        ("molotov-voroshilov-kaganovich-opposed", "figes-secret-speech", "qualifies"),
        ("nyt-full-text-5-june-1956", "secret-speech-brief", "supports"),
        ("nyt-full-text-5-june-1956", "figes-secret-speech", "qualifies"),
        ("nyt-full-text-5-june-1956", "not-so-secret-speech", "qualifies"),
        ("delivered-to-1430-delegates", "figes-secret-speech", "supports"),
        ("speech-26000-words", "not-so-secret-speech", "supports"),
    ],
)
def test_curated_stances(claim_id: str, document_id: str, stance: str) -> None:
    spans = by_id("span")
    found = {
        e["stance"]
        for e in of_type("evidence")
        if e["claim_id"] == claim_id and spans[e["span_id"]]["document_id"] == document_id
    }
    assert stance in found


def test_quote_spans_attribute_the_named_speakers() -> None:
    speakers = defaultdict(int)
    for s in of_type("span"):
        if s["kind"] == "quote" and s["speaker"]:
            speakers[s["speaker"]] += 1
    for name in (
        "Nikita Khrushchev",
        "Joseph Stalin",
        "Anastas Mikoyan",
        "Vyacheslav Molotov",
        "Lazar Kaganovich",
        "Georgy Malenkov",
        "Averky Aristov",
        "Dmitry Shepilov",
        "Sergei Mezentsev",
    ):
        assert speakers[name], f"no quote attributed to {name}"
