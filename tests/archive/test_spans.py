"""Spans in the domain: anchored where the text says, listed in text order, guarded on delete."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from archive import documents, spans
from archive.errors import BadQuery, Conflict, InvalidInput, NotFound
from archive.models import Change, CitationSpan, Evidence, Span

BRIEF = "secret-speech-brief"
FEAR = "fear-backstage"
GOD_KNOWS = "God knows what we’re supposed to think"  # twice in the brief


def changes_for(session: Session, span_id: str) -> list[str]:
    rows = session.execute(
        select(Change.action).where(Change.entity == "span", Change.entity_id == span_id)
    )
    return list(rows.scalars())


def test_a_span_from_offsets_holds_the_words_there_with_context(
    session: Session, seeds: dict[str, str]
) -> None:
    text = seeds[BRIEF]
    start = text.index("on 5th June 1956")
    span = spans.create_span(
        session, BRIEF, {"start": start, "end": start + 16, "kind": "passage"}, actor="t"
    )
    assert span.exact == "on 5th June 1956" == text[span.start : span.end]
    assert span.prefix == text[start - 32 : start]
    assert span.suffix == text[start + 16 : start + 48]
    assert (span.anchor_status, span.revision, span.created_by) == ("exact", 1, "t")
    assert changes_for(session, span.id) == ["create"]


def test_a_span_from_exact_text_is_found_by_the_server(
    session: Session, seeds: dict[str, str]
) -> None:
    exact = "I went to Nikita Sergeyevich and one on one began telling him"
    span = spans.create_span(session, FEAR, {"exact": exact, "speaker": "Anastas Mikoyan"})
    assert span.start == seeds[FEAR].index(exact)
    assert span.end == span.start + len(exact)
    assert span.id == "i-went-to-nikita-sergeyevich-and"
    again = spans.create_span(session, FEAR, {"exact": exact})
    assert again.id == "i-went-to-nikita-sergeyevich-and-2"


def test_an_ambiguous_quote_lists_its_candidates_until_context_decides(
    session: Session, seeds: dict[str, str]
) -> None:
    text = seeds[BRIEF]
    first = text.index(GOD_KNOWS)
    second = text.index(GOD_KNOWS, first + 1)
    with pytest.raises(Conflict) as caught:
        spans.create_span(session, BRIEF, {"exact": GOD_KNOWS})
    candidates = caught.value.extra["candidates"]
    assert [(c["start"], c["end"]) for c in candidates] == [
        (first, first + len(GOD_KNOWS)),
        (second, second + len(GOD_KNOWS)),
    ]
    span = spans.create_span(session, BRIEF, {"exact": GOD_KNOWS, "suffix": "…What will"})
    assert span.start == second
    span = spans.create_span(session, BRIEF, {"exact": GOD_KNOWS, "suffix": "!”"})
    assert span.start == first


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"exact": "Workers of the world, unite!"}, "does not occur"),
        ({"exact": GOD_KNOWS, "prefix": "nowhere"}, "never with the given prefix"),
        ({"start": 10, "end": 10}, "less than end"),
        ({"start": -1, "end": 5}, "negative"),
        ({"start": 0, "end": 10**6}, "past the end"),
        ({"start": 0}, "give both"),
        ({"start": 0, "end": 5, "exact": "Nikita"}, "exact: the text at 0..5"),
        ({"kind": "quote"}, "give `start` and `end`, or `exact`"),
        ({"exact": "God knows", "kind": "speech"}, "kind"),
        ({"exact": "Nikita", "colour": "red"}, "colour"),
    ],
)
def test_spans_that_cannot_be_anchored_are_refused(
    session: Session, data: dict, message: str
) -> None:
    with pytest.raises((InvalidInput, Conflict)) as caught:
        spans.create_span(session, BRIEF, data)
    assert isinstance(caught.value, InvalidInput)
    assert message in caught.value.detail


def test_offsets_that_split_a_character_are_refused(session: Session) -> None:
    text = "Khrushchev met Jo\u0301zsef Mindszenty’s jailers 👩\u200d👩\u200d👧 later."
    documents.create_document(session, {"id": "marks", "title": "Marks", "text": text})
    inside_accent = text.index("\u0301")
    with pytest.raises(InvalidInput, match="falls inside a character"):
        spans.create_span(session, "marks", {"start": inside_accent, "end": inside_accent + 5})
    inside_family = text.index("\u200d")
    with pytest.raises(InvalidInput, match="falls inside a character"):
        spans.create_span(session, "marks", {"start": 0, "end": inside_family})
    whole = spans.create_span(session, "marks", {"exact": "Jo\u0301zsef"})
    assert whole.exact == "Jo\u0301zsef"


def test_links_must_point_at_what_exists(session: Session) -> None:
    with pytest.raises(InvalidInput, match="no span 'nope'"):
        spans.create_span(session, BRIEF, {"exact": "Mezentsev", "quoted_from": "nope"})
    with pytest.raises(InvalidInput, match="belongs to document 'fear-backstage'"):
        spans.create_span(
            session, BRIEF, {"exact": "Mezentsev", "citation_ids": ["fear-moskovskiye-novosti"]}
        )
    with pytest.raises(InvalidInput, match="itself"):
        spans.update_span(session, "brief-25th-february", {"quoted_from": "brief-25th-february"})
    # a circle of quotations: the title quotes the full words, which cannot quote the title
    with pytest.raises(InvalidInput, match="circle"):
        spans.update_span(
            session, "brief-mezentsev-what-next", {"quoted_from": "brief-mezentsev-title"}
        )
    with pytest.raises(NotFound):
        spans.create_span(session, "no-such-document", {"exact": "Mezentsev"})


def test_a_document_s_spans_come_in_text_order_page_after_page(session: Session) -> None:
    everything = list(
        session.execute(
            select(Span).where(Span.document_id == BRIEF).order_by(Span.start, Span.end, Span.id)
        ).scalars()
    )
    seen, cursor = [], None
    while True:
        page = spans.list_spans(session, document=BRIEF, limit=7, cursor=cursor)
        assert page.total == len(everything)
        seen += [s.id for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [s.id for s in everything]
    starts = [s.start for s in everything]
    assert starts == sorted(starts)


def test_filters_by_kind_speaker_and_status(session: Session) -> None:
    mikoyan = spans.list_spans(session, speaker="mikoyan", limit=100)
    assert mikoyan.total >= 3
    assert {s.speaker for s in mikoyan.items} == {"Anastas Mikoyan"}
    notes = spans.list_spans(session, document=BRIEF, kind="note", limit=100)
    assert notes.total > 0 and {s.kind for s in notes.items} == {"note"}
    assert spans.list_spans(session, anchor_status="orphaned").total == 0
    with pytest.raises(BadQuery):
        spans.list_spans(session, cursor="garbage!")
    with pytest.raises(InvalidInput):
        spans.list_spans(session, anchor_status="lost")


def test_a_span_can_be_changed_and_retargeted(session: Session, seeds: dict[str, str]) -> None:
    span = spans.create_span(session, BRIEF, {"exact": "Sergei Mezentsev", "kind": "passage"})
    changed = spans.update_span(
        session,
        span.id,
        {
            "speaker": "Sergei Mezentsev",
            "kind": "quote",
            "tags": ["reaction", "reaction"],
            "citation_ids": ["brief-note-10"],
            "quoted_from": "brief-mezentsev-what-next",
        },
        actor="t",
    )
    assert (changed.speaker, changed.kind, changed.tags) == (
        "Sergei Mezentsev",
        "quote",
        ["reaction"],
    )
    assert spans.citation_ids_of(session, [span.id])[span.id] == ["brief-note-10"]
    text = seeds[BRIEF]
    moved = spans.update_span(
        session, span.id, {"exact": GOD_KNOWS, "prefix": "aid, “The things that were said…"}
    )
    assert moved.start == text.index(GOD_KNOWS, text.index(GOD_KNOWS) + 1)
    assert moved.exact == text[moved.start : moved.end]
    assert changes_for(session, span.id) == ["create", "update", "update"]
    with pytest.raises(InvalidInput, match="send `exact` too"):
        spans.update_span(session, span.id, {"prefix": "said…"})
    with pytest.raises(InvalidInput, match="kind"):
        spans.update_span(session, span.id, {"kind": None})


def test_a_span_that_is_evidence_cannot_be_deleted(session: Session) -> None:
    used = session.execute(select(Evidence.span_id, Evidence.claim_id)).first()
    expected = sorted(
        session.execute(select(Evidence.claim_id).where(Evidence.span_id == used.span_id))
        .scalars()
        .unique()
    )
    with pytest.raises(Conflict) as caught:
        spans.delete_span(session, used.span_id)
    assert caught.value.extra["claims"] == expected
    assert session.get(Span, used.span_id) is not None


def test_deleting_a_span_unlinks_what_quotes_it(session: Session) -> None:
    source = spans.create_span(session, BRIEF, {"exact": "Sergei Mezentsev"})
    quoting = spans.create_span(
        session,
        BRIEF,
        {"exact": "editor of the Kommunist journal", "quoted_from": source.id},
    )
    spans.update_span(session, source.id, {"citation_ids": ["brief-note-10"]})
    spans.delete_span(session, source.id, actor="t")
    session.expire_all()
    assert session.get(Span, source.id) is None
    assert session.get(Span, quoting.id).quoted_from is None
    links = session.execute(select(CitationSpan).where(CitationSpan.span_id == source.id))
    assert links.first() is None
    assert changes_for(session, source.id)[-1] == "delete"
    assert changes_for(session, quoting.id)[-1] == "update"


def test_fidelity_compares_a_quote_with_its_source(session: Session) -> None:
    title = spans.span_fidelity(session, "brief-mezentsev-title")
    assert title.quoted_from == "brief-mezentsev-what-next"
    assert title.verdict == "normalized"  # the headline ends with "!" where the source goes on
    source = spans.get_span(session, "brief-mezentsev-what-next")
    shortened = spans.create_span(
        session,
        BRIEF,
        {"start": source.start, "end": source.start + 25, "quoted_from": source.id},
    )
    assert spans.span_fidelity(session, shortened.id).verdict == "exact"
    with pytest.raises(Conflict, match="quoted_from is null"):
        spans.span_fidelity(session, "fear-mikoyan-went-to-khrushchev")
