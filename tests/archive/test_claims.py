"""Claims and evidence in the domain (no HTTP): derived status, filters, evidence rules, and
`archive check` on citation and evidence links.

The expected statuses and documents come from the table in archive/corpus/README.md, which
the curator wrote from the texts; the database derives them from the evidence rows.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from archive import claims, integrity, spans
from archive.bundled import CORPUS
from archive.errors import Conflict, InvalidInput, NotFound
from archive.models import Change, Citation, CitationSpan, Evidence, Span
from archive.pagination import MAX_LIMIT

STANCES = ("supports", "contradicts", "qualifies")
ROW = re.compile(
    r"^\| (\d+) \| `([a-z0-9-]+)` \| (.+?) \| (.*?) \| (.*?) \| (.*?) \| ([a-z-]+) \|$"
)


@cache
def document_numbers() -> dict[str, str]:
    """'000' → 'figes-secret-speech', from the seed file names in documents.json."""
    entries = json.loads((CORPUS / "documents.json").read_text(encoding="utf-8"))
    return {e["file"][:3]: e["id"] for e in entries}


@cache
def readme_claims() -> dict[str, dict[str, Any]]:
    """The claims table of archive/corpus/README.md: per claim its number, statement, the
    documents under each stance, and the status the curator derived."""
    numbers = document_numbers()
    table: dict[str, dict[str, Any]] = {}
    for line in (CORPUS / "README.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if not match:
            continue
        number, claim_id, statement, *stances, status = match.groups()
        table[claim_id] = {
            "number": int(number),
            "statement": statement,
            "status": status,
            **{
                stance: {numbers[n] for n in re.findall(r"\d{3}", cell)}
                for stance, cell in zip(STANCES, stances, strict=True)
            },
        }
    return table


def required_claims() -> list[str]:
    """The eighteen claims CORPUS.md asks for: numbers 1 to 18 of the README table."""
    table = readme_claims()
    return sorted((c for c in table if table[c]["number"] <= 18), key=lambda c: table[c]["number"])


def all_claims(session: Session, **filters: Any) -> list[claims.ClaimView]:
    page = claims.list_claims(session, limit=MAX_LIMIT, **filters)
    assert page.next_cursor is None
    return page.items


def test_the_readme_table_is_read() -> None:
    table = readme_claims()
    assert len(table) == 81
    assert len(required_claims()) == 18
    assert required_claims()[0] == "speech-date-25-february"
    assert table["speech-date-25-february"]["contradicts"] == {"siegelbaum-secret-speech"}


def test_every_claims_status_and_sources_are_as_curated(session: Session) -> None:
    table = readme_claims()
    views = {v.claim.id: v for v in all_claims(session)}
    assert set(views) == set(table)
    for claim_id, expected in table.items():
        view = views[claim_id]
        assert view.status == expected["status"], claim_id
        assert view.claim.statement == expected["statement"], claim_id
        evidence = claims.list_evidence(session, claim_id)
        for stance in STANCES:
            documents = {e.document_id for e in evidence if e.evidence.stance == stance}
            assert documents == expected[stance], (claim_id, stance)
            assert view.counts[stance] == sum(1 for e in evidence if e.evidence.stance == stance)


@pytest.mark.parametrize("status", claims.STATUSES)
def test_status_filter_pages_and_counts_right(session: Session, status: str) -> None:
    expected = {c for c, row in readme_claims().items() if row["status"] == status}
    seen: list[str] = []
    cursor = None
    while True:
        page = claims.list_claims(session, status=status, limit=3, cursor=cursor)
        assert page.total == len(expected)
        assert len(page.items) <= 3
        assert all(v.status == status for v in page.items)
        seen += [v.claim.id for v in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(expected)


def test_status_is_never_stale(session: Session) -> None:
    claim_id = "speech-26000-words"  # single-source: 004 alone
    assert claims.get_claim(session, claim_id).status == "single-source"

    figes = claims.add_evidence(
        session,
        claim_id,
        {"span_id": "figes-1430-delegates", "stance": "supports"},
        actor="teacher",
    )
    assert claims.get_claim(session, claim_id).status == "corroborated"
    against = claims.add_evidence(
        session,
        claim_id,
        {"span_id": "siegelbaum-february-24", "stance": "contradicts", "note": "test"},
        actor="teacher",
    )
    view = claims.get_claim(session, claim_id)
    assert view.status == "contested"
    assert view.counts == {"supports": 2, "contradicts": 1, "qualifies": 0}
    assert claim_id in [v.claim.id for v in all_claims(session, status="contested")]

    claims.update_evidence(session, claim_id, against.evidence.id, {"stance": "qualifies"})
    assert claims.get_claim(session, claim_id).status == "corroborated"
    claims.delete_evidence(session, claim_id, against.evidence.id)
    claims.delete_evidence(session, claim_id, figes.evidence.id)
    assert claims.get_claim(session, claim_id).status == "single-source"
    for ev in claims.list_evidence(session, claim_id):
        claims.delete_evidence(session, claim_id, ev.evidence.id)
    assert claims.get_claim(session, claim_id).status == "unsupported"
    assert claim_id in [v.claim.id for v in all_claims(session, status="unsupported")]


def test_two_spans_of_one_document_are_a_single_source(session: Session) -> None:
    claim = claims.create_claim(session, {"statement": "Khrushchev spoke at night."})
    for span_id in ("siegelbaum-february-24", "siegelbaum-closed-no-discussion"):
        claims.add_evidence(session, claim.id, {"span_id": span_id, "stance": "supports"})
    assert claims.get_claim(session, claim.id).status == "single-source"


def test_document_tag_and_word_filters(session: Session) -> None:
    table = readme_claims()
    for doc in document_numbers().values():
        expected = {c for c, row in table.items() if any(doc in row[s] for s in STANCES)}
        assert {v.claim.id for v in all_claims(session, document=doc)} == expected, doc

    annotated = [
        json.loads(line)
        for line in (CORPUS / "annotations.ndjson").read_text(encoding="utf-8").splitlines()
    ]
    tags = {r["id"]: r["tags"] for r in annotated if r["type"] == "claim"}
    for tag in ("date", "hungary", "congress"):
        expected = {c for c, t in tags.items() if tag in t}
        assert expected, tag
        assert {v.claim.id for v in all_claims(session, tag=tag)} == expected
    assert all_claims(session, tag="dat") == []

    words = {v.claim.id for v in all_claims(session, q="hungarian UPRISING")}
    assert words == {
        c
        for c, row in table.items()
        if "hungarian" in row["statement"].lower() and "uprising" in row["statement"].lower()
    }
    assert "encouraged-hungarian-uprising" in words
    assert all_claims(session, q="100%_") == []
    both = all_claims(session, q="speech", status="contested", document="figes-secret-speech")
    assert [v.claim.id for v in both] == ["speech-date-25-february"]


def test_create_makes_a_slug_and_refuses_bad_input(session: Session) -> None:
    first = claims.create_claim(session, {"statement": "Khrushchev’s speech lasted 4 hours!"})
    assert first.id == "khrushchevs-speech-lasted-4-hours"
    second = claims.create_claim(session, {"statement": "Khrushchev's speech lasted 4 hours."})
    assert second.id == "khrushchevs-speech-lasted-4-hours-2"
    assert claims.get_claim(session, first.id).status == "unsupported"
    with pytest.raises(Conflict):
        claims.create_claim(session, {"id": first.id, "statement": "again"})
    bad = [
        {"statement": "   "},
        {"statement": "nul\x00"},
        {"statement": "x" * 2001},
        {"statement": "ok", "id": "Not An Id"},
        {"statement": "ok", "tags": ["x" * 65]},
        {"statement": "ok", "tags": "date"},
        {"statement": "ok", "status": "contested"},
    ]
    for data in bad:
        with pytest.raises(InvalidInput):
            claims.create_claim(session, data)


def test_evidence_rules(session: Session) -> None:
    claim_id = "speech-date-25-february"
    with pytest.raises(Conflict) as duplicate:
        claims.add_evidence(
            session, claim_id, {"span_id": "siegelbaum-february-24", "stance": "supports"}
        )
    assert "speech-date-25-february--siegelbaum" in duplicate.value.detail
    with pytest.raises(InvalidInput, match="span_id"):
        claims.add_evidence(session, claim_id, {"span_id": "no-such-span", "stance": "supports"})
    with pytest.raises(InvalidInput, match="stance"):
        claims.add_evidence(session, claim_id, {"span_id": "figes-amnesty-million", "stance": "x"})
    with pytest.raises(NotFound):
        claims.add_evidence(session, "no-claim", {"span_id": "figes-amnesty-million"})
    with pytest.raises(NotFound):
        claims.delete_evidence(
            session, "closed-session-no-discussion", "speech-date-25-february--figes"
        )

    session.execute(
        update(Span).where(Span.id == "figes-amnesty-million").values(anchor_status="orphaned")
    )
    with pytest.raises(InvalidInput, match="orphaned"):
        claims.add_evidence(
            session, claim_id, {"span_id": "figes-amnesty-million", "stance": "supports"}
        )

    added = claims.add_evidence(
        session,
        claim_id,
        {"span_id": "figes-procuracy-appeals", "stance": "qualifies", "note": "n"},
        actor="teacher",
    )
    assert added.evidence.id == "speech-date-25-february--figes-secret-speech"
    assert added.evidence.recorded_by == "teacher" and added.evidence.recorded_at is not None
    actions = session.execute(
        text("SELECT action, actor FROM changes WHERE entity = 'evidence' AND entity_id = :i"),
        {"i": added.evidence.id},
    ).all()
    assert [tuple(a) for a in actions] == [("create", "teacher")]


def test_a_span_that_is_evidence_cannot_be_deleted(session: Session) -> None:
    span_id = "siegelbaum-february-24"
    in_use = claims.evidence_claims_for_span(session, span_id)
    assert "speech-date-25-february" in in_use and in_use == sorted(in_use)
    assert claims.evidence_claims_for_span(session, "no-such-span") == []

    with pytest.raises(Conflict) as refused:
        spans.delete_span(session, span_id, actor="teacher")
    assert refused.value.extra["claims"] == in_use
    assert "speech-date-25-february" in refused.value.detail

    savepoint = session.begin_nested()  # the database refuses it too (RESTRICT)
    with pytest.raises(IntegrityError):
        session.execute(text("DELETE FROM spans WHERE id = :i"), {"i": span_id})
        session.flush()
    savepoint.rollback()
    assert session.get(Span, span_id) is not None

    for claim_id in in_use:
        for ev in claims.list_evidence(session, claim_id):
            if ev.evidence.span_id == span_id:
                claims.delete_evidence(session, claim_id, ev.evidence.id)
    assert claims.evidence_claims_for_span(session, span_id) == []
    spans.delete_span(session, span_id, actor="teacher")
    assert session.get(Span, span_id) is None


def test_deleting_a_claim_takes_its_evidence_not_its_spans(session: Session) -> None:
    claim_id = "speech-date-25-february"
    evidence = claims.list_evidence(session, claim_id)
    claims.delete_claim(session, claim_id, actor="teacher")
    with pytest.raises(NotFound):
        claims.get_claim(session, claim_id)
    for ev in evidence:
        assert session.get(Evidence, ev.evidence.id) is None
        assert session.get(Span, ev.evidence.span_id) is not None
    deleted = session.execute(select(Change).where(Change.action == "delete")).scalars().all()
    assert {(c.entity, c.entity_id) for c in deleted} >= {("claim", claim_id)} | {
        ("evidence", ev.evidence.id) for ev in evidence
    }


# --- archive check ------------------------------------------------------------------------


def test_check_finds_the_bundled_corpus_consistent(session: Session) -> None:
    problems, checked = integrity.check(session)
    assert problems == []
    assert checked["citations"] == 37 and checked["evidence"] == 210


def test_check_names_broken_citations(session: Session) -> None:
    citation = session.get(Citation, "brief-note-16")
    citation.csl = {**citation.csl, "type": "journal-article"}
    session.add(citation)
    # a citation of one document linked to a span of another
    session.add(CitationSpan(citation_id="brief-note-9", span_id="figes-amnesty-million"))
    # an empty note that claims to have text, and a printed note whose status says empty
    session.get(Citation, "brief-note-2").status = "ok"
    session.get(Citation, "brief-note-5").status = "empty"
    session.flush()
    problems, _ = integrity.check(session)
    joined = "\n".join(problems)
    assert "citation brief-note-16" in joined and "type" in joined
    assert "brief-note-9" in joined and "figes-amnesty-million" in joined
    assert "citation brief-note-2" in joined and "citation brief-note-5" in joined
    assert len(problems) == 4, joined


def test_check_names_dangling_evidence(session: Session, dialect: str) -> None:
    if dialect == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
    session.execute(
        text("UPDATE evidence SET span_id = 'gone-span' WHERE id = :i"),
        {"i": "speech-date-25-february--siegelbaum"},
    )
    session.execute(
        text(
            "UPDATE citation_spans SET span_id = 'gone-span-2' WHERE citation_id = :c AND "
            "span_id = (SELECT MIN(span_id) FROM citation_spans WHERE citation_id = :c)"
        ),
        {"c": "fear-moskovskiye-novosti"},
    )
    problems, _ = integrity.check(session)
    joined = "\n".join(problems)
    assert "evidence speech-date-25-february--siegelbaum: span gone-span missing" in joined
    assert "fear-moskovskiye-novosti" in joined and "gone-span-2" in joined
