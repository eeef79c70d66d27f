"""Citation formats: CSL-JSON validation, formatted references in the shipped styles, BibTeX."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import csl
from archive.errors import InvalidInput

STYLES = ["chicago-notes-bibliography", "chicago-author-date", "apa", "modern-language-association"]

# The notes of the corpus, as the citations module stores them.
TAUBMAN = {  # "Taubman, William (2003), Khrushchev: The Man and His Era, W.W. Norton & Co., p 273"
    "id": "taubman-2003-p273",
    "type": "book",
    "author": [{"family": "Taubman", "given": "William"}],
    "title": "Khrushchev: The Man and His Era",
    "publisher": "W.W. Norton & Co.",
    "issued": {"date-parts": [[2003]]},
    "page": "273",
}
TROMLY = {  # "Benjamin Tromly (2004) The Leningrad affair ..., Europe-Asia Studies, 56:5, 707-729"
    "id": "tromly-2004",
    "type": "article-journal",
    "author": [{"family": "Tromly", "given": "Benjamin"}],
    "title": "The Leningrad affair and Soviet patronage politics, 1949–1950",
    "container-title": "Europe-Asia Studies",
    "volume": "56",
    "issue": "5",
    "page": "707-729",
    "DOI": "10.1080/0966813041000235119",
    "issued": {"date-parts": [[2004]]},
}
DAVIES = {  # "A.J. Davies, To Build A New Jerusalem. London: Abacus, 1996, p. 179"
    "id": "davies-1996",
    "type": "book",
    "author": [{"family": "Davies", "given": "A.J."}],
    "title": "To Build A New Jerusalem",
    "publisher": "Abacus",
    "publisher-place": "London",
    "issued": {"date-parts": [[1996]]},
    "page": "179",
}
FREEZE = {"id": "freeze-418", "type": "book", "author": [{"family": "Freeze"}], "page": "418"}
MOSKOVSKIYE_NOVOSTI = {  # "Moskovskiye Novosti, Feb. 4-11."
    "id": "mn-feb",
    "type": "article-newspaper",
    "container-title": "Moskovskiye Novosti",
    "issued": {"literal": "Feb. 4-11"},
}
SAMPLES = [TAUBMAN, TROMLY, DAVIES, FREEZE, MOSKOVSKIYE_NOVOSTI]

# What a reader must find in every style: who, what, where (case-insensitively; APA uses
# sentence case for article titles).
VISIBLE = {
    "taubman-2003-p273": ["Taubman", "Khrushchev: The Man and His Era", "273"],
    "tromly-2004": ["Tromly", "The Leningrad affair and Soviet patronage politics", "707"],
    "davies-1996": ["Davies", "To Build A New Jerusalem", "179"],
    "freeze-418": ["Freeze", "418"],
    "mn-feb": ["Moskovskiye Novosti", "Feb. 4-11"],
}


def shared_dir() -> Path:
    return Path(
        os.environ.get("ARCHIVE_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared"
    )


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("item", SAMPLES, ids=lambda item: item["id"])
def test_sample_items_are_valid_csl_json(item: dict) -> None:
    csl.validate_csl(item)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"id": "x", "title": "No type"}, "type"),
        ({"type": "book", "title": "No id"}, "id"),
        ({**TAUBMAN, "type": "newspaper"}, "type"),
        ({**TAUBMAN, "issued": "2003"}, "issued"),
        ({**TAUBMAN, "issued": {"date-parts": [[2003, 1, 2, 3]]}}, "issued"),
        ({**TAUBMAN, "author": [{"famly": "Taubman"}]}, "famly"),
        ({**TAUBMAN, "author": "William Taubman"}, "author"),
        ({**TAUBMAN, "pages": "273"}, "pages"),
        ({**TAUBMAN, "title": ["Khrushchev"]}, "title"),
    ],
)
def test_invalid_items_are_refused_naming_the_field(item: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        csl.validate_csl(item)
    assert field in raised.value.detail
    assert field in [str(part) for part in raised.value.extra["errors"][0]["loc"]]


def test_a_list_is_not_an_item() -> None:
    with pytest.raises(InvalidInput, match="object"):
        csl.validate_csl([TAUBMAN])  # type: ignore[arg-type]


def test_formatting_an_invalid_item_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="type"):
        csl.format_text([{"id": "x"}])
    with pytest.raises(InvalidInput, match="type"):
        csl.to_bibtex([{"id": "x"}])


# --- formatted text ---------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("item", SAMPLES, ids=lambda item: item["id"])
def test_each_sample_shows_author_title_and_page_in_every_style(item: dict, style: str) -> None:
    (text,) = csl.format_text([item], style)
    for expected in VISIBLE[item["id"]]:
        assert expected.casefold() in text.casefold(), (style, text)


@pytest.mark.parametrize("style", STYLES)
def test_citation_form_carries_the_page_cited(style: str) -> None:
    (text,) = csl.format_text([TAUBMAN], style, form="citation")
    assert "Taubman" in text and "273" in text


def test_chicago_notes_bibliography_is_the_default() -> None:
    default = csl.format_text(SAMPLES)
    assert default == csl.format_text(SAMPLES, "chicago-notes-bibliography")
    assert default != csl.format_text(SAMPLES, "apa")
    assert default[0] == (
        "Taubman, William. Khrushchev: The Man and His Era. W.W. Norton & Co., 2003. p. 273."
    )
    assert csl.DEFAULT_STYLE == "chicago-notes-bibliography"


def test_chicago_note_is_a_full_footnote() -> None:
    (note,) = csl.format_text([TAUBMAN], form="citation")
    assert (
        note == "William Taubman, Khrushchev: The Man and His Era (W.W. Norton & Co., 2003), 273."
    )


def test_in_text_citations() -> None:
    assert csl.format_text([TAUBMAN], "apa", "citation") == ["(Taubman, 2003, p. 273)"]
    assert csl.format_text([TAUBMAN], "chicago-author-date", "citation") == ["(Taubman 2003, 273)"]
    # not "(Taubman, Khrushchev: The Man and His Era 273)": one work needs no disambiguating
    assert csl.format_text([TAUBMAN], "mla", "citation") == ["(Taubman 273)"]


def test_output_keeps_input_order_one_entry_per_item() -> None:
    texts = csl.format_text([TROMLY, TAUBMAN, TROMLY], "apa")
    assert len(texts) == 3
    assert texts[0].startswith("Tromly") and texts[1].startswith("Taubman")
    assert texts[2] == texts[0]


def test_aliases_and_letter_case() -> None:
    assert csl.format_text([TROMLY], "chicago") == csl.format_text([TROMLY])
    assert csl.format_text([TROMLY], "mla") == csl.format_text(
        [TROMLY], "modern-language-association"
    )
    assert csl.format_text([TROMLY], "APA") == csl.format_text([TROMLY], "apa")
    assert set(csl.STYLES.values()) == set(STYLES)


def test_unknown_style_lists_the_available_ones() -> None:
    with pytest.raises(InvalidInput) as raised:
        csl.format_text([TAUBMAN], "harvard")
    for name in [*STYLES, "chicago", "mla"]:
        assert name in raised.value.detail


def test_unknown_form_is_refused() -> None:
    with pytest.raises(InvalidInput, match="form"):
        csl.format_text([TAUBMAN], form="footnote")  # type: ignore[arg-type]


def test_given_names_are_spelled_out_where_the_style_says_so() -> None:
    assert csl.format_text([TAUBMAN], "chicago")[0].startswith("Taubman, William.")
    assert csl.format_text([TAUBMAN], "mla")[0].startswith("Taubman, William.")
    assert csl.format_text([TAUBMAN], "apa")[0].startswith("Taubman, W. (2003).")


def test_article_keeps_its_page_range_and_american_punctuation() -> None:
    (text,) = csl.format_text([TROMLY], "chicago")
    assert text == (
        "Tromly, Benjamin. “The Leningrad Affair and Soviet Patronage Politics, 1949–1950.” "
        "Europe-Asia Studies 56, no. 5 (2004): 707–29. "
        "https://doi.org/10.1080/0966813041000235119."
    )


def test_pinpoint_from_locator_is_kept() -> None:
    item = {**TAUBMAN, "id": "taubman-475"}
    del item["page"]
    item["locator"] = "475-476"
    assert csl.format_text([item])[0].endswith("2003. pp. 475–476.")
    assert csl.format_text([item], "apa", "citation") == ["(Taubman, 2003, pp. 475–476)"]


def test_unsigned_newspaper_without_year_reads_cleanly() -> None:
    chicago, apa = (csl.format_text([MOSKOVSKIYE_NOVOSTI], s)[0] for s in ("chicago", "apa"))
    assert chicago == "Moskovskiye Novosti. Feb. 4-11."  # no stray "Edition", no doubled name
    assert apa.count("Feb. 4-11") == 1
    for style in STYLES:
        (text,) = csl.format_text([MOSKOVSKIYE_NOVOSTI], style)
        assert text.count("Moskovskiye Novosti") == 1, (style, text)


ANONYMOUS_BOOK = {
    "id": "khrushchev-remembers",
    "type": "book",
    "title": "Khrushchev Remembers",
    "publisher": "Little, Brown",
    "issued": {"date-parts": [[1970]]},
}
UNSIGNED_ARTICLE = {
    "id": "pravda-heirs",
    "type": "article-newspaper",
    "title": "Stalin's Heirs",
    "container-title": "Pravda",
    "issued": {"date-parts": [[1962, 10, 21]]},
    "page": "1",
}


def test_a_title_standing_in_for_the_author_is_printed_once() -> None:
    assert csl.format_text([ANONYMOUS_BOOK, UNSIGNED_ARTICLE], "apa") == [
        "Khrushchev Remembers. (1970). Little, Brown.",
        "Stalin's Heirs. (1962, October 21). Pravda, 1.",
    ]
    assert csl.format_text([ANONYMOUS_BOOK], "chicago-author-date") == [
        "Khrushchev Remembers. 1970. Little, Brown."
    ]
    assert csl.format_text([UNSIGNED_ARTICLE], "mla") == [
        "“Stalin's Heirs.” Pravda, 21 Oct. 1962, p. 1."
    ]


def test_items_chicago_keeps_out_of_bibliographies_get_their_note() -> None:
    speech = {
        "id": "secret-speech",
        "type": "speech",
        "author": [{"family": "Khrushchev", "given": "Nikita"}],
        "title": "On the Cult of Personality and Its Consequences",
        "event-title": "20th Congress of the CPSU",
        "event-place": "Moscow",
        "issued": {"date-parts": [[1956, 2, 25]]},
    }
    assert csl.format_text([speech]) == [
        "Nikita Khrushchev, “On the Cult of Personality and Its Consequences,” 20th Congress of "
        "the CPSU, Moscow, February 25, 1956."
    ]


def test_csl_1_0_2_variables_are_printed() -> None:
    film = {
        "id": "ivan",
        "type": "motion_picture",
        "director": [{"family": "Eisenstein", "given": "Sergei"}],
        "title": "Ivan the Terrible",
        "issued": {"date-parts": [[1944]]},
    }
    report = {
        "id": "pospelov",
        "type": "manuscript",
        "title": "Report of the Pospelov Commission",
        "archive": "RGANI",
        "archive_location": "f. 3, op. 8",
        "issued": {"date-parts": [[1956, 2, 9]]},
    }
    assert csl.format_text([film], "apa")[0].startswith("Eisenstein, S. (director). (1944).")
    assert "f. 3, op. 8" in csl.format_text([report], "mla")[0]


def test_a_year_alone_is_a_date() -> None:
    for style in STYLES:
        assert "1996" in csl.format_text([DAVIES], style)[0]


SPARSE = [
    {"id": "bare", "type": "book"},
    {"id": 7, "type": "webpage", "title": "Pravda online"},
    {"id": "given-only", "type": "speech", "author": [{"given": "Anastas"}], "title": "Speech"},
    {"id": "literal", "type": "report", "author": [{"literal": "CPSU Central Committee"}]},
    {"id": "string-date", "type": "book", "title": "T", "issued": {"date-parts": [["1956", "6"]]}},
    {"id": "season", "type": "book", "title": "T", "issued": {"season": "spring"}},
    {"id": "raw-date", "type": "book", "title": "T", "issued": {"raw": "1956-02-25"}},
    {"id": "word-date", "type": "book", "title": "T", "issued": {"date-parts": [["spring"]]}},
    {"id": "range", "type": "book", "title": "T", "issued": {"date-parts": [[1949], [1950]]}},
    {"id": "no-month", "type": "book", "issued": {"date-parts": [[1956, 13, 40]]}},
    {"id": "empty", "type": "chapter", "title": "", "author": [{}], "page": ""},
    {"id": "numbers", "type": "article-journal", "volume": 56, "issue": 5, "page": 707},
    {
        "id": "extras",
        "type": "motion_picture",
        "director": [{"family": "Eisenstein"}],
        "categories": ["film"],
        "custom": {"x": 1},
        "event-title": "Congress",
        "note": "<i>x</i>",
    },
    {"id": "Ёлка", "type": "book", "title": '<span class="nocase">iPhone</span> & <b>us</b>'},
]


@pytest.mark.parametrize("item", SPARSE, ids=lambda item: str(item["id"]))
def test_sparse_items_render_in_every_style(item: dict) -> None:
    for style in STYLES:
        for form in ("bibliography", "citation"):
            (text,) = csl.format_text([item], style, form)
            assert text.strip(), (style, form)
            assert "<" not in text and "None" not in text, (style, form, text)


def test_literal_names_and_string_dates_come_through() -> None:
    (text,) = csl.format_text([SPARSE[3]], "chicago")
    assert "CPSU Central Committee" in text
    (text,) = csl.format_text([SPARSE[4]], "apa")
    assert "1956" in text


_SCHEMA = json.loads(csl.SCHEMA_PATH.read_text())["items"]["properties"]
_TEXT = st.text(max_size=8) | st.sampled_from(
    ["", "273", "707-729", "2nd", "Feb. 4-11", "A & B", "{x}", "<i>Pravda</i>", "0/0"]
)
_NAME = st.fixed_dictionaries(
    {},
    optional={
        part: _TEXT for part in ("family", "given", "literal", "suffix", "non-dropping-particle")
    },
)
_DATE = st.fixed_dictionaries(
    {},
    optional={
        "date-parts": st.lists(
            st.lists(
                st.integers(-500, 2100) | st.sampled_from(["1956", "x", "0"]),
                min_size=1,
                max_size=3,
            ),
            min_size=1,
            max_size=2,
        ),
        "literal": _TEXT,
        "raw": _TEXT,
        "season": _TEXT,
        "circa": st.booleans(),
    },
)
_ITEMS = st.fixed_dictionaries(
    {"id": _TEXT | st.integers(), "type": st.sampled_from(_SCHEMA["type"]["enum"])},
    optional={
        "author": st.lists(_NAME, max_size=3),
        "editor": st.lists(_NAME, max_size=2),
        "director": st.lists(_NAME, max_size=1),
        "issued": _DATE,
        "accessed": _DATE,
        "title": _TEXT,
        "container-title": _TEXT,
        "publisher": _TEXT,
        "publisher-place": _TEXT,
        "page": _TEXT | st.integers(0, 999),
        "locator": _TEXT,
        "volume": _TEXT | st.integers(0, 99),
        "issue": _TEXT,
        "edition": _TEXT | st.integers(0, 9),
        "language": st.sampled_from(["en", "ru", "de-DE", ""]),
        "URL": _TEXT,
        "DOI": _TEXT,
    },
)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ITEMS)
def test_any_valid_item_renders_without_error(item: dict) -> None:
    csl.validate_csl(item)  # the strategy only makes valid items
    for style in STYLES:
        for form in ("bibliography", "citation"):
            (text,) = csl.format_text([item], style, form)
            assert text.strip()
    assert _parse_bibtex(csl.to_bibtex([item]))


# --- BibTeX -----------------------------------------------------------------------------------


def _parse_bibtex(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """A strict little BibTeX reader: entries, keys, fields; braces must balance."""
    entries = []
    position = 0
    entry = re.compile(r"\s*@(\w+)\{([^,\s{}]+),\s*")
    field = re.compile(r"([a-z]+)\s*=\s*")
    while text[position:].strip():
        match = entry.match(text, position)
        assert match, f"no entry at {text[position : position + 40]!r}"
        kind, key, position = match.group(1), match.group(2), match.end()
        fields: dict[str, str] = {}
        while text[position] != "}":
            match = field.match(text, position)
            assert match, f"no field at {text[position : position + 40]!r}"
            name, position = match.group(1), match.end()
            if text[position] == "{":
                depth, start = 0, position
                while True:  # like BibTeX, count every brace, backslash or not
                    char = text[position]
                    depth += {"{": 1, "}": -1}.get(char, 0)
                    position += 1
                    if depth == 0:
                        break
                value = text[start + 1 : position - 1]
            else:
                match = re.compile(r"\w+").match(text, position)
                assert match, "a bare value must be a macro or a number"
                value, position = match.group(), match.end()
            assert name not in fields, f"{name} twice in {key}"
            fields[name] = value
            match = re.compile(r"\s*,?\s*").match(text, position)
            position = match.end()
        position += 1
        entries.append((kind, key, fields))
    return entries


def test_bibtex_entry_types_keys_and_fields() -> None:
    webpage = {
        "id": "figes-essay",
        "type": "webpage",
        "title": "The Secret Speech",
        "URL": "https://www.orlandofiges.info/section9_ThePostwarPeriod/TheSecretSpeech.php",
        "container-title": "orlandofiges.info",
        "issued": {"date-parts": [[2014]]},
    }
    chapter = {
        "id": "chapter",
        "type": "chapter",
        "title": "Stalin's Death",
        "container-title": "The Soviet Union",
        "editor": [{"family": "Service", "given": "Robert"}],
        "page": "1-20",
    }
    entries = _parse_bibtex(csl.to_bibtex([*SAMPLES, webpage, chapter]))
    kinds = {key: kind for kind, key, _ in entries}
    assert kinds == {
        "taubman-2003-p273": "book",
        "tromly-2004": "article",
        "davies-1996": "book",
        "freeze-418": "book",
        "mn-feb": "article",
        "figes-essay": "misc",
        "chapter": "incollection",
    }
    fields = {key: value for _, key, value in entries}
    assert fields["tromly-2004"] == {
        "author": "Tromly, Benjamin",
        "title": "{The Leningrad affair and Soviet patronage politics, 1949–1950}",
        "journal": "Europe-Asia Studies",
        "volume": "56",
        "number": "5",
        "pages": "707--729",
        "year": "2004",
        "doi": "10.1080/0966813041000235119",
    }
    assert fields["taubman-2003-p273"]["publisher"] == r"W.W. Norton \& Co."
    assert fields["taubman-2003-p273"]["pages"] == "273"
    assert fields["davies-1996"]["address"] == "London"
    assert fields["davies-1996"]["year"] == "1996"
    assert fields["freeze-418"] == {"author": "Freeze", "pages": "418"}
    assert fields["mn-feb"]["journal"] == "Moskovskiye Novosti"
    assert fields["mn-feb"]["note"] == "Feb. 4-11"  # the only date there is
    assert fields["figes-essay"]["url"] == webpage["URL"]
    assert fields["chapter"]["booktitle"] == "{The Soviet Union}"
    assert fields["chapter"]["editor"] == "Service, Robert"


def test_bibtex_escapes_special_characters_but_not_urls() -> None:
    item = {
        "id": "odd",
        "type": "report",
        "title": "50% of {all} cases_1 & #2 ~ $3 ^ \\",
        "publisher": "R&D",
        "URL": "https://example.org/a_b?x=1%20&y=2",
        "author": [{"family": "De Gaulle", "given": "Charles"}, {"literal": "Smith and Co"}],
    }
    ((kind, key, fields),) = _parse_bibtex(csl.to_bibtex([item]))
    assert kind == "techreport"
    assert fields["title"] == (
        r"{50\% of \textbraceleft{}all\textbraceright{} cases\_1 \& \#2 "
        r"\textasciitilde{} \$3 \textasciicircum{} \textbackslash{}}"
    )
    assert fields["institution"] == r"R\&D"
    assert fields["url"] == "https://example.org/a_b?x=1%20&y=2"
    # "and" inside an institution's name must not split it into two authors
    assert fields["author"] == "{De Gaulle}, Charles and {Smith and Co}"


def test_bibtex_keys_are_stable_and_distinct() -> None:
    first = {**TAUBMAN, "id": "Khrushchev 1956/§1"}
    second = {**TROMLY, "id": "Khrushchev 1956/§1"}
    russian = {**DAVIES, "id": "Хрущёв"}
    text = csl.to_bibtex([first, second, russian])
    assert text == csl.to_bibtex([first, second, russian])
    keys = [key for _, key, _ in _parse_bibtex(text)]
    assert keys[:2] == ["Khrushchev-1956/1", "Khrushchev-1956/1-2"]
    assert keys[2].startswith("item-") and keys[2].isascii()
    assert csl.citation_key(first) == keys[0]


def test_bibtex_month_and_rich_text() -> None:
    item = {
        "id": "pravda",
        "type": "article-newspaper",
        "container-title": "Pravda",
        "title": 'On <i>the</i> <span class="nocase">USSR</span>',
        "issued": {"date-parts": [[1956, 2, 25]]},
    }
    ((_, _, fields),) = _parse_bibtex(csl.to_bibtex([item]))
    assert fields["month"] == "feb" and fields["year"] == "1956"
    assert fields["title"] == r"{On \textit{the} {USSR}}"


# --- shipped files ----------------------------------------------------------------------------


def test_shipped_styles_and_schema_are_the_published_files() -> None:
    external = shared_dir() / "external"
    if not external.is_dir():
        pytest.skip(f"third-party originals not found at {external}")
    for name in STYLES:
        shipped = (csl.STYLES_DIR / f"{name}.csl").read_bytes()
        assert shipped == (external / "csl-styles" / f"{name}.csl").read_bytes(), name
    assert (
        csl.SCHEMA_PATH.read_bytes()
        == (external / "csl" / "schemas" / "input" / "csl-data.json").read_bytes()
    )
    assert (csl.STYLES_DIR / "README.md").read_text().count("https://citationstyles.org/")
    assert (csl.SCHEMA_PATH.parent / "LICENSE-csl-schema.txt").read_text().startswith("MIT")
