"""Creating spans from quotes, checking offsets, and finding spans again in a new revision."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.anchoring import RevisionDiff, check_offsets, context, locate, reanchor
from archive.errors import Conflict, InvalidInput

SEEDS = Path(__file__).resolve().parents[2] / "archive" / "corpus" / "seeds"
TEXTS = {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}

IGNATIEV = "If you do not obtain confessions from the doctors we will shorten you by a head."
MEZENTSEV = "The things that were said…God knows what we’re supposed to think"
SHEPILOV = "We must tell the party, otherwise they will never forgive us ..."


def test_locate_finds_a_unique_quote() -> None:
    text = TEXTS["002"]
    start, end = locate(text, IGNATIEV)
    assert text[start:end] == IGNATIEV
    assert start == text.index(IGNATIEV)


def test_a_repeated_quote_is_a_conflict_listing_each_occurrence() -> None:
    text = TEXTS["002"]
    with pytest.raises(Conflict) as caught:
        locate(text, MEZENTSEV)
    candidates = caught.value.extra["candidates"]
    assert [c["start"] for c in candidates] == [20, text.index(MEZENTSEV, 21)]
    for c in candidates:
        assert text[c["start"] : c["end"]] == MEZENTSEV
        assert text[: c["start"]].endswith(c["prefix"])
        assert text[c["end"] :].startswith(c["suffix"])
    # a candidate's own context picks it
    second = candidates[1]
    assert locate(text, MEZENTSEV, prefix=second["prefix"]) == (second["start"], second["end"])
    assert locate(text, MEZENTSEV, suffix=candidates[0]["suffix"]) == (
        candidates[0]["start"],
        candidates[0]["end"],
    )


def test_prefix_and_suffix_must_touch_the_quote() -> None:
    text = TEXTS["002"]
    # Mezentsev's words in the body follow `said, “`; the prefix may not skip characters
    assert locate(text, MEZENTSEV, prefix="eventually said, “")[0] > 20
    with pytest.raises(InvalidInput, match="never with the given prefix"):
        locate(text, MEZENTSEV, prefix="eventually said,")
    with pytest.raises(InvalidInput):
        locate(text, IGNATIEV, suffix="20")  # the closing quote mark comes first


def test_an_absent_quote_is_invalid_and_suggests_the_closest_passage() -> None:
    text = TEXTS["002"]
    with pytest.raises(InvalidInput) as caught:
        locate(text, IGNATIEV.replace("doctors", "docters"))
    [suggestion] = caught.value.extra["suggestions"]
    assert suggestion["exact"] == IGNATIEV
    with pytest.raises(InvalidInput) as caught:
        locate(text, "Workers of the world, unite!")
    assert caught.value.extra["suggestions"] == []
    with pytest.raises(InvalidInput):
        locate(text, "")


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (-1, 5, "negative"),
        (5, 5, "less than end"),
        (7, 3, "less than end"),
        (0, 10_000, "past the end"),
    ],
)
def test_offsets_outside_the_text_are_refused(start: int, end: int, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_offsets("The Secret Speech", start, end)


def test_offsets_may_not_cut_a_character_apart() -> None:
    text = "Jo\u0301zsef Mindszenty"  # o + combining acute accent
    with pytest.raises(InvalidInput, match="inside a character"):
        check_offsets(text, 0, 2)
    check_offsets(text, 0, 3)  # the accent stays with its o
    surrogates = "a\ud83d\ude00b"  # a pair as two code points, as surrogatepass decoding gives
    with pytest.raises(InvalidInput, match="inside a character"):
        check_offsets(surrogates, 2, 4)
    check_offsets(surrogates, 1, 3)
    check_offsets("😀 Stalin", 0, 1)  # an ordinary str holds the emoji as one code point


def test_context_gives_up_to_32_characters_either_side() -> None:
    text = TEXTS["002"]
    start, end = locate(text, IGNATIEV)
    prefix, suffix = context(text, start, end)
    assert prefix == text[start - 32 : start] and suffix == text[end : end + 32]
    assert context(text, 0, 3)[0] == ""
    assert context(text, len(text) - 3, len(text))[1] == ""
    # never half a character: an accent stays with its letter or both are left out
    assert context("e\u0301te", 2, 3, width=1) == ("", "e")
    assert context("e\u0301te", 2, 3, width=2) == ("e\u0301", "e")
    assert context("te\u0301", 0, 1, width=1) == ("", "")


def test_an_insertion_before_the_span_shifts_it() -> None:
    old = TEXTS["003"]
    start, end = locate(old, SHEPILOV)
    prefix, suffix = context(old, start, end)
    insert = "Editor's note: this passage was translated in 1996.\n\n"
    new = old.replace("Dmitry Shepilov:", insert + "Dmitry Shepilov:")
    anchor = reanchor(old, new, start, end, SHEPILOV, prefix, suffix)
    assert (anchor.status, anchor.start, anchor.end) == (
        "exact",
        start + len(insert),
        end + len(insert),
    )
    assert anchor.exact == SHEPILOV and new[: anchor.start].endswith(anchor.prefix)


def test_the_second_of_two_identical_quotes_stays_the_second() -> None:
    old = TEXTS["002"]
    start, end = locate(old, MEZENTSEV, prefix="eventually said, “")
    prefix, suffix = context(old, start, end)
    new = "Updated 2024.\n" + old
    anchor = reanchor(old, new, start, end, MEZENTSEV, prefix, suffix)
    assert (anchor.status, anchor.start) == ("exact", start + len("Updated 2024.\n"))


def test_a_span_cut_and_pasted_elsewhere_is_moved() -> None:
    old = TEXTS["002"]
    start, end = locate(old, IGNATIEV)
    prefix, suffix = context(old, start, end)
    new = old[:start] + old[end:] + "\n\nStalin to Ignatiev: " + IGNATIEV
    anchor = reanchor(old, new, start, end, IGNATIEV, prefix, suffix)
    assert anchor.status == "moved"
    assert new[anchor.start : anchor.end] == IGNATIEV
    assert anchor.start == new.rindex(IGNATIEV)


def test_context_chooses_among_repeats_when_a_span_moves() -> None:
    old = TEXTS["002"]
    start, end = locate(old, MEZENTSEV, prefix="eventually said, “")
    prefix, suffix = context(old, start, end)
    # both occurrences change position in a rewrite that also edits inside the first
    new = old.replace("The Secret Speech\n\n", "The Speech\n\n", 1).replace(
        "he had difficulty speaking and eventually", "after a long silence he finally"
    )
    anchor = reanchor(old, new, start, end, MEZENTSEV, prefix, suffix)
    assert anchor.status in ("exact", "moved")
    assert anchor.start == new.index(MEZENTSEV, 30)  # the body's, not the headline's


def test_an_edit_inside_the_span_makes_it_fuzzy() -> None:
    old = TEXTS["002"]
    start, end = locate(old, IGNATIEV)
    prefix, suffix = context(old, start, end)
    edited = IGNATIEV.replace("shorten you by a head", "shorten you by one head")
    new = old.replace(IGNATIEV, edited)
    anchor = reanchor(old, new, start, end, IGNATIEV, prefix, suffix)
    assert anchor.status == "fuzzy"
    assert (anchor.start, anchor.end) == (start, start + len(edited))
    assert anchor.exact == new[anchor.start : anchor.end] == edited


def test_a_deleted_span_is_orphaned_not_dropped() -> None:
    old = TEXTS["002"]
    start, end = locate(old, IGNATIEV)
    prefix, suffix = context(old, start, end)
    new = old.replace("Stalin told him curtly, “" + IGNATIEV + "”20", "")
    anchor = reanchor(old, new, start, end, IGNATIEV, prefix, suffix)
    assert (anchor.status, anchor.start, anchor.end, anchor.exact) == ("orphaned", None, None, None)


def test_one_diff_serves_every_span_of_a_revision() -> None:
    old = TEXTS["003"]
    new = old.replace("In the fall of 1955", "In the autumn of 1955").replace(
        "Malenkov:", "G. Malenkov:"
    )
    diff = RevisionDiff(old, new)
    quotes = [
        "I was struck by the fact that not one of the cases I forwarded was denied rehabilitation.",
        "No fight against enemies can explain why party workers were slaughtered.",
        "To say that we did not know is not worthy of members of the Politburo.",
    ]
    for quote in quotes:
        start, end = locate(old, quote)
        prefix, suffix = context(old, start, end)
        shared = reanchor(old, new, start, end, quote, prefix, suffix, diff=diff)
        assert shared == reanchor(old, new, start, end, quote, prefix, suffix)
        assert shared.status == "exact" and new[shared.start : shared.end] == quote
