"""Normalization makes a retyped quote and the archive's text comparable, and maps back."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from archive.text.alignment import find_in_text
from archive.text.normalize import normalize

SEEDS = Path(__file__).resolve().parents[2] / "archive" / "corpus" / "seeds"
TEXTS = {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


def same(a: str, b: str) -> bool:
    return normalize(a).text == normalize(b).text


@pytest.mark.parametrize(
    ("archived", "retyped"),
    [
        ("“God knows what we’re supposed to think”", '"God knows what we\'re supposed to think"'),
        ("the ‘Secret Speech’", "the 'Secret Speech'"),
        ("Khrushchev’s not-so-secret Secret Speech", "Khrushchev's not so secret Secret Speech"),
        ("his direct – even brash – personal style", "his direct - even brash - personal style"),
        ("his direct – even brash", "his direct—even brash"),
        ("The things that were said…God knows", "The things that were said...God knows"),
        ("The things that were said…God knows", "The things that were said . . . God knows"),
        (
            "a closed session\n\nof the Twentieth  Party Congress",
            "a closed session of the Twentieth Party Congress",
        ),
        ("THE SECRET SPEECH", "the secret speech"),
        ("Straße", "STRASSE"),
        ("Cardinal József Mindszenty", "Cardinal Jozsef Mindszenty"),
        ("ﬁnal", "final"),
        ("ＵＳＳＲ", "USSR"),
        ("He [Stalin] was a coward.", "He was a coward."),
        (
            "the affair of the doctor plotters. [Animation in the hall.] Actually",
            "the affair of the doctor plotters. Actually",
        ),
        ("“we have now proven… [were] fabricated”", "we have now proven fabricated"),
        ("could not therefore intervene…]”18.", "could not therefore intervene."),
        (
            "Stalin’s purges and his cult of personality1.",
            "Stalin's purges and his cult of personality.",
        ),
        ("made in the Soviet media2. But copies", "made in the Soviet media. But copies"),
        ("He condemned them as “revisionist”26 and", "He condemned them as revisionist and"),
        ("chop us down at the roots.”11", "chop us down at the roots."),
        ("on 5th June 19563. It caused a sensation.", "on 5th June 1956. It caused a sensation."),
        ("eight months later in 195628.", "eight months later in 1956."),
        ("exiled to Kazakhstan in 195725.", "exiled to Kazakhstan in 1957."),
        ("between 1949 and1950, fabricated", "between 1949 and 1950 fabricated"),
        (
            "gave the speech to 1,430 congress delegates",
            "gave the speech to 1430 congress delegates",
        ),
        ("If we don't do this at this congress", "If we do not do this at this congress"),
        ("what we’re supposed to think", "what we are supposed to think"),
        ("You cannot trick history.", "You can't trick history."),
        ("They won't forgive us.", "They will not forgive us."),
        (
            "I'm sure they'll know, and we've seen it",
            "I am sure they will know, and we have seen it",
        ),
    ],
)
def test_retyped_forms_normalize_alike(archived: str, retyped: str) -> None:
    assert same(archived, retyped), (normalize(archived).text, normalize(retyped).text)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("cult of personality", "cult of the personality"),
        ("5th June 1956", "5th June 1957"),
        ("1,430 delegates", "1,431 delegates"),
        ("20000 members", "2000 members"),  # a year followed by 0 is not a year with a note
        ("Stalin's death", "Stalin is death"),  # 's is not expanded: it may be is, has or whose
    ],
)
def test_different_words_stay_different(a: str, b: str) -> None:
    assert not same(a, b)


def test_normalized_text_is_single_spaced_words() -> None:
    n = normalize("  “The things that were said…God knows!”\n\n— Mezentsev, 195610  ")
    assert n.text == "the things that were said god knows mezentsev 1956"
    assert n.words == tuple(n.text.split(" "))


def test_each_word_maps_back_to_its_original_word() -> None:
    text = TEXTS["002"]
    n = normalize(text)
    for k, word in enumerate(n.words):
        start, end = n.to_original(n.starts[k], n.starts[k] + len(word))
        assert (start, end) == (n.ostarts[k], n.oends[k])
        original = text[start:end]
        assert original.strip() == original and original
    i = n.text.index("5th june 1956 it")
    start, end = n.to_original(i, i + len("5th june 1956"))
    assert text[start:end] == "5th June 1956"  # the note digit 3 of `19563` left out
    assert text[end] == "3"


def test_reshaped_words_map_to_the_whole_original_token() -> None:
    text = "what we’re supposed to think; Stalin’s crimes"
    n = normalize(text)
    i = n.text.index("are")
    assert text[slice(*n.to_original(i, i + 3))] == "’re"
    i = n.text.index("stalins")
    assert text[slice(*n.to_original(i + 2, i + 4))] == "Stalin’s"  # inside a joined word
    i = n.text.index("supposed")
    assert text[slice(*n.to_original(i + 1, i + 4))] == "upp"  # a plain word maps exactly


def test_a_separating_space_maps_to_the_original_gap() -> None:
    text = "said…God"
    n = normalize(text)
    assert text[slice(*n.to_original(4, 5))] == "…"


def test_empty_and_wordless_texts() -> None:
    assert normalize("").text == ""
    assert normalize("… — [Animation in the hall.] “”").words == ()
    assert normalize("").to_original(0, 0) == (0, 0)


SEED_TEXT = TEXTS["002"]
SEED_NORM = normalize(SEED_TEXT)


def _alone(k: int) -> bool:
    """Word k normalizes to itself when cut out of its context (not half a contraction)."""
    o, e = SEED_NORM.ostarts[k], SEED_NORM.oends[k]
    return normalize(SEED_TEXT[o:e]).words == (SEED_NORM.words[k],)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SEED_NORM.words) - 1), st.integers(1, 40))
def test_a_slice_of_a_seed_is_found_at_its_original_offsets(first: int, length: int) -> None:
    last = min(len(SEED_NORM.words), first + length) - 1
    assume(_alone(first) and _alone(last))
    start, end = SEED_NORM.ostarts[first], SEED_NORM.oends[last]
    piece = SEED_TEXT[start:end]
    normalized_piece = normalize(piece).text
    assert normalized_piece == " ".join(SEED_NORM.words[first : last + 1])
    # the normalized slice occurs in the normalized text, and maps back to where it was cut
    found = set()
    i = SEED_NORM.text.find(normalized_piece)
    while i != -1:
        found.add(SEED_NORM.to_original(i, i + len(normalized_piece)))
        i = SEED_NORM.text.find(normalized_piece, i + 1)
    assert (start, end) in found
    assert any(
        (m.start, m.end) == (start, end) for m in find_in_text(piece, SEED_TEXT, min_score=0.9)
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SEED_TEXT)), st.integers(1, 300))
def test_any_original_range_maps_to_words_that_overlap_it(start: int, length: int) -> None:
    end = min(len(SEED_TEXT), start + length)
    i, j = SEED_NORM.from_original(start, end)
    assume(i < j)  # else nothing but punctuation, spaces, brackets or note numbers lie there
    o, e = SEED_NORM.to_original(i, j)
    assert o < end and start < e
