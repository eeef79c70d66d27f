"""Quote lookup in one text: what a teacher who pastes a quotation gets back.

The calibration of DEFAULT_MIN_SCORE is checked at the end against the shared benchmark
corpus (`shared/bench/make_corpus.py`): every planted, damaged quote is found where it was
planted, and the quotes planted nowhere match nothing in any of the 1,000 texts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from archive.text.alignment import (
    DEFAULT_MIN_SCORE,
    QuoteMatch,
    block_patterns,
    block_places,
    candidate_terms,
    find_in_text,
    index_blocks,
    index_tokens,
)
from archive.text.normalize import normalize

SEEDS = Path(__file__).resolve().parents[2] / "archive" / "corpus" / "seeds"
TEXTS = {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}
MAKE_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "bench" / "make_corpus.py"

IGNATIEV = "If you do not obtain confessions from the doctors we will shorten you by a head."
MEZENTSEV = "The things that were said…God knows what we’re supposed to think"
MIKOYAN = (
    "We have to report what happened, if not to the entire party, then at least to the "
    "delegates of the first congress after Stalin's death."
)
ABSENT = [
    "Workers of the world, unite!",
    "The only thing we have to fear is fear itself.",
    "Ask not what your country can do for you, ask what you can do for your country.",
    "Mr. Gorbachev, tear down this wall!",
    "One death is a tragedy; a million deaths is a statistic.",
    "Khrushchev banged his shoe on the desk at the United Nations.",
    "The Hungarian revolution was crushed by Soviet tanks in November 1956.",
]


def occurrences(text: str, passage: str) -> list[tuple[int, int]]:
    found, i = [], text.find(passage)
    while i != -1:
        found.append((i, i + len(passage)))
        i = text.find(passage, i + 1)
    return found


def spans(matches: list[QuoteMatch]) -> list[tuple[int, int]]:
    return [(m.start, m.end) for m in matches]


def test_a_verbatim_quote_is_an_exact_match_at_its_offsets() -> None:
    text = TEXTS["002"]
    [match] = find_in_text(IGNATIEV, text)
    assert (match.start, match.end) == occurrences(text, IGNATIEV)[0]
    assert (match.score, match.match) == (1.0, "exact")


def test_every_occurrence_is_reported() -> None:
    text = TEXTS["002"]
    expected = occurrences(text, MEZENTSEV)
    assert len(expected) == 2  # the headline and Mezentsev's words in the body
    assert sorted(spans(find_in_text(MEZENTSEV, text))) == expected
    retyped = "The things that were said...God knows what we're supposed to think"
    matches = find_in_text(retyped, text)
    assert sorted(spans(matches)) == expected
    assert {m.match for m in matches} == {"normalized"}


# (seed, what the teacher pastes, the passage of the seed it should find)
DAMAGED = [
    ("002", "The things that were said...God knows what we are supposed to think", MEZENTSEV),
    ("002", "If you don't obtain confessions from the doctors we will shorten you by a head.",
     IGNATIEV),
    ("002", "If you do not obtain\nconfessions from the doctors\nwe will shorten you by a head.",
     IGNATIEV),
    ("002", "if you do not obtain confessions from the doctors we will shorten you by a head.",
     IGNATIEV),
    ("002", "If you do not obtain confesions from the doctors we will you by a head.", IGNATIEV),
    ("002", "If you do not obtain confessions form the doctors we will shorten you by the head.",
     IGNATIEV),
    ("002", "published by the New York Times on 5th June 1956",
     "published by the New York Times on 5th June 1956"),
    ("002", "He was a coward. He panicked.", "He [Stalin] was a coward. He panicked."),
    ("002", "cult of personality. It has become known as the 'Secret Speech'.",
     "cult of personality1. It has become known as the ‘Secret Speech’."),
    ("002", "I will shake my little finger and there will be no more Tito, he will fall",
     "I will shake my little finger and there will be no more Tito. He will fall"),
    ("002", "Comrades, we must abolish the cult of the individual decisively once and for all",
     "Comrades, we must abolish the cult of the individual decisively, once and for all"),
    ("003", MIKOYAN.replace("Stalin's", "Stalin’s"), MIKOYAN),
    ("003", "We have to report what happened, if not to the whole party, then at least to the "
     "delegates of the first congress after Stalin's death", MIKOYAN[:-1]),
    ("003", "If we do not do this at this congress, and someone else does it later",
     "If we don't do this at this congress, and someone else does it later"),
    ("003", "You cannot trick history. You can't throw the facts away ...",
     "You cannot trick history. You cannot throw the facts away ..."),
    ("001", "the \"cult of personality\" that Stalin allegedly encouraged",
     "the “cult of personality” that Stalin allegedly encouraged"),
    ("004", "spelled out by some 26000 words in Khrushchev's speech",
     "spelled out by some 26,000 words in Khrushchev’s speech"),
]  # fmt: skip


@pytest.mark.parametrize(("seed", "query", "passage"), DAMAGED)
def test_a_damaged_quote_is_found_where_the_passage_is(seed: str, query: str, passage: str) -> None:
    text = TEXTS[seed]
    expected = occurrences(text, passage)
    matches = find_in_text(query, text)
    assert len(matches) == len(expected), [text[m.start : m.end] for m in matches]
    for match, (start, end) in zip(sorted(matches, key=lambda m: m.start), expected, strict=True):
        # the reported passage is the archive's own words, whole, where the quote has them
        assert abs(match.start - start) <= 2 and abs(match.end - end) <= 2, text[start:end]
        assert DEFAULT_MIN_SCORE <= match.score < 1.0
        assert match.match in ("normalized", "fuzzy")


def test_a_fuzzy_match_covers_whole_words_and_the_final_full_stop() -> None:
    text = TEXTS["002"]
    [match] = find_in_text(
        "If you do not obtain confesions from the doctors we will you by a head.", text
    )
    assert match.match == "fuzzy"
    assert text[match.start : match.end] == IGNATIEV


def test_kinds_rank_exact_then_normalized_then_fuzzy() -> None:
    text = "We must tell the party. we must tell the party! We must tel the party."
    matches = find_in_text("We must tell the party", text)
    assert [m.match for m in matches] == ["exact", "normalized", "fuzzy"]
    assert matches[0].score > matches[1].score > matches[2].score
    assert [text[m.start : m.end] for m in matches] == [
        "We must tell the party",
        "we must tell the party",
        "We must tel the party",
    ]


def test_repeated_damaged_passages_are_each_found() -> None:
    text = f"{IGNATIEV} Stalin said it again: {IGNATIEV}"
    query = "If you do not obtain confesions from the doctors we will you by a head."
    matches = find_in_text(query, text)
    assert sorted(spans(matches)) == occurrences(text, IGNATIEV)
    assert all(m.match == "fuzzy" for m in matches)


@pytest.mark.parametrize("query", ABSENT)
def test_a_quote_that_is_not_in_the_archive_finds_nothing(query: str) -> None:
    for seed, text in TEXTS.items():
        assert find_in_text(query, text) == [], seed


def test_min_score_filters_approximate_matches() -> None:
    text = TEXTS["002"]
    query = "If you do not obtain confesions from the doctors we will you by a head."
    [match] = find_in_text(query, text)
    assert find_in_text(query, text, min_score=match.score + 0.001) == []
    assert find_in_text(IGNATIEV, text, min_score=1.0)  # exact matches survive any threshold


def test_a_short_query_does_not_match_a_different_short_phrase() -> None:
    text = TEXTS["004"]
    found = {text[m.start : m.end].lower() for m in find_in_text("the speech", text)}
    assert found == {"the speech"}  # not "This speech", "a speech"


def test_a_word_is_never_matched_inside_another() -> None:
    assert find_in_text("Stalin", "Stalinists and anti-Stalinists") == []
    text = "the Stalinist terror and Stalin’s death"
    assert [text[m.start : m.end] for m in find_in_text("Stalin", text)] == ["Stalin"]


def test_a_precomputed_normalization_gives_the_same_matches() -> None:
    text = TEXTS["003"]
    query = "Malenkov: No fight against enemies can explain why party workers were slaughtered"
    plain = find_in_text(query, text)
    assert plain and find_in_text(query, text, normalized_text=normalize(text)) == plain


@pytest.mark.parametrize("query", ["", "   ", "… — “”", "[Animation in the hall.]"])
def test_a_query_without_words_finds_nothing(query: str) -> None:
    assert find_in_text(query, TEXTS["002"]) == []


def test_candidate_terms_are_the_distinctive_words() -> None:
    terms = candidate_terms(IGNATIEV)
    assert terms[0] == "confessions"
    assert set(terms) == {"confessions", "doctors", "shorten", "obtain", "head"}
    assert candidate_terms(MIKOYAN, limit=3) == ["delegates", "happened", "congress"]
    assert candidate_terms("Stalin’s personality1") == ["personality", "stalins"]
    assert candidate_terms("to be or not to be")  # stop words only: still something to look for


def test_candidate_terms_of_a_damaged_quote_still_reach_its_document() -> None:
    words = set(normalize(TEXTS["002"]).words)
    terms = candidate_terms("If you dont obtian confesions from the docters we will you by a head")
    assert terms and words & set(terms)


def _bench_corpus(tmp: Path, docs: int) -> tuple[list[dict], list[dict]]:
    if not MAKE_CORPUS.exists():  # a plain clone: see tests/shared.py
        pytest.skip(f"needs make_corpus.py from the project's shared folder ({MAKE_CORPUS})")
    out, truth = tmp / "corpus.ndjson", tmp / "truth.json"
    subprocess.run(
        [sys.executable, str(MAKE_CORPUS), "--docs", str(docs), "--out", str(out),
         "--truth", str(truth)],
        check=True,
    )  # fmt: skip
    corpus = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return corpus, json.loads(truth.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_benchmark_planted_quotes_are_found_and_absent_ones_are_not(tmp_path: Path) -> None:
    corpus, truth = _bench_corpus(tmp_path, 1000)
    by_id = {d["id"]: d["text"] for d in corpus}
    normalized = {d["id"]: normalize(d["text"]) for d in corpus}
    planted = [t for t in truth if t["document_id"]]
    assert len(planted) >= 10
    for t in planted:
        matches = find_in_text(
            t["query"], by_id[t["document_id"]], normalized_text=normalized[t["document_id"]]
        )
        assert any(
            abs(m.start - t["start"]) <= 3 and abs(m.end - t["end"]) <= 3 for m in matches
        ), t["query"]
    for t in truth:
        if t["document_id"] is None:
            for doc_id, text in by_id.items():
                assert find_in_text(t["query"], text, normalized_text=normalized[doc_id]) == [], (
                    t["query"],
                    doc_id,
                )


# --- blocks: how a lookup asks the full-text index for a passage ---------------------------


def test_index_tokens_fold_case_accents_and_punctuation_as_the_index_does() -> None:
    assert index_tokens("Béria’s “Café”, 1956–57!") == ["beria", "s", "cafe", "1956", "57"]


def test_a_passage_is_cut_into_blocks_of_three_the_last_taking_the_rest() -> None:
    assert index_blocks("You cannot trick history. You cannot throw the facts away.") == [
        ["you", "cannot", "trick"],
        ["history", "you", "cannot"],
        ["throw", "the", "facts", "away"],
    ]
    assert index_blocks("one two three four five", size=2) == [
        ["one", "two"],
        ["three", "four", "five"],
    ]
    assert index_blocks("Stalin") == [["stalin"]]


def test_block_places_find_blocks_across_case_and_punctuation_never_inside_words() -> None:
    text = (
        "We must, abolish it. Yet we mustn't abolish; swe must abolishes. WE MUST ABOLISH "
        "and we must abolish12 (a note marker glued on)"
    )
    places = block_places(text, block_patterns([["we", "must", "abolish"]]))
    assert [text[a:b] for a, b, _ in places] == [
        "We must, abolish",
        "WE MUST ABOLISH",
        "we must abolish",
    ]
