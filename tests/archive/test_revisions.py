"""A new revision of a text: every span is found again, or kept and flagged as orphaned."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from archive import documents, integrity, spans
from archive.errors import InvalidInput, NotFound
from archive.models import Document, DocumentText, Span
from archive.revisions import replace_text

FEAR = "fear-backstage"
RESOLVE = "But why did Khrushchev show such resolve in the fall of 1955?"
COURAGE_PARAGRAPH = (
    'After the report, Khrushchev said: "We must show courage and tell the truth." '
    "Where would the truth be told? At a closed session of the congress.\n\n"
)


def spans_of(session: Session, doc_id: str = FEAR) -> dict[str, Span]:
    session.expire_all()
    rows = session.execute(select(Span).where(Span.document_id == doc_id)).scalars()
    return {s.id: s for s in rows}


def assert_anchored(session: Session, text: str) -> None:
    """Every span that is not orphaned holds exactly the words at its offsets."""
    for span in spans_of(session).values():
        if span.anchor_status != "orphaned":
            assert text[span.start : span.end] == span.exact, span.id


def test_an_insertion_before_the_spans_shifts_them(session: Session, seeds: dict[str, str]) -> None:
    before = {s.id: (s.start, s.end) for s in spans_of(session).values()}
    note = "Editor's note: reposted with the original photographs.\n\n"
    text = note + seeds[FEAR]
    result = replace_text(session, FEAR, text, actor="t")
    assert (result.revision, result.changed) == (2, True)
    assert result.anchoring == {"exact": len(before), "moved": 0, "fuzzy": 0, "orphaned": 0}
    after = spans_of(session)
    for span_id, (start, end) in before.items():
        assert (after[span_id].start, after[span_id].end) == (start + len(note), end + len(note))
        assert after[span_id].anchor_status == "exact"
        assert after[span_id].revision == 2
    assert_anchored(session, text)
    doc = session.get(Document, FEAR)
    assert (doc.revision, doc.length, doc.text_sha256) == (2, len(text), documents.sha256(text))
    assert documents.get_text(session, doc) == text
    assert documents.get_text(session, doc, 1) == seeds[FEAR]  # the old revision is kept
    problems, _ = integrity.check(session)
    assert problems == []


def test_an_edit_inside_a_span_makes_it_fuzzy(session: Session, seeds: dict[str, str]) -> None:
    old = "not a word would be said about his personal involvement in the crimes."
    new = "not a word would be said about his own involvement in the crimes."
    text = seeds[FEAR].replace(old, new)
    result = replace_text(session, FEAR, text)
    assert result.anchoring["fuzzy"] == 1
    assert result.anchoring["orphaned"] == 0
    span = spans_of(session)["fear-not-a-word"]
    assert span.anchor_status == "fuzzy"
    assert span.exact == "By this time Khrushchev was sure that " + new
    assert text[span.start : span.end] == span.exact
    assert_anchored(session, text)


def test_a_deleted_passage_orphans_its_span_which_is_kept(
    session: Session, seeds: dict[str, str]
) -> None:
    old_span = spans_of(session)["fear-resolve-1955"]
    old_position = (old_span.start, old_span.end, old_span.exact)
    text = seeds[FEAR].replace(RESOLVE + "\n\n", "")
    result = replace_text(session, FEAR, text)
    assert result.anchoring["orphaned"] == 1
    orphan = spans_of(session)["fear-resolve-1955"]
    assert orphan.anchor_status == "orphaned"
    # what it quoted, where, in the revision it still names
    assert (orphan.start, orphan.end, orphan.exact, orphan.revision) == (*old_position, 1)
    listed = spans.list_spans(session, document=FEAR, anchor_status="orphaned")
    assert [s.id for s in listed.items] == ["fear-resolve-1955"]
    assert_anchored(session, text)
    assert integrity.check(session)[0] == []


def test_a_moved_passage_is_found_by_its_quote(session: Session, seeds: dict[str, str]) -> None:
    assert COURAGE_PARAGRAPH in seeds[FEAR]
    text = seeds[FEAR].replace(COURAGE_PARAGRAPH, "") + "\n\n" + COURAGE_PARAGRAPH.strip()
    result = replace_text(session, FEAR, text)
    after = spans_of(session)
    for span_id in ("fear-khrushchev-courage", "fear-closed-session-answer"):
        assert after[span_id].anchor_status == "moved"
        assert after[span_id].start > len(text) - len(COURAGE_PARAGRAPH)
    assert result.anchoring["moved"] >= 2
    assert result.anchoring["orphaned"] == 0
    assert_anchored(session, text)


def test_an_orphan_is_found_again_when_its_passage_returns(
    session: Session, seeds: dict[str, str]
) -> None:
    replace_text(session, FEAR, seeds[FEAR].replace(RESOLVE + "\n\n", ""))
    replace_text(session, FEAR, seeds[FEAR].replace(RESOLVE + "\n\n", "") + " Postscript.")
    assert spans_of(session)["fear-resolve-1955"].anchor_status == "orphaned"
    result = replace_text(session, FEAR, seeds[FEAR])
    assert result.revision == 4
    back = spans_of(session)["fear-resolve-1955"]
    assert back.anchor_status in ("exact", "moved")
    assert (back.start, back.end, back.revision) == (
        seeds[FEAR].index(RESOLVE),
        seeds[FEAR].index(RESOLVE) + len(RESOLVE),
        4,
    )


def test_the_same_text_again_changes_nothing(session: Session, seeds: dict[str, str]) -> None:
    result = replace_text(session, FEAR, seeds[FEAR])
    assert (result.revision, result.changed) == (1, False)
    assert result.anchoring["exact"] == len(spans_of(session))
    count = session.execute(
        select(func.count()).select_from(DocumentText).where(DocumentText.document_id == FEAR)
    ).scalar_one()
    assert count == 1


@pytest.mark.parametrize("text", ["", "with a NUL \x00 inside", None])
def test_a_text_that_cannot_be_stored_is_refused(session: Session, text: object) -> None:
    with pytest.raises(InvalidInput):
        replace_text(session, FEAR, text)


def test_an_unknown_document_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        replace_text(session, "no-such-document", "text")
