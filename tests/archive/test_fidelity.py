"""How faithfully a secondary text quotes its primary source, as a teacher would judge it."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import InvalidInput
from archive.fidelity import fidelity

SEEDS = Path(__file__).resolve().parents[2] / "archive" / "corpus" / "seeds"
TEXTS = {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}

# Mezentsev's words as 002 gives them (from Taubman), the source for the quotes below
MEZENTSEV = (
    "The things that were said…God knows what we’re supposed to think…What will happen next? "
    "What will we do?"
)
MIKOYAN = (
    "We have to report what happened, if not to the entire party, then at least to the "
    "delegates of the first congress after Stalin's death."
)


def test_the_same_words_are_exact() -> None:
    result = fidelity(MEZENTSEV, MEZENTSEV)
    assert (result.verdict, result.score) == ("exact", 1.0)
    words = MEZENTSEV.rstrip("?")  # the diff shows words, from the first to the last
    assert result.diff == [{"op": "equal", "source": words, "quote": words}]


def test_a_verbatim_excerpt_is_exact() -> None:
    source = TEXTS["002"][TEXTS["002"].index("Sergei Mezentsev") :][:600]
    assert fidelity("God knows what we’re supposed to think", source).verdict == "exact"


def test_retyped_punctuation_and_contractions_are_normalized() -> None:
    quote = '"The things that were said...God knows what we are supposed to think... What will '
    quote += 'happen next? What will we do?"'
    result = fidelity(quote, MEZENTSEV)
    assert (result.verdict, result.score) == ("normalized", 1.0)
    assert [d["op"] for d in result.diff] == ["equal"]


def test_a_quote_that_leaves_words_out_is_elided() -> None:
    quote = "The things that were said … What will we do?"
    result = fidelity(quote, MEZENTSEV)
    assert result.verdict == "elided"
    assert 0 < result.score < 1
    assert [d["op"] for d in result.diff] == ["equal", "delete", "equal"]
    left_out = result.diff[1]
    assert left_out["quote"] == ""
    assert left_out["source"] == "God knows what we’re supposed to think…What will happen next"


def test_an_elision_marked_with_brackets_is_elided() -> None:
    quote = "We have to report what happened [...] to the delegates of the first congress"
    result = fidelity(quote, MIKOYAN)
    assert result.verdict == "elided"
    assert "if not to the entire party, then at least" in result.diff[1]["source"]


def test_the_source_around_a_quoted_fragment_is_not_an_elision() -> None:
    result = fidelity("the delegates of the first congress", MIKOYAN)
    assert (result.verdict, result.score) == ("exact", 1.0)
    result = fidelity("The delegates of the first Congress", MIKOYAN)
    assert (result.verdict, result.score) == ("normalized", 1.0)


def test_a_changed_word_is_altered_and_shown() -> None:
    quote = "The things that were said…God knows what we’re meant to think"
    result = fidelity(quote, MEZENTSEV)
    assert result.verdict == "altered"
    assert {"op": "replace", "source": "supposed", "quote": "meant"} in result.diff


def test_a_changed_last_word_leaves_the_rest_of_the_source_as_context() -> None:
    """The quote changes its last word and the source goes on: the diff replaces that one
    word, and the score counts only the part of the source the quote covers."""
    source = (
        "After Stalin's death, I began getting letters of people who had been repressed. "
        "I forwarded them, and they were denied rehabilitation."
    )
    quote = "After Stalin's death, I began getting letters of people who had been shot"
    result = fidelity(quote, source)
    assert result.verdict == "altered"
    assert result.diff[-1] == {"op": "replace", "source": "repressed", "quote": "shot"}
    assert result.score > 0.9
    first = fidelity("Beria said it", "Everyone knew that Malenkov said it")
    assert first.diff[0] == {"op": "replace", "source": "Malenkov", "quote": "Beria"}


def test_an_added_word_is_altered_and_shown() -> None:
    quote = "The things that were said, God only knows what we’re supposed to think"
    result = fidelity(quote, MEZENTSEV)
    assert result.verdict == "altered"
    assert {"op": "insert", "source": "", "quote": "only"} in result.diff


def test_more_alteration_scores_lower() -> None:
    slight = fidelity(MIKOYAN.replace("entire", "whole"), MIKOYAN)
    heavy = fidelity(
        "We must tell everyone what happened, or at least the delegates at the first congress.",
        MIKOYAN,
    )
    assert slight.verdict == heavy.verdict == "altered"
    assert 1 > slight.score > heavy.score > 0


def test_elision_that_reverses_the_sense_is_still_only_elided() -> None:
    # every word the quote keeps is the source's, in order: that is what "elided" promises;
    # the diff shows the teacher what went missing
    source = "To say that we did not know is not worthy of members of the Politburo."
    result = fidelity("we did know", source)
    assert result.verdict == "elided"
    assert {"op": "delete", "source": "not", "quote": ""} in result.diff


@pytest.mark.parametrize(("quote", "source"), [("", MIKOYAN), ("… [...]", MIKOYAN), ("a", "…")])
def test_nothing_to_compare_is_invalid(quote: str, source: str) -> None:
    with pytest.raises(InvalidInput):
        fidelity(quote, source)


# --- truncated, punctuation -----------------------------------------------------------------


def test_a_quote_that_stops_short_and_changes_its_last_mark_is_flagged() -> None:
    """The brief's headline: Mezentsev's words up to "think", ended with "!" where he went
    on "…What will happen next?"."""
    result = fidelity(
        "The things that were said…God knows what we’re supposed to think!", MEZENTSEV
    )
    assert result.verdict == "normalized"
    assert result.truncated and result.punctuation
    assert 0.9 < result.score < 1.0


def test_a_whole_sentence_retyped_is_neither_truncated_nor_repunctuated() -> None:
    quote = '"The things that were said...God knows what we are supposed to think... What '
    quote += 'will happen next? What will we do?"'
    result = fidelity(quote, MEZENTSEV)
    assert not result.truncated and not result.punctuation and result.score == 1.0
    whole = fidelity("What will we do?", MEZENTSEV)
    assert (whole.verdict, whole.truncated, whole.punctuation) == ("exact", False, False)


@pytest.mark.parametrize(
    ("quote", "truncated"),
    [
        ("We have to report what happened", True),  # stops short
        ("the delegates of the first congress after Stalin's death.", True),  # starts late
        (MIKOYAN, False),
        ("Then N. S. Khrushchev spoke for four hours.", False),
        ("Khrushchev spoke for four hours.", True),  # "N. S." does not end a sentence
        ("On Feb. 25 the delegates met in closed session.", False),
        ("the delegates met in closed session.", True),  # nor does "Feb."
    ],
)
def test_truncated_follows_the_source_s_sentences(quote: str, truncated: bool) -> None:
    source = (
        MIKOYAN + " On Feb. 25 the delegates met in closed session. Then N. S. Khrushchev "
        "spoke for four hours."
    )
    assert fidelity(quote, source).truncated is truncated


def test_a_changed_mark_between_words_is_punctuation_not_words() -> None:
    changed = fidelity(MIKOYAN.replace("happened,", "happened;"), MIKOYAN)
    assert changed.verdict == "normalized" and changed.punctuation and changed.score < 1
    dropped = fidelity(MIKOYAN.replace("party, then", "party then"), MIKOYAN)
    assert dropped.punctuation
    # a quotation may end without the source's closing mark, or in the same one
    assert not fidelity(MIKOYAN.rstrip("."), MIKOYAN).punctuation
    assert not fidelity("We have to report what happened,", MIKOYAN).punctuation
    assert fidelity("We have to report what happened.", MIKOYAN).punctuation
    # typography is not punctuation: straight or curly quotes, dashes, three dots
    assert not fidelity("He said - it was over...", "He said — it was over…").punctuation
