"""Checking a text in the domain: its bounds, and texts that repeat themselves."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from archive.errors import InvalidInput
from archive.lookup import scan

QUOTED = "Political prisoners were excluded from the amnesty."
OWN = "Our school library keeps three copies of the textbook and a map of the hall."


def test_a_text_quoting_one_sentence_twice_gives_two_passages_at_one_source(
    session: Session, seeds: dict[str, str]
) -> None:
    text = f"{QUOTED} {OWN} {QUOTED} {OWN}"
    passages = scan.scan(session, text)["passages"]
    second = text.index(QUOTED, 1)
    assert [(p["start"], p["end"]) for p in passages] == [
        (0, len(QUOTED) - 1),
        (second, second + len(QUOTED) - 1),
    ]
    source = seeds["figes-secret-speech"].index(QUOTED[:-1])
    for passage in passages:
        assert [(m["document_id"], m["start"]) for m in passage["matches"]] == [
            ("figes-secret-speech", source)
        ]
        assert passage["best"]["fidelity"]["verdict"] == "exact"


def test_a_text_at_the_limit_is_scanned_and_one_beyond_it_is_refused(session: Session) -> None:
    at_limit = ((QUOTED + " ") * (scan.MAX_TEXT // len(QUOTED)))[: scan.MAX_TEXT]
    passages = scan.scan(session, at_limit)["passages"]
    # one quotation after another, touching: one passage, from the first word to the last
    assert len(passages) == 1
    assert passages[0]["start"] == 0 and passages[0]["end"] > scan.MAX_TEXT - len(QUOTED) - 2
    assert {m["document_id"] for m in passages[0]["matches"]} == {"figes-secret-speech"}
    with pytest.raises(InvalidInput, match="100000"):
        scan.scan(session, at_limit + "x")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"min_words": 0}, "min_words"),
        ({"min_words": True}, "min_words"),
        ({"min_score": -1}, "min_score"),
        ({"kind": "tertiary"}, "kind"),
        ({"documents": "figes-secret-speech"}, "documents"),
    ],
)
def test_bad_options_are_named(session: Session, options: dict, named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        scan.scan(session, QUOTED, **options)


def test_an_empty_restriction_finds_nothing(session: Session) -> None:
    assert scan.scan(session, QUOTED, documents=[]) == {"passages": []}
    assert scan.scan(session, QUOTED, documents=["figes-secret-speech"])["passages"]
