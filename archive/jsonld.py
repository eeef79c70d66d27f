"""Linked-data views of spans and provenance: W3C Web Annotation and W3C PROV-O, as JSON-LD.

Works on plain dicts shaped as CONTRACT.md describes (a Span; the provenance answer of
`GET /v1/claims/{id}/provenance`), so the API and the CLI share it. The JSON-LD contexts used
are shipped in `archive/contexts/`, and `expand` resolves them from there: nothing here ever
touches the network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from pyld import jsonld

from archive.errors import InvalidInput

CONTEXTS_DIR = Path(__file__).resolve().parent / "contexts"

ANNOTATION_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
ANNOTATION_PROFILE = 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'
#: Our own vocabulary (claims, evidence, spans) for what PROV-O and Dublin Core do not name.
VOCABULARY = "https://archive.example/ns#"
PROVENANCE_CONTEXT_URL = "https://archive.example/ns/provenance.jsonld"

#: Context URLs `expand` serves from the shipped files; any other URL is refused.
SHIPPED_CONTEXTS: Mapping[str, Path] = {
    ANNOTATION_CONTEXT: CONTEXTS_DIR / "anno.jsonld",
    "https://www.w3.org/ns/anno.jsonld": CONTEXTS_DIR / "anno.jsonld",
    PROVENANCE_CONTEXT_URL: CONTEXTS_DIR / "provenance.jsonld",
}

_STANCES = ("supports", "contradicts", "qualifies")


# --- IRIs -------------------------------------------------------------------------------------


def _base(base_url: str) -> str:
    base = str(base_url).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"base URL must be an absolute http(s) URL, not {base_url!r}")
    return base


def _segment(value: Any) -> str:
    return quote(str(value), safe="")


def span_iri(base_url: str, span_id: Any) -> str:
    return f"{_base(base_url)}/v1/spans/{_segment(span_id)}"


def document_iri(base_url: str, document_id: Any) -> str:
    return f"{_base(base_url)}/v1/documents/{_segment(document_id)}"


def claim_iri(base_url: str, claim_id: Any) -> str:
    return f"{_base(base_url)}/v1/claims/{_segment(claim_id)}"


def evidence_iri(base_url: str, claim_id: Any, evidence_id: Any) -> str:
    return f"{claim_iri(base_url, claim_id)}/evidence/{_segment(evidence_id)}"


def citation_iri(base_url: str, citation_id: Any) -> str:
    return f"{_base(base_url)}/v1/citations/{_segment(citation_id)}"


def agent_iri(base_url: str, name: Any) -> str:
    """The IRI of the API key (by its name) that made a record. It names the agent; the API
    does not serve it."""
    return f"{_base(base_url)}/v1/agents/{_segment(name)}"


def rfc3339(value: datetime | str) -> str:
    """`value` as an RFC 3339 UTC timestamp ("2024-05-01T12:00:00Z"); naive times are UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"not an RFC 3339 timestamp: {value!r}") from None
    if not isinstance(value, datetime):
        raise InvalidInput(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


# --- Web Annotation ---------------------------------------------------------------------------


def span_annotation(span: Mapping[str, Any], document: Mapping[str, Any], base_url: str) -> dict:
    """A span as a W3C Web Annotation (https://www.w3.org/TR/annotation-model/).

    The target is the document, selected by a TextQuoteSelector (the quote with its context)
    and a TextPositionSelector (code-point offsets); an orphaned span, whose offsets no longer
    point at its quote, keeps only the quote selector. Bodies say what the span carries: the
    speaker (purpose "identifying"), the note ("commenting"), each tag ("tagging"), the span it
    quotes and the citations behind it ("linking"). The motivation follows the span's kind: a
    quote with a known speaker is "identifying", a note "commenting", anything else
    "highlighting".
    """
    _require(span, ("id", "document_id", "start", "end", "exact"), "span")
    document_id = document.get("id", span["document_id"])
    if str(document_id) != str(span["document_id"]):
        raise InvalidInput(
            f"span {span['id']!r} belongs to document {span['document_id']!r}, not {document_id!r}"
        )
    kind = span.get("kind") or "passage"
    speaker = _nonblank(span.get("speaker"))
    note = _nonblank(span.get("note"))

    bodies: list[dict[str, Any]] = []
    if speaker:
        bodies.append(_textual_body(speaker, "identifying"))
    if note:
        bodies.append(_textual_body(note, "commenting"))
    for tag in span.get("tags") or []:
        if _nonblank(tag):
            bodies.append({"type": "TextualBody", "value": str(tag).strip(), "purpose": "tagging"})
    if span.get("quoted_from"):
        bodies.append(_linked(span_iri(base_url, span["quoted_from"])))
    for citation_id in span.get("citation_ids") or []:
        bodies.append(_linked(citation_iri(base_url, citation_id)))

    if kind == "quote" and speaker:
        motivation = "identifying"
    elif kind == "note" and note:
        motivation = "commenting"
    else:
        motivation = "highlighting"

    quote_selector: dict[str, Any] = {"type": "TextQuoteSelector", "exact": str(span["exact"])}
    for key in ("prefix", "suffix"):
        if span.get(key):
            quote_selector[key] = str(span[key])
    selectors = [quote_selector]
    if span.get("anchor_status") != "orphaned":
        selectors.append(
            {"type": "TextPositionSelector", "start": int(span["start"]), "end": int(span["end"])}
        )

    annotation: dict[str, Any] = {
        "@context": ANNOTATION_CONTEXT,
        "id": span_iri(base_url, span["id"]),
        "type": "Annotation",
        "motivation": motivation,
    }
    if span.get("created_at"):
        annotation["created"] = rfc3339(span["created_at"])
    if span.get("updated_at"):
        annotation["modified"] = rfc3339(span["updated_at"])
    if span.get("created_by"):
        annotation["creator"] = {
            "id": agent_iri(base_url, span["created_by"]),
            "name": str(span["created_by"]),
        }
    if bodies:
        annotation["body"] = bodies[0] if len(bodies) == 1 else bodies
    annotation["target"] = {
        "type": "SpecificResource",
        "source": document_iri(base_url, document_id),
        "selector": selectors,
    }
    return annotation


def _textual_body(value: str, purpose: str) -> dict[str, Any]:
    return {"type": "TextualBody", "value": value, "format": "text/plain", "purpose": purpose}


def _linked(iri: str) -> dict[str, Any]:
    return {"type": "SpecificResource", "source": iri, "purpose": "linking"}


# --- PROV-O -----------------------------------------------------------------------------------


@cache
def provenance_context() -> dict:
    """The shipped PROV-O context (`archive/contexts/provenance.jsonld`), as its inner object."""
    return _load_context(PROVENANCE_CONTEXT_URL)["@context"]


def provenance_jsonld(prov: Mapping[str, Any], base_url: str) -> dict:
    """A claim's provenance answer (CONTRACT.md) as W3C PROV-O JSON-LD, one flat `@graph`.

    - the claim is a prov:Entity that prov:wasDerivedFrom every evidence span, with one
      prov:qualifiedDerivation per evidence record whose prov:hadRole is the stance
      (arc:supports, arc:contradicts, arc:qualifies) and which carries the note;
    - each span prov:wasQuotedFrom its document (and the span it quotes, when known), and
      points at the citations behind it (dcterms:bibliographicCitation holds their text);
    - documents carry dcterms title, creator/contributor, issued (typed by its precision),
      publisher and source;
    - the claim, evidence records and spans prov:wasAttributedTo the API key that made them,
      with prov:generatedAtTime;
    - evidence records on either side of a conflict are linked by arc:conflictsWith.

    The context is inlined (it is the shipped file), so any JSON-LD processor reads the answer
    without fetching anything.
    """
    claim = prov.get("claim")
    if not isinstance(claim, Mapping) or "id" not in claim:
        raise InvalidInput("provenance needs a claim with an id")
    claim_id = claim["id"]
    graph = _Graph()
    agents: dict[str, dict] = {}

    def attribute(node: dict, who: Any, when: Any) -> None:
        if who:
            iri = agent_iri(base_url, who)
            node["wasAttributedTo"] = iri
            agents.setdefault(iri, {"id": iri, "type": "Agent", "name": str(who)})
        if when:
            node["generatedAtTime"] = rfc3339(when)

    claim_node: dict[str, Any] = {
        "id": claim_iri(base_url, claim_id),
        "type": ["Entity", "Claim"],
    }
    if claim.get("statement"):
        claim_node["statement"] = str(claim["statement"])
    status = prov.get("status") or claim.get("status")
    if status:
        claim_node["status"] = str(status)
    if claim.get("tags"):
        claim_node["tags"] = [str(tag) for tag in claim["tags"]]
    attribute(claim_node, claim.get("created_by"), claim.get("created_at"))
    derived_from: list[str] = []
    derivations: list[str] = []
    graph.add(claim_node)

    conflicts = _conflicts(prov.get("conflicts") or [])
    for evidence in prov.get("evidence") or []:
        _require(evidence, ("id", "span", "document"), "evidence")
        span, document = evidence["span"], evidence["document"]
        _require(span, ("id",), "evidence span")
        _require(document, ("id",), "evidence document")
        stance = evidence.get("stance")
        if stance not in _STANCES:
            raise InvalidInput(f"evidence {evidence['id']!r} has an unknown stance {stance!r}")

        s_iri = span_iri(base_url, span["id"])
        d_iri = document_iri(base_url, document["id"])
        if s_iri not in derived_from:
            derived_from.append(s_iri)

        e_iri = evidence_iri(base_url, claim_id, evidence["id"])
        derivations.append(e_iri)
        evidence_node: dict[str, Any] = {
            "id": e_iri,
            "type": ["Entity", "Derivation", "Evidence"],
            "entity": s_iri,
            "hadRole": stance,
        }
        if _nonblank(evidence.get("note")):
            evidence_node["note"] = str(evidence["note"])
        attribute(evidence_node, evidence.get("recorded_by"), evidence.get("recorded_at"))
        others = conflicts.get(str(evidence["id"]))
        if others:
            evidence_node["conflictsWith"] = [
                evidence_iri(base_url, claim_id, other) for other in others
            ]
        graph.add(evidence_node)

        quoted_from = [d_iri]
        if span.get("quoted_from"):
            quoted_from.append(span_iri(base_url, span["quoted_from"]))
        span_node: dict[str, Any] = {
            "id": s_iri,
            "type": ["Entity", "Span"],
            "wasQuotedFrom": quoted_from,
        }
        for key in ("exact", "prefix", "suffix", "speaker"):
            if _nonblank(span.get(key)):
                span_node[key] = str(span[key])
        for key in ("start", "end"):
            if isinstance(span.get(key), int):
                span_node[key] = span[key]
        attribute(span_node, span.get("created_by"), span.get("created_at"))

        citation_nodes = []
        for citation in evidence.get("citations") or []:
            if not isinstance(citation, Mapping) or "id" not in citation:
                continue
            citation_node: dict[str, Any] = {
                "id": citation_iri(base_url, citation["id"]),
                "type": ["Entity", "Citation"],
            }
            for key in ("label", "raw", "text"):
                if _nonblank(citation.get(key)):
                    citation_node[key] = str(citation[key])
            citation_nodes.append(citation_node)
        if citation_nodes:
            span_node["citation"] = [node["id"] for node in citation_nodes]
        graph.add(span_node)
        for citation_node in citation_nodes:
            graph.add(citation_node)
        graph.add(_document_node(d_iri, document))

    if derived_from:
        claim_node["wasDerivedFrom"] = derived_from
        claim_node["qualifiedDerivation"] = derivations
    for agent in agents.values():
        graph.add(agent)
    return {"@context": provenance_context(), "@graph": graph.nodes()}


def _document_node(iri: str, document: Mapping[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"id": iri, "type": ["Entity", "Document"]}
    if _nonblank(document.get("title")):
        node["title"] = str(document["title"])
    creators, contributors = [], []
    for person in document.get("creators") or []:
        if not isinstance(person, Mapping) or not _nonblank(person.get("name")):
            continue
        role = _nonblank(person.get("role"))
        agent: dict[str, Any] = {"type": "Agent", "name": str(person["name"])}
        if role:
            agent["role"] = role
        (creators if role in (None, "author", "creator") else contributors).append(agent)
    if creators:
        node["creator"] = creators
    if contributors:
        node["contributor"] = contributors
    if document.get("published"):
        node["issued"] = _typed_date(str(document["published"]))
    if _nonblank(document.get("publisher")):
        node["publisher"] = str(document["publisher"])
    if _nonblank(document.get("source_url")):
        node["source"] = str(document["source_url"])
    return node


_DATE_TYPES = (
    (re.compile(r"^-?\d{4}$"), "xsd:gYear"),
    (re.compile(r"^-?\d{4}-\d{2}$"), "xsd:gYearMonth"),
    (re.compile(r"^-?\d{4}-\d{2}-\d{2}$"), "xsd:date"),
)


def _typed_date(value: str) -> dict[str, str] | str:
    """ISO 8601 publication dates of any precision ("1956", "1956-06") as typed literals."""
    for pattern, datatype in _DATE_TYPES:
        if pattern.match(value):
            return {"@value": value, "@type": datatype}
    return value


def _conflicts(pairs: Iterable[Any]) -> dict[str, list[str]]:
    linked: dict[str, list[str]] = {}
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            continue
        first, second = (str(x) for x in pair)
        linked.setdefault(first, []).append(second)
        linked.setdefault(second, []).append(first)
    return linked


class _Graph:
    """Nodes by id, first seen first; a node seen again (a span cited twice) is merged."""

    def __init__(self) -> None:
        self._nodes: dict[str, dict] = {}

    def add(self, node: dict) -> None:
        existing = self._nodes.setdefault(node["id"], node)
        if existing is not node:
            for key, value in node.items():
                existing.setdefault(key, value)

    def nodes(self) -> list[dict]:
        return list(self._nodes.values())


# --- offline JSON-LD processing ---------------------------------------------------------------


@cache
def _context_text(url: str) -> str:
    return SHIPPED_CONTEXTS[url].read_text(encoding="utf-8")


def _load_context(url: str) -> dict:
    return json.loads(_context_text(url))


def offline_document_loader(url: str, options: Any = None) -> dict:
    """A pyld document loader that serves the shipped contexts and refuses everything else."""
    if url not in SHIPPED_CONTEXTS:
        shipped = ", ".join(sorted(SHIPPED_CONTEXTS))
        raise InvalidInput(
            f"JSON-LD context {url!r} is not shipped with the archive and will not be fetched "
            f"over the network; shipped contexts: {shipped}"
        )
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": _load_context(url),  # a fresh copy: pyld may keep or alter what it gets
    }


def expand(doc: Mapping[str, Any]) -> list:
    """JSON-LD expansion of `doc` with pyld, resolving contexts only from the shipped files.

    Raises InvalidInput when `doc` names a context that is not shipped or is not valid JSON-LD.
    """
    try:
        return jsonld.expand(dict(doc), {"documentLoader": offline_document_loader})
    except jsonld.JsonLdError as error:
        cause = _root_cause(error)
        if isinstance(cause, InvalidInput):
            raise cause from error
        raise InvalidInput(f"not valid JSON-LD: {cause}") from error


def _root_cause(error: BaseException) -> BaseException:
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        nested = getattr(error, "cause", None) or error.__cause__
        if nested is None:
            break
        error = nested
    return error


def _require(obj: Any, keys: Iterable[str], what: str) -> None:
    if not isinstance(obj, Mapping):
        raise InvalidInput(f"{what} must be an object")
    missing = [key for key in keys if obj.get(key) is None]
    if missing:
        raise InvalidInput(f"{what} is missing {', '.join(missing)}")


def _nonblank(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
