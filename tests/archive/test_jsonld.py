"""Linked data: spans as W3C Web Annotations (checked against the W3C test suite's schemas) and
claim provenance as PROV-O JSON-LD (expanded offline with pyld)."""

from __future__ import annotations

import copy
import json
import os
import re
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft4Validator, FormatChecker
from pyld import jsonld as pyld
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from archive import jsonld
from archive.errors import InvalidInput

BASE_URL = "https://archive.test"
PROV = "http://www.w3.org/ns/prov#"
ARC = jsonld.VOCABULARY


def shared_dir() -> Path:
    return Path(
        os.environ.get("ARCHIVE_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared"
    )


W3C = shared_dir() / "external" / "w3c-annotation"


# --- the W3C Web Annotation test suite, offline -----------------------------------------------

# Every schema gets an absolute id under this base, at its path in the suite. The schemas refer
# to the definitions by bare file name ("bodyTarget.json#/..."), relative to their own folder,
# so the definitions are registered beside every folder that holds assertions.
SUITE = "https://web-annotation-tests.example/"

_formats = FormatChecker(formats=())


@_formats.checks("uri")
def _is_uri(value: object) -> bool:
    """RFC 3986 absolute URI: a scheme, then no whitespace (jsonschema skips "uri" without an
    optional package, which would make every id and source pass)."""
    return not isinstance(value, str) or bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S*", value))


@_formats.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value)
    )


@pytest.fixture(scope="module")
def musts() -> dict[str, Draft4Validator]:
    """One validator per schema listed in annotations/annotationMusts.test."""
    if not W3C.is_dir():
        pytest.skip(f"W3C Web Annotation test suite not found at {W3C}")
    listed = json.loads((W3C / "annotations" / "annotationMusts.test").read_text())["assertions"]

    def resource(path: Path, uri: str) -> tuple[str, Resource]:
        contents = json.loads(path.read_text())
        contents["id"] = uri
        return uri, Resource.from_contents(contents, default_specification=DRAFT4)

    folders = {str(Path(assertion).parent) for assertion in listed}
    resources = [resource(W3C / assertion, SUITE + assertion) for assertion in listed]
    for definition in sorted((W3C / "definitions").glob("*.json")):
        for folder in sorted(folders):
            resources.append(resource(definition, f"{SUITE}{folder}/{definition.name}"))
    registry = Registry().with_resources(resources).crawl()
    # Validate through a $ref: in draft 4 a schema whose root is a "$ref" ignores its own "id",
    # and 3.1-annotationIdValidated.json is one; registered by path, it resolves from there.
    return {
        assertion: Draft4Validator(
            {"$ref": SUITE + assertion}, registry=registry, format_checker=_formats
        )
        for assertion in listed
    }


def failed_musts(musts: dict[str, Draft4Validator], annotation: Any) -> list[str]:
    return [name for name, validator in musts.items() if not validator.is_valid(annotation)]


def w3c_samples(folder: str) -> list[Path]:
    if not W3C.is_dir():
        return []
    return sorted((W3C / folder).glob("anno*.json"), key=lambda p: (len(p.name), p.name))


# Composite/List/Independents targets, removed by the final Recommendation (SOURCES.md).
WITHDRAWN = {"anno11.json", "anno12.json", "anno13.json"}


def test_every_must_schema_is_checked(musts: dict[str, Draft4Validator]) -> None:
    listed = json.loads((W3C / "annotations" / "annotationMusts.test").read_text())["assertions"]
    assert sorted(musts) == sorted(listed) and len(listed) == 54


@pytest.mark.parametrize("sample", w3c_samples("tools/samples/correct"), ids=lambda p: p.name)
def test_harness_accepts_the_suites_correct_samples(
    musts: dict[str, Draft4Validator], sample: Path
) -> None:
    failed = failed_musts(musts, json.loads(sample.read_text()))
    if sample.name in WITHDRAWN:
        assert failed == ["annotations/3.2-targetObjectsRecognized.json"]
    else:
        assert failed == []


def _json_samples(folder: str) -> list[Path]:
    samples = []
    for path in w3c_samples(folder):
        try:
            json.loads(path.read_text())
        except ValueError:
            continue  # some incorrect samples are not even JSON
        samples.append(path)
    return samples


@pytest.mark.parametrize("sample", _json_samples("tools/samples/incorrect"), ids=lambda p: p.name)
def test_harness_rejects_the_suites_incorrect_samples(
    musts: dict[str, Draft4Validator], sample: Path
) -> None:
    assert failed_musts(musts, json.loads(sample.read_text()))


# --- span annotations -------------------------------------------------------------------------

DOCUMENT = {"id": "khrushchev-wikipedia", "title": "Khrushchev's Secret Speech"}
QUOTE = {
    "id": "s-mikoyan-speech",
    "document_id": "khrushchev-wikipedia",
    "start": 1204,
    "end": 1268,
    "exact": "the speech should be given to the Congress in a closed session",
    "prefix": "Mikoyan insisted that ",
    "suffix": ", and Khrushchev agreed",
    "kind": "quote",
    "speaker": "Anastas Mikoyan",
    "quoted_from": "s-pospelov-report",
    "note": "Mikoyan's account, quoted by Taubman",
    "tags": ["secret-speech", "20th-congress"],
    "citation_ids": ["cit-9"],
    "anchor_status": "exact",
    "created_by": "history-teacher",
    "created_at": datetime.fromisoformat("2024-05-01T12:30:00+02:00"),
}
PASSAGE = {
    "id": "s-cult",
    "document_id": "khrushchev-wikipedia",
    "start": 0,
    "end": 27,
    "exact": "the cult of the individual",
    "prefix": "",
    "suffix": "",
    "kind": "passage",
    "speaker": None,
    "quoted_from": None,
    "note": None,
    "tags": [],
    "citation_ids": [],
    "anchor_status": "moved",
    "created_by": None,
    "created_at": "2024-05-01T10:00:00Z",
}
NOTE = {**PASSAGE, "id": "s-note", "kind": "note", "note": "Compare the Russian text."}
ORPHAN = {**PASSAGE, "id": "s-orphan", "anchor_status": "orphaned", "tags": ["lost"]}
SPANS = [QUOTE, PASSAGE, NOTE, ORPHAN]


@pytest.mark.parametrize("span", SPANS, ids=lambda span: span["id"])
def test_span_annotations_pass_every_must(musts: dict[str, Draft4Validator], span: dict) -> None:
    annotation = jsonld.span_annotation(span, DOCUMENT, BASE_URL)
    assert failed_musts(musts, annotation) == []


def _broken(mutate: Any) -> dict:
    annotation = jsonld.span_annotation(QUOTE, DOCUMENT, BASE_URL)
    mutate(annotation)
    return annotation


@pytest.mark.parametrize(
    ("annotation", "failing"),
    [
        (_broken(lambda a: a.pop("target")), "3.1-targetKeyFound.json"),
        (
            _broken(lambda a: a.update({"@context": "http://schema.org/"})),
            "3.1-annotationContextValidated.json",
        ),
        (_broken(lambda a: a.update({"type": "Note"})), "3.1-annotationTypeValidated.json"),
        (_broken(lambda a: a.update({"id": "spans/1"})), "3.1-annotationIdValidated.json"),
        (_broken(lambda a: a.update({"bodyValue": "Mikoyan"})), "3.2.5-notBodyBodyValue.json"),
        (
            _broken(lambda a: a.update({"created": "1 May 2024"})),
            "3.3.1-annotationCreatedValidated.json",
        ),
        (
            _broken(lambda a: a["target"]["selector"][0].pop("exact")),
            "4.2.4-textQuoteSelectorValid.json",
        ),
        (
            _broken(lambda a: a["target"]["selector"][1].update({"start": "1204"})),
            "4.2-TextDataPositionSelectorValid.json",
        ),
    ],
    ids=[
        "no-target",
        "wrong-context",
        "wrong-type",
        "relative-id",
        "body-and-bodyValue",
        "bad-created",
        "quote-without-exact",
        "start-not-integer",
    ],
)
def test_harness_rejects_broken_annotations(
    musts: dict[str, Draft4Validator], annotation: dict, failing: str
) -> None:
    assert failing in [Path(name).name for name in failed_musts(musts, annotation)]


def test_quote_annotation_content() -> None:
    annotation = jsonld.span_annotation(QUOTE, DOCUMENT, BASE_URL + "/")
    assert annotation["@context"] == "http://www.w3.org/ns/anno.jsonld"
    assert annotation["id"] == "https://archive.test/v1/spans/s-mikoyan-speech"
    assert annotation["type"] == "Annotation"
    assert annotation["motivation"] == "identifying"
    assert annotation["created"] == "2024-05-01T10:30:00Z"
    assert annotation["creator"]["name"] == "history-teacher"
    assert annotation["target"] == {
        "type": "SpecificResource",
        "source": "https://archive.test/v1/documents/khrushchev-wikipedia",
        "selector": [
            {
                "type": "TextQuoteSelector",
                "exact": QUOTE["exact"],
                "prefix": QUOTE["prefix"],
                "suffix": QUOTE["suffix"],
            },
            {"type": "TextPositionSelector", "start": 1204, "end": 1268},
        ],
    }
    bodies = {
        (body.get("purpose"), body.get("value") or body.get("source"))
        for body in annotation["body"]
    }
    assert bodies == {
        ("identifying", "Anastas Mikoyan"),
        ("commenting", "Mikoyan's account, quoted by Taubman"),
        ("tagging", "secret-speech"),
        ("tagging", "20th-congress"),
        ("linking", "https://archive.test/v1/spans/s-pospelov-report"),
        ("linking", "https://archive.test/v1/citations/cit-9"),
    }


def test_motivation_follows_the_kind_and_bodies_are_left_out_when_empty() -> None:
    passage = jsonld.span_annotation(PASSAGE, DOCUMENT, BASE_URL)
    assert passage["motivation"] == "highlighting"
    assert "body" not in passage and "creator" not in passage
    assert passage["target"]["selector"][0] == {
        "type": "TextQuoteSelector",
        "exact": "the cult of the individual",
    }
    note = jsonld.span_annotation(NOTE, DOCUMENT, BASE_URL)
    assert note["motivation"] == "commenting"
    assert note["body"]["value"] == "Compare the Russian text."


def test_orphaned_span_keeps_only_its_quote() -> None:
    annotation = jsonld.span_annotation(ORPHAN, DOCUMENT, BASE_URL)
    assert [s["type"] for s in annotation["target"]["selector"]] == ["TextQuoteSelector"]


def test_span_of_another_document_is_refused() -> None:
    with pytest.raises(InvalidInput, match="belongs to document"):
        jsonld.span_annotation(QUOTE, {"id": "figes-secret-speech"}, BASE_URL)
    with pytest.raises(InvalidInput, match="exact"):
        jsonld.span_annotation({k: v for k, v in QUOTE.items() if k != "exact"}, DOCUMENT, BASE_URL)
    with pytest.raises(InvalidInput, match="base URL"):
        jsonld.span_annotation(QUOTE, DOCUMENT, "archive.test")


# --- offline expansion ------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any attempt to resolve or connect; the list records the attempts."""
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(repr(args[:2]))
        raise OSError("network access attempted during a test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield attempts
    assert attempts == []


def test_network_guard_is_real(no_network: list[str]) -> None:
    """pyld's own loader, used without ours, does try the network, and the guard sees it."""
    with pytest.raises(pyld.JsonLdError):
        pyld.expand({"@context": "https://w3id.org/some/context.jsonld", "name": "x"})
    assert no_network
    no_network.clear()


def test_annotation_expands_offline(no_network: list[str]) -> None:
    (node,) = jsonld.expand(jsonld.span_annotation(QUOTE, DOCUMENT, BASE_URL))
    oa = "http://www.w3.org/ns/oa#"
    assert node["@type"] == [oa + "Annotation"]
    target = node[oa + "hasTarget"][0]
    assert target[oa + "hasSource"] == [
        {"@id": "https://archive.test/v1/documents/khrushchev-wikipedia"}
    ]
    selectors = {s["@type"][0]: s for s in target[oa + "hasSelector"]}
    assert selectors[oa + "TextPositionSelector"][oa + "start"][0]["@value"] == 1204


def test_unknown_context_is_refused_without_a_fetch(no_network: list[str]) -> None:
    with pytest.raises(InvalidInput, match="not shipped") as raised:
        jsonld.expand({"@context": "https://w3id.org/unknown/context.jsonld", "name": "x"})
    assert "https://w3id.org/unknown/context.jsonld" in raised.value.detail


def test_shipped_annotation_context_is_the_w3c_file() -> None:
    original = W3C / "examples" / "jsonld" / "anno.jsonld"
    if not original.is_file():
        pytest.skip(f"{original} not found")
    assert (jsonld.CONTEXTS_DIR / "anno.jsonld").read_bytes() == original.read_bytes()


# --- provenance -------------------------------------------------------------------------------

PROVENANCE = {
    "claim": {
        "id": "mikoyan-urged-speech",
        "statement": "Mikoyan urged Khrushchev to denounce Stalin at the 20th Congress.",
        "tags": ["secret-speech"],
        "status": "contested",
        "evidence_counts": {"supports": 2, "contradicts": 1, "qualifies": 0},
        "created_by": "history-teacher",
        "created_at": "2024-05-01T09:00:00Z",
    },
    "status": "contested",
    "evidence": [
        {
            "id": "ev-1",
            "stance": "supports",
            "note": "Taubman, citing Mikoyan's memoir",
            "recorded_by": "history-teacher",
            "recorded_at": "2024-05-01T09:05:00Z",
            "span": {
                "id": "s-mikoyan-speech",
                "exact": "the speech should be given to the Congress in a closed session",
                "start": 1204,
                "end": 1268,
                "prefix": "Mikoyan insisted that ",
                "suffix": ", and Khrushchev agreed",
                "speaker": "Anastas Mikoyan",
                "quoted_from": "s-pospelov-report",
            },
            "document": {
                "id": "khrushchev-wikipedia",
                "title": "Khrushchev's Secret Speech",
                "creators": [{"name": "Wikipedia contributors", "role": "author"}],
                "published": "2024-03",
                "publisher": "Wikipedia",
                "source_url": "https://en.wikipedia.org/wiki/On_the_Cult_of_Personality_and_Its_Consequences",
            },
            "citations": [
                {
                    "id": "cit-9",
                    "label": "9",
                    "raw": "Taubman, William (2003), Khrushchev: The Man and His Era, "
                    "W.W. Norton & Co., p 273",
                    "csl": {"id": "cit-9", "type": "book"},
                    "text": "Taubman, William. Khrushchev: The Man and His Era. W.W. Norton "
                    "& Co., 2003. p. 273.",
                }
            ],
        },
        {
            "id": "ev-2",
            "stance": "supports",
            "note": None,
            "recorded_by": "archivist",
            "recorded_at": datetime.fromisoformat("2024-05-02T08:00:00"),
            "span": {
                "id": "s-mn-report",
                "exact": "Mikoyan proposed",
                "start": 10,
                "end": 26,
                "prefix": "",
                "suffix": "",
                "speaker": None,
            },
            "document": {
                "id": "moscow-news-1996",
                "title": "Why Khrushchev spoke",
                "creators": [{"name": "Moscow News staff", "role": "editor"}],
                "published": "1996",
                "publisher": "Moskovskiye Novosti",
                "source_url": None,
            },
            "citations": [],
        },
        {
            "id": "ev-3",
            "stance": "contradicts",
            "note": "Figes credits the Pospelov commission",
            "recorded_by": "archivist",
            "recorded_at": "2024-05-03T08:00:00Z",
            "span": {
                "id": "s-figes-pospelov",
                "exact": "the Pospelov commission",
                "start": 5,
                "end": 28,
                "prefix": "",
                "suffix": "",
                "speaker": None,
            },
            "document": {
                "id": "figes-secret-speech",
                "title": "The Secret Speech",
                "creators": [{"name": "Orlando Figes", "role": "author"}],
                "published": "2014",
                "publisher": "orlandofiges.info",
                "source_url": None,
            },
            "citations": [],
        },
    ],
    "documents": 3,
    "conflicts": [["ev-1", "ev-3"], ["ev-2", "ev-3"]],
}


def _iri(kind: str, ident: str) -> str:
    return f"{BASE_URL}/v1/{kind}/{ident}"


@pytest.fixture
def triples(no_network: list[str]) -> set[tuple[str, str, str]]:
    expanded = jsonld.expand(jsonld.provenance_jsonld(copy.deepcopy(PROVENANCE), BASE_URL))
    dataset = pyld.to_rdf(expanded)
    return {
        (t["subject"]["value"], t["predicate"]["value"], t["object"]["value"])
        for t in dataset["@default"]
    }


def test_claim_derives_from_its_evidence_spans(triples: set) -> None:
    claim = _iri("claims", "mikoyan-urged-speech")
    for span in ("s-mikoyan-speech", "s-mn-report", "s-figes-pospelov"):
        assert (claim, PROV + "wasDerivedFrom", _iri("spans", span)) in triples
    assert (claim, PROV + "wasAttributedTo", _iri("agents", "history-teacher")) in triples


def test_stance_is_the_role_of_a_qualified_derivation(triples: set) -> None:
    claim = _iri("claims", "mikoyan-urged-speech")
    evidence = f"{claim}/evidence/ev-3"
    assert (claim, PROV + "qualifiedDerivation", evidence) in triples
    assert (evidence, PROV + "entity", _iri("spans", "s-figes-pospelov")) in triples
    assert (evidence, PROV + "hadRole", ARC + "contradicts") in triples
    assert (f"{claim}/evidence/ev-1", PROV + "hadRole", ARC + "supports") in triples
    assert (evidence, ARC + "conflictsWith", f"{claim}/evidence/ev-1") in triples


def test_spans_were_quoted_from_documents_and_their_sources(triples: set) -> None:
    span = _iri("spans", "s-mikoyan-speech")
    assert (span, PROV + "wasQuotedFrom", _iri("documents", "khrushchev-wikipedia")) in triples
    assert (span, PROV + "wasQuotedFrom", _iri("spans", "s-pospelov-report")) in triples
    assert (
        _iri("spans", "s-figes-pospelov"),
        PROV + "wasQuotedFrom",
        _iri("documents", "figes-secret-speech"),
    ) in triples
    assert (span, ARC + "citation", _iri("citations", "cit-9")) in triples


def test_records_are_attributed_to_the_key_that_made_them(triples: set) -> None:
    evidence = _iri("claims", "mikoyan-urged-speech") + "/evidence/ev-2"
    assert (evidence, PROV + "wasAttributedTo", _iri("agents", "archivist")) in triples
    assert (evidence, PROV + "generatedAtTime", "2024-05-02T08:00:00Z") in triples
    assert (_iri("agents", "archivist"), "http://xmlns.com/foaf/0.1/name", "archivist") in triples


def test_documents_carry_dublin_core(triples: set) -> None:
    dcterms = "http://purl.org/dc/terms/"
    document = _iri("documents", "figes-secret-speech")
    assert (document, dcterms + "title", "The Secret Speech") in triples
    assert (document, dcterms + "issued", "2014") in triples
    assert (document, dcterms + "publisher", "orlandofiges.info") in triples
    assert any(s == document and p == dcterms + "creator" for s, p, _ in triples)


def test_provenance_dates_are_typed(no_network: list[str]) -> None:
    dataset = pyld.to_rdf(jsonld.expand(jsonld.provenance_jsonld(PROVENANCE, BASE_URL)))
    types = {
        t["object"]["value"]: t["object"].get("datatype")
        for t in dataset["@default"]
        if t["object"]["type"] == "literal"
    }
    xsd = "http://www.w3.org/2001/XMLSchema#"
    assert types["2014"] == xsd + "gYear"
    assert types["2024-03"] == xsd + "gYearMonth"
    assert types["2024-05-01T09:00:00Z"] == xsd + "dateTime"


def test_provenance_is_readable_as_plain_json() -> None:
    answer = jsonld.provenance_jsonld(PROVENANCE, BASE_URL)
    assert (
        answer["@context"]
        == json.loads((jsonld.CONTEXTS_DIR / "provenance.jsonld").read_text())["@context"]
    )
    nodes = {node["id"]: node for node in answer["@graph"]}
    assert len(nodes) == len(answer["@graph"])  # each node once
    claim = nodes[_iri("claims", "mikoyan-urged-speech")]
    assert claim["status"] == "contested"
    assert claim["wasDerivedFrom"] == [
        _iri("spans", "s-mikoyan-speech"),
        _iri("spans", "s-mn-report"),
        _iri("spans", "s-figes-pospelov"),
    ]
    # every IRI the graph points at is an absolute URL of this server or of the source
    for node in answer["@graph"]:
        assert urlsplit(node["id"]).netloc == "archive.test"


def test_invalid_provenance_is_refused() -> None:
    broken = copy.deepcopy(PROVENANCE)
    broken["evidence"][0]["stance"] = "proves"
    with pytest.raises(InvalidInput, match="stance"):
        jsonld.provenance_jsonld(broken, BASE_URL)
    with pytest.raises(InvalidInput, match="claim"):
        jsonld.provenance_jsonld({"evidence": []}, BASE_URL)
