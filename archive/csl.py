"""Citation formats for CSL-JSON items: validation, formatted references and BibTeX.

Everything here works on plain CSL-JSON dicts and knows nothing about the database. Formatted
text comes from citeproc-py with the CSL styles shipped in `archive/styles/` (Citation Style
Language project, CC BY-SA 3.0).

citeproc-py (0.11) accepts less than the CSL-JSON schema allows and crashes or misrenders on
some valid input, so every item is cleaned for it first (`_for_citeproc`) and the output is
tidied afterwards (`_tidy`). The quirks handled are listed beside the code that handles them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from citeproc import DATES as _CITEPROC_DATES
from citeproc import NAMES as _CITEPROC_NAMES
from citeproc import VARIABLES as _CITEPROC_VARIABLES
from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    Locator,
    formatter,
)
from citeproc import model as citeproc_model
from citeproc.source.json import CiteProcJSON
from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match

from archive.errors import InvalidInput

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
STYLES_DIR = _HERE / "styles"
SCHEMA_PATH = _HERE / "schemas" / "csl-data.json"

DEFAULT_STYLE = "chicago-notes-bibliography"

#: Every style name the server accepts, mapped to the style it means (a file in STYLES_DIR).
STYLES: Mapping[str, str] = MappingProxyType(
    {
        "chicago-notes-bibliography": "chicago-notes-bibliography",
        "chicago-author-date": "chicago-author-date",
        "apa": "apa",
        "modern-language-association": "modern-language-association",
        "chicago": "chicago-notes-bibliography",
        "mla": "modern-language-association",
    }
)

Form = Literal["bibliography", "citation"]

# Types whose `page` is the extent of the item inside its container (an article's 707-729).
# For every other type (a book, a report) a `page` can only be the page cited: a pinpoint.
_CONTAINED_TYPES = frozenset(
    {
        "article-journal",
        "article-magazine",
        "article-newspaper",
        "chapter",
        "entry",
        "entry-dictionary",
        "entry-encyclopedia",
        "paper-conference",
        "review",
        "review-book",
        "legal_case",
    }
)


# --- validation -------------------------------------------------------------------------------


@cache
def _validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft7Validator(schema)


def validate_csl(item: dict) -> None:
    """Raise InvalidInput naming the offending field unless `item` is one valid CSL-JSON item.

    The shipped schema describes an array of items, so the item is checked as `[item]`.
    The error's `errors` extra holds `[{loc, msg}]`, `loc` being the path inside the item.
    """
    if not isinstance(item, Mapping):
        raise InvalidInput(
            f"a CSL-JSON item must be an object, not {type(item).__name__}",
            errors=[{"loc": [], "msg": "not an object"}],
        )
    errors = list(_validator().iter_errors([dict(item)]))
    if not errors:
        return
    error = best_match(errors)
    loc: list[str | int] = list(error.absolute_path)[1:]  # drop the array index
    if error.validator == "required":
        loc.append(re.findall(r"'([^']*)'", error.message)[0])
        msg = "is required"
    elif error.validator == "additionalProperties":
        loc.append(_unexpected(error.instance, error.schema)[0])
        msg = "is not a CSL-JSON field"
    elif error.validator == "enum":
        msg = f"{error.instance!r} is not one of the allowed values"
    else:
        msg = error.message
    field = ".".join(str(part) for part in loc) or "item"
    raise InvalidInput(f"invalid CSL-JSON item: {field!r} {msg}", errors=[{"loc": loc, "msg": msg}])


def _unexpected(instance: Any, schema: Mapping[str, Any]) -> list[str]:
    if not isinstance(instance, Mapping):
        return []
    allowed = schema.get("properties", {})
    return sorted(str(key) for key in instance if key not in allowed)


# --- styles -----------------------------------------------------------------------------------


def resolve_style(style: str) -> str:
    """The canonical name of `style` (an alias or any letter case), or InvalidInput."""
    canonical = STYLES.get(str(style).strip().lower())
    if canonical is None:
        available = ", ".join(STYLES)
        raise InvalidInput(f"unknown citation style {style!r}; available: {available}")
    return canonical


@cache
def _style(canonical: str) -> tuple[CitationStylesStyle, threading.Lock]:
    """Parse a shipped style once. The lock serialises rendering: citeproc-py keeps per-render
    state (the formatter, suppressed variables, the cites) on the shared style tree."""
    style = CitationStylesStyle(str(STYLES_DIR / f"{canonical}.csl"), validate=False)
    _push_down_initialize_with(style)
    _guard_labels(style)
    _never_disambiguate(style)
    _MACROS[id(style.root)] = {m.get("name"): m for m in style.root.iterfind(f"{_CS}macro")}
    return style, threading.Lock()


_CS = "{http://purl.org/net/xbiblio/csl}"


# Quirk: citeproc-py finds a macro with an XPath query over the whole style on every use, which
# was two thirds of the time spent rendering with the 240 KB Chicago style. Macros of the styles
# loaded here are looked up in a table instead (keyed by the style's root element, which the
# cached style keeps alive); any other style citeproc-py renders goes the original way.
_MACROS: dict[int, dict[str, Any]] = {}
_xpath_get_macro = citeproc_model.CitationStylesElement.get_macro


def _get_macro(element: Any, name: str) -> Any:
    macro = _MACROS.get(id(element.get_root()), {}).get(name)
    return macro if macro is not None else _xpath_get_macro(element, name)


citeproc_model.CitationStylesElement.get_macro = _get_macro


def _push_down_initialize_with(style: CitationStylesStyle) -> None:
    """Quirk: citeproc-py ignores CSL 1.0.1's `initialize="false"`, so with the style-wide
    `initialize-with=". "` every Chicago and MLA name came out as "Taubman, W.".

    Move `initialize-with` from the style, citation and bibliography elements onto each
    `cs:name` that should initialise, and off every `cs:name` marked `initialize="false"`.
    """
    root = style.root
    inherited = {}
    for element in (root, root.find(f"{_CS}citation"), root.find(f"{_CS}bibliography")):
        if element is not None and "initialize-with" in element.attrib:
            inherited[element] = element.attrib.pop("initialize-with")
    if not inherited:
        return
    style_value = inherited.get(root)
    for section in ("citation", "bibliography"):
        element = root.find(f"{_CS}{section}")
        value = inherited.get(element, style_value) if element is not None else style_value
        if element is not None and value is not None:
            # names written directly inside this section inherit its value
            for name in element.iter(f"{_CS}name"):
                _set_initialize_with(name, value)
    if style_value is not None:
        # names in macros: citeproc-py resolves them against whichever section calls the macro;
        # the style-wide value is the only one these four styles set.
        for macro in root.iter(f"{_CS}macro"):
            for name in macro.iter(f"{_CS}name"):
                _set_initialize_with(name, style_value)


def _set_initialize_with(name: Any, value: str) -> None:
    if name.get("initialize") == "false":
        name.attrib.pop("initialize-with", None)
    elif "initialize-with" not in name.attrib:
        name.set("initialize-with", value)


def _guard_labels(style: CitationStylesStyle) -> None:
    """Quirk: citeproc-py prints a `cs:label` even when its variable is empty, so a newspaper
    without an edition ended "... Feb. 4-11. Edition." CSL prints a label only beside a value:
    wrap each `<label variable="x"/>` in `<choose><if variable="x">`, which says just that."""
    for label in list(style.root.iter(f"{_CS}label")):
        variable = label.get("variable")
        if not variable or variable == "locator":
            continue  # labels inside cs:names, and the locator's, are rendered correctly
        parent = label.getparent()
        choose = parent.makeelement(f"{_CS}choose", {})
        condition = choose.makeelement(f"{_CS}if", {"variable": variable})
        parent.replace(label, choose)
        choose.append(condition)
        condition.append(label)


def _never_disambiguate(style: CitationStylesStyle) -> None:
    """Quirk: citeproc-py does not evaluate `disambiguate="true"` and treats a condition with no
    other test as met, so MLA cited "(Taubman, Khrushchev: The Man and His Era 273)". Items are
    rendered one at a time here, so nothing ever needs disambiguating: make the test false."""
    for tag in ("if", "else-if"):
        for condition in style.root.iter(f"{_CS}{tag}"):
            if condition.attrib.pop("disambiguate", None) != "true":
                continue
            tests = {"type", "variable", "is-numeric", "is-uncertain-date", "locator", "position"}
            if condition.get("match", "all") == "all" or not tests & set(condition.attrib):
                if condition.get("match") == "none":
                    continue  # "none of: disambiguate" holds; with the test gone, so does this
                condition.set("type", "archive-never")  # no item has this type
                condition.attrib.pop("match", None)
                for test in tests - {"type"}:
                    condition.attrib.pop(test, None)


# --- formatted text ---------------------------------------------------------------------------


def format_text(
    items: list[dict], style: str = DEFAULT_STYLE, form: Form = "bibliography"
) -> list[str]:
    """Render each CSL-JSON item as plain text in `style`, one string per item, in input order.

    `form="bibliography"` gives the entry a bibliography or reference list would print;
    `form="citation"` gives the full note (note styles such as Chicago notes-bibliography) or the
    in-text citation (author-date styles), with the page cited.

    A pinpoint (an item's `locator`, or the `page` of a book or other whole work, "p 273") is
    kept: bibliography entries of styles that leave it out get it appended ("... 2003. p. 273.").

    Raises InvalidInput for an unknown style or an item that is not valid CSL-JSON, and nothing
    else: an item citeproc-py cannot cope with falls back to a simpler rendering.
    """
    canonical = resolve_style(style)
    if form not in ("bibliography", "citation"):
        raise InvalidInput(f"unknown citation form {form!r}; available: bibliography, citation")
    for item in items:
        validate_csl(item)
    return [_render_cached(canonical, _cache_key(item), form) for item in items]


def format_one(item: dict, style: str = DEFAULT_STYLE, form: Form = "bibliography") -> str:
    """`format_text` for a single item."""
    return format_text([item], style, form)[0]


def _cache_key(item: Mapping[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False, default=str)


_WORD = re.compile(r"\w")
_NO_DATE = re.compile(r"\bn\.\s?d\.")


def _says_something(text: str) -> bool:
    """Whether a rendering names anything: an item with no author, title or date comes out
    of citeproc as "n.d." alone, which reads like a reference and is none."""
    return bool(_WORD.search(_NO_DATE.sub("", text)))


@lru_cache(maxsize=2048)
def _render_cached(canonical: str, item_json: str, form: Form) -> str:
    item = json.loads(item_json)
    prepared, pinpoint = _for_citeproc(item)
    try:
        text = _render(canonical, prepared, form, pinpoint)
        if not _says_something(text):
            # Chicago's bibliography leaves out speeches, manuscripts and interviews (CMOS cites
            # them in notes only): give the note. MLA cites an item with neither author nor
            # title as "()": give the entry.
            form = "citation" if form == "bibliography" else "bibliography"
            text = _render(canonical, prepared, form, pinpoint)
        if form == "bibliography" and pinpoint and _pinpoint_dropped(canonical, prepared, text):
            text = _append_pinpoint(text, pinpoint)
        if _says_something(text):
            return text
    except Exception:  # citeproc-py raises anything from AttributeError to TypeError
        log.warning(
            "citeproc-py failed on CSL item %r in %s", item.get("id"), canonical, exc_info=True
        )
    return _fallback_text(prepared, pinpoint, str(item.get("id", "")))


def _render(canonical: str, prepared: dict, form: Form, pinpoint: str | None) -> str:
    style, lock = _style(canonical)
    key = prepared["id"]
    locator = Locator("page", pinpoint) if pinpoint and form == "citation" else None
    if locator is not None and prepared.get("type") not in _CONTAINED_TYPES:
        # the page cited goes in the locator; left in `page` too, styles print it twice
        prepared = {k: v for k, v in prepared.items() if k != "page"}
    with lock:
        source = CiteProcJSON([prepared])
        bibliography = CitationStylesBibliography(style, source, formatter.plain)
        cite = CitationItem(key, locator=locator) if locator else CitationItem(key)
        citation = Citation([cite])
        bibliography.register(citation)
        if form == "citation":
            rendered = str(bibliography.cite(citation, lambda _item: None))
        else:
            # Quirk: the bibliography sees the citation item, so a locator there would replace
            # an article's page range ("56, no. 5 (2004): 273"); no locator is passed here.
            entries = bibliography.bibliography()
            rendered = str(entries[0]) if entries else ""
    return _tidy(rendered, _literal_dates(prepared), substituted="author" not in prepared)


def _literal_dates(prepared: Mapping[str, Any]) -> list[str]:
    return [
        value["literal"]
        for value in prepared.values()
        if isinstance(value, Mapping) and isinstance(value.get("literal"), str)
    ]


def _pinpoint_dropped(canonical: str, prepared: dict, text: str) -> bool:
    """True when the style left the pinpoint out of the entry (Chicago omits a book's pages)."""
    if "page" not in prepared or prepared.get("type") in _CONTAINED_TYPES:
        return True  # the pinpoint is a `locator`, which no bibliography entry prints
    without = {k: v for k, v in prepared.items() if k != "page"}
    return _render(canonical, without, "bibliography", None) == text


def _append_pinpoint(text: str, pinpoint: str) -> str:
    text = text.rstrip()
    if text and text[-1] not in ".!?":
        text += "."
    return f"{text} {_page_label(pinpoint)}."


def _page_label(pinpoint: str) -> str:
    pages = re.sub(r"(?<=\w)\s*-+\s*(?=\w)", "\u2013", pinpoint.strip())
    pages = re.sub(r"^(?:pp?\.?|pages?)\s*", "", pages, flags=re.IGNORECASE)
    plural = bool(re.search(r"[\u2013,&]|\band\b", pages))
    return f"{'pp.' if plural else 'p.'} {pages}"


# Tags of CSL-JSON rich text; citeproc-py understands only <span class="nocase">.
_MARKUP = re.compile(r"</?(?:i|b|sup|sub|span)(?:\s[^<>]*)?>", re.IGNORECASE)


def _tidy(text: str, literal_dates: Iterable[str] = (), *, substituted: bool = False) -> str:
    text = _MARKUP.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    # Quirk: citeproc-py ignores the en-US locale's punctuation-in-quote="true", so it printed
    # “... 1949–1950”. where American usage (all four styles) wants “... 1949–1950.”
    text = re.sub(r"([.!?])”[.,]", r"\1”", text)
    text = re.sub(r"”([.,])", r"\1”", text)
    if substituted:
        text = _drop_repeated_substitute(text)
    for literal in literal_dates:
        # Quirk: citeproc-py prints a literal date once per date part the style asks for,
        # so APA gave "(Feb. 4-11, Feb. 4-11)".
        doubled = f"{re.escape(literal)}[,.\\s]+{re.escape(literal)}"
        text = re.sub(doubled, lambda _match, literal=literal: literal, text)
    text = re.sub(r"(?<![.\s])\.\.(?!\.)", ".", text)  # "Co.." but not an ellipsis
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    return text


def _drop_repeated_substitute(text: str) -> str:
    """Quirk: CSL prints a variable that stands in for a missing author only once, but
    citeproc-py does not suppress it when the substitute is a macro. An unsigned newspaper began
    "Moskovskiye Novosti. Moskovskiye Novosti, Feb. 4-11", an anonymous book in APA read
    "Khrushchev Remembers. (1970). Khrushchev Remembers. Little, Brown." The first segment of the
    entry is the substitute; its next appearance as a whole segment is dropped."""
    quoted = re.match(r"(“[^”]{3,}”)() ", text)  # MLA puts an unsigned title first
    match = quoted or re.match(r"([^.,“”\"()\[\]]{3,}?)([.,]) ", text)
    if not match:
        return text
    head, rest = match.group(1), text[match.end() :]
    repeat = re.compile(rf"(?:^|(?<=[.”)] )){re.escape(head)}(?:[.,]? |[.,]$)")
    found = repeat.search(rest)
    if not found:
        return text
    rest = (rest[: found.start()] + rest[found.end() :]).strip()
    if not rest:
        return text[: match.end()].strip()
    return text[: match.end()] + rest


def _fallback_text(prepared: Mapping[str, Any], pinpoint: str | None, item_id: str) -> str:
    """A plain "Author. Title. Container, publisher, date, pages." when citeproc-py fails or
    names nothing; for an item with none of those, its note (what is known of it) or its id."""
    names = [_plain_name(name) for name in prepared.get("author") or prepared.get("editor") or []]
    parts = [", ".join(n for n in names if n)]
    parts.append(str(prepared.get("title") or ""))
    year, _ = _year_month(prepared.get("issued"))
    if not year and isinstance(prepared.get("issued"), Mapping):
        year = _text(prepared["issued"].get("literal"))
    tail = [
        str(prepared.get(key) or "") for key in ("container-title", "publisher-place", "publisher")
    ]
    tail += [year, str(prepared.get("page") or "")]
    parts.append(", ".join(p for p in tail if p))
    text = ". ".join(p.strip().rstrip(".") for p in parts if p.strip())
    if not text:  # nothing identifies a source: say what is known of it, if anything
        return str(prepared.get("note") or "").strip() or f"[{item_id}]"
    text = f"{text}."
    if pinpoint and pinpoint not in text:
        text = _append_pinpoint(text, pinpoint)
    return text


def _plain_name(name: Mapping[str, Any]) -> str:
    if "literal" in name:
        return str(name["literal"])
    return " ".join(str(name[k]) for k in ("given", "family") if name.get(k))


# --- cleaning items for citeproc-py -----------------------------------------------------------


def _teach_citeproc_csl_1_0_2() -> None:
    """Quirk: citeproc-py 0.11 knows the variables of CSL 1.0.1 only, while the shipped styles
    are CSL 1.0.2 and print `event-title`, `director`, `archive_collection`, `volume-title`...
    Unknown fields were turned into their Python repr (names, dates) or never printed, so every
    variable of the CSL-JSON schema is registered with citeproc-py once, as name, date or text."""
    properties = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["items"]["properties"]
    for key, spec in properties.items():
        variable = key.replace("-", "_")
        if key in _NOT_VARIABLES or variable in _CITEPROC_VARIABLES:
            continue
        described = json.dumps(spec)
        if "name-variable" in described:
            _CITEPROC_NAMES.append(variable)
        elif "date-variable" in described:
            _CITEPROC_DATES.append(variable)
        _CITEPROC_VARIABLES.append(variable)


# Item fields that are not variables to print: identity and bookkeeping, the pinpoint (a
# citation's locator), numbers the processor assigns, and CSL-JSON's camel-case aliases.
_NOT_VARIABLES = frozenset(
    {
        "id",
        "type",
        "citation-key",
        "categories",
        "custom",
        "locator",
        "citation-number",
        "first-reference-note-number",
        "year-suffix",
        "shortTitle",
        "journalAbbreviation",
    }
)
_teach_citeproc_csl_1_0_2()
_NAME_VARIABLES = frozenset(_CITEPROC_NAMES)
_DATE_VARIABLES = frozenset(_CITEPROC_DATES)
_TEXT_VARIABLES = frozenset(_CITEPROC_VARIABLES) - _NAME_VARIABLES - _DATE_VARIABLES
_NAME_PARTS = ("family", "given", "dropping-particle", "non-dropping-particle", "suffix")
# CSL-JSON aliases and a CSL 1.0.1 name, mapped to the variables the CSL 1.0.2 styles print.
_RENAMED = {
    "shortTitle": "title-short",
    "journalAbbreviation": "container-title-short",
    "event": "event-title",
}


def _for_citeproc(item: Mapping[str, Any]) -> tuple[dict, str | None]:
    """A copy of `item` citeproc-py renders without crashing, and the item's pinpoint.

    Quirks handled: citeproc-py lower-cases ids (the copy gets a fixed id); it turns lists and
    objects it does not know (`categories`, `custom`) into their Python repr, and warns about
    name parts such as `parse-names` (both dropped); dates
    with only `raw`, only `season`, text parts ("spring"), a day without a month or a month
    outside 1-12 crash it or render as None (cleaned below); an item-level `locator` is a
    pinpoint, not a variable to print.
    """
    out: dict[str, Any] = {"id": "item", "type": item["type"]}
    for key, value in item.items():
        key = _RENAMED.get(key, key)
        variable = key.replace("-", "_")
        if key in _NOT_VARIABLES or key in out:
            continue
        if variable in _NAME_VARIABLES:
            names = _clean_names(value)
            if names:
                out[key] = names
        elif variable in _DATE_VARIABLES:
            date = _clean_date(value)
            if date:
                out[key] = date
        elif variable in _TEXT_VARIABLES and isinstance(value, str | int | float):
            text = str(value).strip()
            if text and not isinstance(value, bool):
                out[key] = text
    pinpoint = _text(item.get("locator"))
    if not pinpoint and item["type"] not in _CONTAINED_TYPES:
        pinpoint = _text(item.get("page"))
    return out, pinpoint or None


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value).strip()


def _clean_names(value: Any) -> list[dict[str, str]]:
    names = []
    for name in value if isinstance(value, list) else []:
        if not isinstance(name, Mapping):
            continue
        literal = _text(name.get("literal"))
        if literal:
            names.append({"literal": literal})
            continue
        parts = {part: _text(name.get(part)) for part in _NAME_PARTS}
        parts = {part: text for part, text in parts.items() if text}
        if "family" not in parts:
            if "given" in parts:  # a mononym ("Voltaire") is kept as written
                names.append({"literal": parts["given"]})
            continue
        names.append(parts)
    return names


_ISO_DATE = re.compile(r"^\s*(-?\d{1,4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")


def _clean_date(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    circa = value.get("circa")
    circa = circa not in (None, False, 0, "", "0", "false", "False")
    parts = []
    for raw_parts in value.get("date-parts") or []:
        cleaned = _clean_date_parts(raw_parts)
        if cleaned:
            parts.append(cleaned)
        else:
            break
    if not parts and _text(value.get("raw")):
        match = _ISO_DATE.match(_text(value["raw"]))
        if match:
            cleaned = _clean_date_parts([g for g in match.groups() if g is not None])
            parts = [cleaned] if cleaned else []
    if parts:
        date: dict[str, Any] = {"date-parts": parts[:2]}
        if circa:
            date["circa"] = True
        return date
    literal = _text(value.get("literal")) or _text(value.get("raw"))
    if literal:
        return {"literal": literal, "circa": True} if circa else {"literal": literal}
    return None


def _clean_date_parts(raw_parts: Any) -> list[int]:
    """[year, month?, day?] as ints, cut at the first part that is not a plausible number."""
    limits = (None, 12, 31)
    cleaned: list[int] = []
    for position, part in enumerate(raw_parts if isinstance(raw_parts, list) else []):
        if position > 2:
            break
        try:
            number = int(str(part).strip())
        except ValueError:
            break
        limit = limits[position]
        if limit is not None and not 1 <= number <= limit:
            break
        if position == 0 and number == 0:
            break  # citeproc-py treats year 0 as "no date" and then misrenders
        cleaned.append(number)
    return cleaned


# --- BibTeX -----------------------------------------------------------------------------------

_BIBTEX_TYPES = {
    "article-journal": "article",
    "article-magazine": "article",
    "article-newspaper": "article",
    "book": "book",
    "classic": "book",
    "collection": "book",
    "chapter": "incollection",
    "entry": "incollection",
    "entry-dictionary": "incollection",
    "entry-encyclopedia": "incollection",
    "paper-conference": "inproceedings",
    "report": "techreport",
    "thesis": "phdthesis",
    "manuscript": "unpublished",
    "pamphlet": "booklet",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    # BibTeX counts every brace, escaped or not, so "\}" alone would unbalance the entry
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_TEX_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _TEX_SPECIALS))


def to_bibtex(items: list[dict]) -> str:
    """Render CSL-JSON items as BibTeX entries, one per item, in input order.

    Keys come from the item ids (made BibTeX-safe, suffixed "-2", "-3" when two ids collide),
    so the same items always give the same keys. Text is UTF-8 with BibTeX's special characters
    escaped; titles are braced so that bibliography styles keep their capitals ("Soviet").
    """
    entries = []
    used: set[str] = set()
    for item in items:
        validate_csl(item)
        key = _unique_key(_citation_key(item.get("id")), used)
        entries.append(_bibtex_entry(item, key))
    return "\n".join(entries)


def citation_key(item: Mapping[str, Any]) -> str:
    """The BibTeX key `to_bibtex` gives `item` (when no other item's id collides with it)."""
    return _citation_key(item.get("id"))


def _citation_key(item_id: Any) -> str:
    raw = "" if item_id is None else str(item_id)
    ascii_id = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    key = re.sub(r"[^A-Za-z0-9_:.\-+/]+", "-", ascii_id).strip("-")
    if not key:
        key = "item-" + hashlib.sha1(raw.encode()).hexdigest()[:8]
    return key


def _unique_key(key: str, used: set[str]) -> str:
    candidate, n = key, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{key}-{n}"
    used.add(candidate.lower())
    return candidate


def _bibtex_entry(item: Mapping[str, Any], key: str) -> str:
    csl_type = item["type"]
    entry_type = _BIBTEX_TYPES.get(csl_type, "misc")
    if csl_type == "thesis" and "master" in _text(item.get("genre")).lower():
        entry_type = "mastersthesis"
    fields: list[tuple[str, str]] = []

    def add(name: str, value: str | None, *, raw: bool = False) -> None:
        if value:
            fields.append((name, value if raw else "{" + value + "}"))

    for role in ("author", "editor", "translator"):
        add(role, _bibtex_names(item.get(role)))
    add("title", _braced_title(item.get("title")))
    container = _tex(_text(item.get("container-title")))
    if entry_type == "article":
        add("journal", container)
    elif entry_type in ("incollection", "inproceedings"):
        add("booktitle", "{" + container + "}" if container else "")
    elif entry_type == "misc":
        add("howpublished", container)
    add("series", _tex(_text(item.get("collection-title"))))
    add("edition", _tex(_text(item.get("edition"))))
    add("volume", _tex(_text(item.get("volume"))))
    add("number", _tex(_text(item.get("issue")) or _text(item.get("number"))))
    pages = _text(item.get("page")) or _text(item.get("locator"))
    add("pages", _tex(re.sub(r"\s*[-\u2013\u2014]+\s*", "--", pages)))
    publisher = _tex(_text(item.get("publisher")))
    publisher_field = {
        "techreport": "institution",
        "phdthesis": "school",
        "mastersthesis": "school",
    }.get(entry_type, "publisher")
    add(publisher_field, publisher)
    add("address", _tex(_text(item.get("publisher-place"))))
    add("type", _tex(_text(item.get("genre"))) if entry_type != "article" else "")
    year, month = _year_month(item.get("issued"))
    add("year", _tex(year))
    if month:
        add("month", _MONTHS[month - 1], raw=True)
    add("doi", _verbatim(_text(item.get("DOI"))))
    add("url", _verbatim(_text(item.get("URL"))))
    accessed, _ = _year_month(item.get("accessed"), iso=True)
    add("urldate", accessed)
    add("isbn", _tex(_text(item.get("ISBN"))))
    add("issn", _tex(_text(item.get("ISSN"))))
    add("language", _tex(_text(item.get("language"))))
    notes = [_text(item.get("note"))]
    issued = _clean_date(item.get("issued"))
    if not year and issued and "literal" in issued:
        notes.insert(0, issued["literal"])  # "Feb. 4-11": a date BibTeX has no field for
    add("note", _tex(". ".join(note for note in notes if note)))

    body = "".join(f"  {name} = {value},\n" for name, value in fields)
    return f"@{entry_type}{{{key},\n{body}}}\n"


def _bibtex_names(value: Any) -> str:
    names = []
    for name in _clean_names(value):
        if "literal" in name:
            names.append("{" + _tex(name["literal"]) + "}")  # an institution, kept whole
            continue
        last = " ".join(p for p in (name.get("non-dropping-particle"), name["family"]) if p)
        first = _tex(" ".join(p for p in (name.get("given"), name.get("dropping-particle")) if p))
        last = _tex(last)
        if " " in last and not name.get("non-dropping-particle"):
            last = "{" + last + "}"  # "De Gaulle" is one family name, not First Last
        suffix = _tex(name.get("suffix", ""))
        names.append(", ".join(p for p in (last, suffix, first) if p) if first else last)
    return " and ".join(names)


def _braced_title(value: Any) -> str:
    title = _tex_rich(_text(value))
    return "{" + title + "}" if title else ""


def _year_month(value: Any, *, iso: bool = False) -> tuple[str, int | None]:
    date = _clean_date(value)
    if not date:
        return "", None
    if "date-parts" in date:
        parts = date["date-parts"][0]
        if iso:
            return "-".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts)), None
        return str(parts[0]), parts[1] if len(parts) > 1 else None
    match = re.search(r"(?<!\d)(\d{4})(?!\d)", date["literal"])
    return (match.group(1) if match and not iso else ""), None


def _tex(text: str) -> str:
    return _TEX_SPECIAL_RE.sub(lambda m: _TEX_SPECIALS[m.group()], text)


def _verbatim(text: str) -> str:
    """DOI and URL fields are read verbatim by biblatex and \\url: escaping would corrupt them.
    Only what cannot stand in a URL and would upset BibTeX (braces, backslash, spaces) is
    percent-encoded."""
    for char, code in (("{", "%7B"), ("}", "%7D"), ("\\", "%5C"), (" ", "%20")):
        text = text.replace(char, code)
    return text


_RICH_TAG = re.compile(r"<(/?)(i|b|sup|sub|span)(?:\s[^<>]*)?>", re.IGNORECASE)
_TEX_COMMANDS = {
    "i": r"\textit{",
    "b": r"\textbf{",
    "sup": r"\textsuperscript{",
    "sub": r"\textsubscript{",
}


def _tex_rich(text: str) -> str:
    """Escape `text`, turning CSL-JSON rich text markup into TeX (nocase spans into braces)."""
    out: list[str] = []
    stack: list[str] = []
    position = 0
    for match in _RICH_TAG.finditer(text):
        out.append(_tex(text[position : match.start()]))
        position = match.end()
        closing, tag = match.group(1), match.group(2).lower()
        if closing:
            if tag in stack:
                while stack:
                    opened = stack.pop()
                    if opened == tag:
                        out.append("}")
                        break
                    out.append("}")
            continue
        if tag == "span":
            out.append("{")  # a nocase span protects its case; other spans are plain groups
        else:
            out.append(_TEX_COMMANDS[tag])
        stack.append(tag)
    out.append(_tex(text[position:]))
    out.extend("}" for _ in stack)
    return "".join(out)
