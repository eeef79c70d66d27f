"""Quote lookup over the bundled corpus, as a student would type the quotation.

Every expected position is computed from the seed texts themselves (the `seeds` fixture):
the lookup must report offsets into the original text, whatever the query looked like.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from archive import documents
from archive.errors import InvalidInput
from archive.lookup import candidates
from archive.lookup import run as lookup
from archive.models import Evidence
from archive.revisions import replace_text
from archive.text import alignment, tokens

BRIEF = "secret-speech-brief"
FEAR = "fear-backstage"
ABSENT = [
    "Workers of the world, unite!",
    "Mr. Gorbachev, tear down this wall!",
    "The only thing we have to fear is fear itself.",
    "Ask not what your country can do for you, ask what you can do for your country.",
]


def at(text: str, passage: str, nth: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = text.index(passage, start + 1)
    return start, start + len(passage)


def positions(result: dict) -> list[tuple[str, int, int]]:
    return [(m["document_id"], m["start"], m["end"]) for m in result["matches"]]


def speakers(match: dict) -> set[str | None]:
    return {s["speaker"] for s in match["spans"]}


def test_a_contraction_typed_out_finds_both_occurrences_and_who_said_it(
    session: Session, seeds: dict[str, str]
) -> None:
    result = lookup.lookup(session, "we are supposed to think")
    text = seeds[BRIEF]
    assert positions(result) == [
        (BRIEF, *at(text, "we’re supposed to think")),
        (BRIEF, *at(text, "we’re supposed to think", 1)),
    ]
    first, second = result["matches"]
    assert first["match"] == "normalized" and first["score"] == 0.99
    assert first["exact"] == "we’re supposed to think"
    assert speakers(first) == speakers(second) == {"Sergei Mezentsev"}
    assert "delegates-shocked" in second["claims"]
    assert first["prefix"] == text[first["start"] - 32 : first["start"]]
    assert first["suffix"] == text[first["end"] : first["end"] + 32]


def test_claims_are_those_whose_evidence_quotes_an_overlapping_span(session: Session) -> None:
    result = lookup.lookup(session, "we are supposed to think")
    for match in result["matches"]:
        span_ids = [s["id"] for s in match["spans"]]
        claims = session.execute(
            select(Evidence.claim_id).where(Evidence.span_id.in_(span_ids)).distinct()
        ).scalars()
        assert match["claims"] == sorted(claims)


def test_straight_quotes_and_three_dots_find_the_curly_headline(
    session: Session, seeds: dict[str, str]
) -> None:
    typed = '"The things that were said... God knows what we\'re supposed to think!"'
    result = lookup.lookup(session, typed)
    headline = "“The things that were said…God knows what we’re supposed to think!”"
    best = result["matches"][0]
    assert (best["document_id"], best["start"], best["end"]) == (BRIEF, *at(seeds[BRIEF], headline))
    assert best["exact"] == headline
    assert best["match"] == "normalized"
    assert "brief-mezentsev-title" in {s["id"] for s in best["spans"]}


def test_a_footnote_digit_glued_to_the_year_does_not_hide_the_date(
    session: Session, seeds: dict[str, str]
) -> None:
    result = lookup.lookup(session, "published by the New York Times on 5th June 1956")
    start, _ = at(seeds[BRIEF], "published by the New York Times on 5th June 19563")
    [match] = result["matches"]
    assert (match["document_id"], match["start"]) == (BRIEF, start)
    assert match["exact"] == "published by the New York Times on 5th June 1956"
    assert seeds[BRIEF][match["end"]] == "3"  # the note marker stays outside the match
    assert "nyt-full-text-5-june-1956" in match["claims"]


def test_a_dropped_word_and_a_typo_still_find_stalin_s_threat(
    session: Session, seeds: dict[str, str]
) -> None:
    typed = "If you do not obtain confesions from the doctors we will shorten you by head"
    result = lookup.lookup(session, typed)
    best = result["matches"][0]
    expected = at(
        seeds[BRIEF],
        "If you do not obtain confessions from the doctors we will shorten you by a head",
    )
    assert (best["document_id"], best["start"], best["end"]) == (BRIEF, *expected)
    assert best["match"] == "fuzzy" and 0.8 <= best["score"] <= 0.98
    assert "Joseph Stalin" in speakers(best)


def test_line_breaks_and_a_changed_word_are_tolerated(
    session: Session, seeds: dict[str, str]
) -> None:
    typed = "Copies were also sent to leaders\nof Soviet satellite countries"
    [match] = lookup.lookup(session, typed)["matches"]
    expected = at(seeds[BRIEF], "Copies were also sent to leaders of Soviet satellite countries")
    assert (match["start"], match["end"]) == expected
    assert match["match"] == "normalized"
    changed = "white as snow or more grey than white, like the colour of salt marshes"
    [match] = lookup.lookup(session, changed)["matches"]
    expected = at(
        seeds[BRIEF], "white as snow – or more gray than white, like the color of salt marshes"
    )
    assert (match["document_id"], match["start"], match["end"]) == (BRIEF, *expected)
    assert match["match"] == "fuzzy"


def test_an_editorial_bracket_left_out_of_the_query(
    session: Session, seeds: dict[str, str]
) -> None:
    typed = (
        "I forwarded these requests to Rudenko. "
        "After checking, these people were completely rehabilitated."
    )
    [match] = lookup.lookup(session, typed)["matches"]
    start, _ = at(seeds[FEAR], "I forwarded these requests to Rudenko [Soviet Procurator General]")
    _, end = at(seeds[FEAR], "completely rehabilitated.")
    assert (match["document_id"], match["start"], match["end"]) == (FEAR, start, end)
    assert match["match"] == "normalized"
    assert speakers(match) >= {"Anastas Mikoyan"}


@pytest.mark.parametrize("absent", ABSENT)
def test_a_quotation_that_is_not_in_the_archive_finds_nothing(
    session: Session, absent: str
) -> None:
    assert lookup.lookup(session, absent)["matches"] == []


@pytest.mark.parametrize(
    ("invented", "shares"),
    [
        ("We must tell the truth about the crimes of Stalin", "the truth about the crimes of"),
        ("the truth about the crimes of the Soviet Union", "the truth about the crimes of"),
        ("Stalin had used extreme methods against the party", "Stalin had used extreme methods"),
    ],
)
def test_a_sentence_that_only_shares_a_run_of_words_with_a_source_is_not_found(
    session: Session, seeds: dict[str, str], invented: str, shares: str
) -> None:
    """Made of the corpus's own words, and sharing six or seven of them with a passage
    (which scores above 0.8 on characters alone), but not a copy of anything."""
    assert any(shares in text for text in seeds.values())
    assert lookup.lookup(session, invented)["matches"] == []


def test_min_score_limit_and_documents_narrow_the_answer(session: Session) -> None:
    query = "the cult of personality"
    everything = lookup.lookup(session, query, limit=100)["matches"]
    assert len({m["document_id"] for m in everything}) >= 2
    scores = [m["score"] for m in everything]
    assert scores == sorted(scores, reverse=True)
    exact_only = lookup.lookup(session, query, min_score=1.0)["matches"]
    assert exact_only and {m["match"] for m in exact_only} == {"exact"}
    assert len(lookup.lookup(session, query, limit=1)["matches"]) == 1
    only = lookup.lookup(session, query, documents=["siegelbaum-secret-speech"])["matches"]
    assert only and {m["document_id"] for m in only} == {"siegelbaum-secret-speech"}


def test_kind_restricts_the_lookup_to_documents_of_that_kind(session: Session) -> None:
    query = "We must show courage and tell the truth"
    assert lookup.lookup(session, query, kind="primary")["matches"] == []
    documents.create_document(
        session,
        {
            "id": "presidium-notes",
            "title": "Presidium notes, 9 February 1956",
            "kind": "primary",
            "text": "Khrushchev: We must show courage and tell the truth. Pospelov reported.",
        },
    )
    primary = lookup.lookup(session, query, kind="primary")["matches"]
    assert [m["document_id"] for m in primary] == ["presidium-notes"]
    both = {m["document_id"] for m in lookup.lookup(session, query)["matches"]}
    assert both == {"presidium-notes", FEAR}


def test_lookup_reads_the_current_revision(session: Session, seeds: dict[str, str]) -> None:
    note = "Reposted.\n\n"
    replace_text(session, FEAR, note + seeds[FEAR])
    [match] = lookup.lookup(session, "We must show courage and tell the truth.")["matches"]
    start, end = at(seeds[FEAR], "We must show courage and tell the truth.")
    assert (match["start"], match["end"]) == (start + len(note), end + len(note))
    assert "fear-khrushchev-courage" in {s["id"] for s in match["spans"]}


def spy_on_alignment(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The documents of the stretches the lookup aligns from now on, in order."""
    aligned: list[str] = []
    real_align = lookup.align

    def align_spy(query: str, stretch: candidates.Stretch, *args: object) -> list:
        aligned.append(stretch.document_id)
        return real_align(query, stretch, *args)

    monkeypatch.setattr(lookup, "align", align_spy)
    return aligned


@pytest.mark.parametrize(
    "query",
    [
        "Khrushchev denounced Stalin’s purges",  # its shingles: found through the index
        "Khrushchev denounced Stalinns purges",  # every shingle damaged: through the words
    ],
)
def test_only_documents_the_index_proposes_are_aligned(
    session: Session, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    proposed: list[str] = []
    real_stretches = candidates.stretches
    real_words = candidates.candidate_documents

    def stretches_spy(*args: object, **kwargs: object) -> candidates.Plan:
        plan = real_stretches(*args, **kwargs)
        proposed.extend(s.document_id for s in plan.stretches)
        return plan

    def words_spy(*args: object, **kwargs: object) -> list[str]:
        ids = real_words(*args, **kwargs)
        proposed.extend(ids)
        return ids

    aligned = spy_on_alignment(monkeypatch)
    monkeypatch.setattr(candidates, "stretches", stretches_spy)
    monkeypatch.setattr(candidates, "candidate_documents", words_spy)
    result = lookup.lookup(session, query)
    assert result["matches"]
    assert {m["document_id"] for m in result["matches"]} <= set(proposed)
    assert 0 < len(aligned) <= len(proposed) <= 5


def test_a_passage_is_found_through_its_intact_shingles(session: Session) -> None:
    """A typo spoils the shingles that cross it; the others pick out the source."""
    query = "If you do not obtain confesions from the doctors we will shorten you by a head"
    plan = candidates.stretches(session, query)
    shingles = set(tokens.text_shingles(query).tolist())
    spoiled = set(tokens.text_shingles("not obtain confesions from the").tolist())
    assert set(plan.telling.tolist()) == shingles - spoiled
    holders = {m["document_id"] for m in lookup.lookup(session, query, limit=100)["matches"]}
    assert holders and holders <= {s.document_id for s in plan.stretches}


@pytest.mark.parametrize(
    "query",
    [
        "we are supposed to think",
        "If you do not obtain confesions from the doctors we will shorten you by head",
        "the cult of personality",
        "Stalin was loyal to the cause of communism but he did everything by barbarous means",
        "on 5th June 1956",
    ],
)
def test_the_index_finds_what_aligning_whole_texts_finds(
    session: Session, seeds: dict[str, str], query: str
) -> None:
    whole = {
        (doc_id, m.start, m.end, m.match)
        for doc_id, text in seeds.items()
        for m in alignment.find_in_text(query, text)
    }
    found = {(o.document_id, o.start, o.end, o.match) for o in lookup.occurrences(session, query)}
    assert found == whole


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"text": "   "}, "must not be empty"),
        ({"text": "x" * 5001}, "longer than"),
        ({"text": "a\x00b"}, "NUL"),
        ({"text": "Stalin", "min_score": 1.5}, "min_score"),
        ({"text": "Stalin", "min_score": float("nan")}, "min_score"),
        ({"text": "Stalin", "limit": 0}, "limit"),
        ({"text": "Stalin", "limit": 1001}, "limit"),
        ({"text": "Stalin", "kind": "tertiary"}, "kind"),
        ({"text": "Stalin", "documents": ["Not An Id"]}, "documents"),
    ],
)
def test_bad_options_are_refused(session: Session, options: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        lookup.lookup(session, **options)


def test_documents_that_share_a_passages_phrases_but_not_the_passage_are_not_aligned(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The benchmark corpus's trap, in small: decoys hold every block of the passage, but
    apart; only the document that holds them side by side is aligned."""
    passage = "The committee agreed that every copy of the minutes should be burned at once."
    filler = " ".join(["The delegates sat in silence while the report went on."] * 8)
    words = passage.split()
    blocks = [" ".join(words[i : i + 3]) for i in range(0, len(words), 3)]
    for n in range(12):
        documents.create_document(
            session,
            {"id": f"decoy-{n}", "title": f"Decoy {n}", "text": f" {filler} ".join(blocks)},
        )
    documents.create_document(
        session,
        {"id": "holder", "title": "Holder", "text": f"{filler} {passage} {filler}"},
    )
    session.flush()
    aligned = spy_on_alignment(monkeypatch)
    typed = "The committee agreed that every copy of the mintues should be burned at once"
    matches = lookup.lookup(session, typed, limit=100)["matches"]
    assert [m["document_id"] for m in matches] == ["holder"]
    assert matches[0]["exact"] == passage.rstrip(".") and matches[0]["match"] == "fuzzy"
    assert aligned == ["holder"]


def test_a_source_that_misquotes_a_word_is_found_from_a_mistyped_copy(session: Session) -> None:
    """The source itself may differ from the passage (a misquotation): with the student's
    typo elsewhere, two of its blocks differ from the copy, and it is still a candidate."""
    faithful = "The committee agreed that every copy of the minutes should be burned at once."
    misquoting = "The committee agreed that every copy of the minutes must be burned at once."
    filler = " ".join(["The delegates sat in silence while the report went on."] * 4)
    for doc_id, passage in (("faithful", faithful), ("misquoting", misquoting)):
        documents.create_document(
            session,
            {"id": doc_id, "title": doc_id.title(), "text": f"{filler} {passage} {filler}"},
        )
    session.flush()
    typed = "The comittee agreed that every copy of the minutes should be burned at once."
    matches = lookup.lookup(session, typed, limit=100)["matches"]
    assert {m["document_id"]: m["exact"] for m in matches} == {
        "faithful": faithful,
        "misquoting": misquoting,
    }


def test_an_editorial_aside_before_the_first_intact_block_is_inside_the_match(
    session: Session,
) -> None:
    """The student's typo spoils the passage's first block, and the source has an editorial
    aside right there: the region aligned around the other blocks must still reach back to
    the passage's first word."""
    passage = (
        "The committee [of the Central Committee, as the minutes call it] agreed that every "
        "copy of the minutes should be burned at once."
    )
    filler = " ".join(["The delegates sat in silence while the report went on."] * 4)
    documents.create_document(
        session, {"id": "aside", "title": "Aside", "text": f"{filler} {passage} {filler}"}
    )
    session.flush()
    typed = "The comittee agreed that every copy of the minutes should be burned at once."
    matches = lookup.lookup(session, typed, limit=100)["matches"]
    assert [(m["document_id"], m["exact"]) for m in matches] == [("aside", passage)]


def test_every_occurrence_is_found_even_one_with_a_footnote_number_glued_on(
    session: Session, seeds: dict[str, str]
) -> None:
    """The brief has "his cult of personality1" (a note marker) and, later, a plain "cult of
    personality"; a lookup answers both, the first without its marker."""
    text = seeds[BRIEF]
    glued, _ = at(text, "cult of personality1")
    plain = at(text, "cult of personality", 1)
    assert plain[0] != glued
    found = [p for p in positions(lookup.lookup(session, "cult of personality")) if p[0] == BRIEF]
    assert sorted(found) == sorted(
        [(BRIEF, glued, glued + len("cult of personality")), (BRIEF, *plain)]
    )


def test_a_verbatim_quote_before_a_footnote_number_is_exact(
    session: Session, seeds: dict[str, str]
) -> None:
    typed = "pills to calm his weak heart"
    [match] = lookup.lookup(session, typed)["matches"]
    assert (match["document_id"], match["start"], match["end"]) == (BRIEF, *at(seeds[BRIEF], typed))
    assert (match["match"], match["score"]) == ("exact", 1.0)
    assert seeds[BRIEF][match["end"]] == "9"


@pytest.mark.parametrize(
    "typed",
    ["What will we do?", "what will we do", "there will be no more", "and there will be no mroe"],
)
def test_a_quote_of_stop_words_only_is_found_on_both_databases(
    session: Session, seeds: dict[str, str], typed: str
) -> None:
    """PostgreSQL's index leaves stop words out; such a quote is looked for in the texts."""
    matches = lookup.lookup(session, typed)["matches"]
    assert matches
    best = matches[0]
    typed = typed.replace("mroe", "more")  # the typo is tolerated
    assert best["exact"].lower().rstrip("?") == typed.lower().rstrip("?")
    assert best["start"] == seeds[best["document_id"]].find(best["exact"])


def test_candidate_documents_rank_the_holder_of_rare_words_first(
    session: Session, seeds: dict[str, str]
) -> None:
    holder = next(i for i, body in seeds.items() if "mindszenty" in body.lower())
    found = candidates.candidate_documents(session, ["cardinal", "mindszenty", "virulently", "the"])
    assert found[0] == holder and len(found) == len(set(found))
    others = [i for i in seeds if i != holder]
    assert holder not in candidates.candidate_documents(
        session, ["mindszenty", "khrushchev"], documents=others
    )
    assert candidates.candidate_documents(session, ["the", "of", "--"]) == []
    assert (
        candidates.candidate_documents(session, ["khrushchev"], limit=2)
        == candidates.candidate_documents(session, ["khrushchev"])[:2]
    )
