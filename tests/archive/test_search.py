"""Full-text search on the bundled corpus, as a reader of the results would judge it.

Every test runs on the suite's database (SQLite, or PostgreSQL with
ARCHIVE_TEST_DATABASE_URL); expected answers are worked out from the texts themselves.
The cross-engine test builds the other engine's database too: a fresh SQLite file when the
suite runs on PostgreSQL, a scratch PostgreSQL database (on the server of
ARCHIVE_TEST_PG_URL, default the local one; skipped when unreachable) when it runs on SQLite.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from archive import bundled, documents, transfer
from archive.db import downgrade, make_engine, migrate, normalize_url
from archive.errors import BadQuery, InvalidInput
from archive.lookup import index as passage_index
from archive.models import Claim, Document, DocumentText, Evidence, Span
from archive.search import Filters, Results, plain_snippet, search

PG_URL = normalize_url(
    os.environ.get("ARCHIVE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
)


def ids(results: Results, type_: str | None = None) -> list[str]:
    return [h.id for h in results.items if type_ is None or h.type == type_]


def everything(session: Session, q: str, filters: Filters | None = None) -> Results:
    return search(session, q, filters, limit=100)


def fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def span_texts(session: Session) -> dict[str, str]:
    return {
        s.id: "\n".join(filter(None, [s.speaker, s.exact, s.note]))
        for s in session.execute(select(Span)).scalars()
    }


def add_document(session: Session, doc_id: str, text_: str, **meta: object) -> Document:
    return documents.create_document(
        session, {"id": doc_id, "title": meta.pop("title", doc_id), "text": text_, **meta}
    )


def add_span(session: Session, span_id: str, doc_id: str, exact: str, **fields: object) -> Span:
    body = documents.get_text(session, documents.get_document(session, doc_id))
    start = body.index(exact)
    span = Span(
        id=span_id, document_id=doc_id, start=start, end=start + len(exact), exact=exact, **fields
    )
    session.add(span)
    session.flush()
    return span


# --- the query language --------------------------------------------------------------------


def test_a_rare_word_finds_its_one_document(session: Session, seeds: dict[str, str]) -> None:
    holders = {doc_id for doc_id, body in seeds.items() if "mindszenty" in body.lower()}
    assert len(holders) == 1
    results = everything(session, "Mindszenty", Filters(type="document"))
    assert set(ids(results)) == holders and results.total == 1


def test_a_phrase_matches_only_where_the_words_are_adjacent(session: Session) -> None:
    texts = span_texts(session)
    adjacent = {i for i, t in texts.items() if re.search(r"\bsecret\W+speech", t, re.I)}
    apart = {
        i
        for i, t in texts.items()
        if re.search(r"\bsecret\b", t, re.I) and re.search(r"\bspeech\b", t, re.I)
    } - adjacent
    assert adjacent and apart, "the corpus should have both cases"
    phrase = set(ids(everything(session, '"secret speech"', Filters(type="span"))))
    words = set(ids(everything(session, "secret speech", Filters(type="span"))))
    assert phrase == adjacent
    assert apart <= words and not apart & phrase


def test_english_stemming_finds_other_forms_of_a_word(session: Session) -> None:
    texts = span_texts(session)
    plural = {i for i, t in texts.items() if re.search(r"\bdelegates\b", t, re.I)}
    singular = {i for i, t in texts.items() if re.search(r"\bdelegate\b", t, re.I)}
    assert plural - singular, "some spans say only 'delegates'"
    found = set(ids(everything(session, "delegate", Filters(type="span"))))
    assert plural | singular <= found
    assert found == set(ids(everything(session, "delegates", Filters(type="span"))))


def test_a_minus_excludes_a_word(session: Session) -> None:
    with_stalin = everything(session, "Pospelov")
    without = everything(session, "Pospelov -Stalin")
    assert 0 < without.total < with_stalin.total
    texts = span_texts(session)
    for hit in without.items:
        if hit.type == "span":
            assert "stalin" not in texts[hit.id].lower()
        assert "stalin" not in hit.snippet.lower()


def test_or_finds_either_word(session: Session) -> None:
    either = set(ids(everything(session, "Mindszenty OR Kaganovich")))
    one = set(ids(everything(session, "Mindszenty")))
    other = set(ids(everything(session, "Kaganovich")))
    assert one and other and either == one | other


def test_a_prefix_finds_every_word_it_begins(session: Session) -> None:
    prefix = everything(session, "Khrush*")
    whole = everything(session, "Khrushchev")
    assert prefix.total >= whole.total > 0
    for hit in prefix.items:
        assert hit.highlights, hit
        for start, end in hit.highlights:
            assert fold(hit.snippet[start:end]).startswith("khrush")


def test_accents_and_case_do_not_matter(session: Session) -> None:
    plain = set(ids(everything(session, "Jozsef")))
    assert plain
    assert set(ids(everything(session, "JÓZSEF"))) == plain
    assert set(ids(everything(session, "józsef"))) == plain
    add_document(session, "ponomarenko-note", "A note on Panteleimon Ponomarénko and the MVD.")
    assert ids(everything(session, "ponomarenko", Filters(type="document"))) == ["ponomarenko-note"]
    hit = everything(session, "PONOMARENKO", Filters(document="ponomarenko-note")).items[0]
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["Ponomarénko"]


def test_the_snippet_contains_each_highlighted_word(session: Session) -> None:
    for q, word in [("Mikoyan", "mikoyan"), ("Pospelov", "pospelov"), ("Tito", "tito")]:
        results = search(session, q, limit=10)
        assert results.items
        for hit in results.items:
            assert hit.highlights
            assert all(fold(hit.snippet[a:b]) == word for a, b in hit.highlights), hit


def test_stop_words_are_reported_not_searched(session: Session) -> None:
    results = search(session, "the Mindszenty")
    assert results.ignored == ["the"]
    assert results.total == search(session, "Mindszenty").total


@pytest.mark.parametrize("q", ['"', "NEAR(a b)", "-", "\x01", "   "])
def test_unparseable_text_is_a_bad_query(session: Session, q: str) -> None:
    with pytest.raises(BadQuery):
        search(session, q)


# --- snippets -------------------------------------------------------------------------------


def test_plain_snippet_removes_markers_and_counts_code_points() -> None:
    text_, highlights = plain_snippet("…Ž\U0001f642 \x02Mikoyán\x03,\n\n\x02said\x03 it")
    assert text_ == "…Ž\U0001f642 Mikoyán, said it"
    assert [text_[a:b] for a, b in highlights] == ["Mikoyán", "said"]


def test_offsets_are_right_after_non_ascii_text(session: Session) -> None:
    body = "Ce texte 🙂 — « Khrouchtchev » — cite Žukov et le ½ rapport, puis Žukov encore."
    add_document(session, "zukov-note", body, title="Note sur Žukov")
    hit = everything(session, "zukov", Filters(document="zukov-note")).items[0]
    assert hit.highlights
    assert {hit.snippet[a:b] for a, b in hit.highlights} == {"Žukov"}
    assert "🙂" in hit.snippet


def test_snippets_never_show_the_private_markers(session: Session) -> None:
    body = "Control \x02characters\x03 in a text \x03 do not confuse Zhdanovshchina \x02 here."
    add_document(session, "markers", body)
    hit = everything(session, "Zhdanovshchina characters").items[0]
    assert "\x02" not in hit.snippet and "\x03" not in hit.snippet
    assert {fold(hit.snippet[a:b]) for a, b in hit.highlights} == {
        "zhdanovshchina",
        "characters",
    }


# --- filters and facets ------------------------------------------------------------------


def test_filters_by_type_document_and_speaker(session: Session) -> None:
    spans = everything(session, "Stalin", Filters(type="span"))
    assert spans.items and {h.type for h in spans.items} == {"span"}
    in_doc = everything(session, "Stalin", Filters(document="fear-backstage"))
    assert {h.document_id for h in in_doc.items if h.type != "claim"} == {"fear-backstage"}
    claims = [h.id for h in in_doc.items if h.type == "claim"]
    assert claims
    for claim_id in claims:  # a claim belongs to the documents its evidence quotes
        quoted = session.execute(
            select(Span.document_id).join(Evidence).where(Evidence.claim_id == claim_id)
        ).scalars()
        assert "fear-backstage" in set(quoted)
    said = everything(session, "Stalin", Filters(speaker="mikoyan"))
    speakers = {s.id: s.speaker for s in session.execute(select(Span)).scalars()}
    assert said.items and all("Mikoyan" in (speakers[h.id] or "") for h in said.items)


def test_filters_by_kind_creator_and_date(session: Session) -> None:
    add_document(
        session,
        "pravda-1956",
        "Pravda printed the resolution on the cult of the individual in Zhdanovgrad.",
        kind="primary",
        creators=[{"name": "Pravda editors", "role": "author"}],
        published="1956-07-02",
    )
    primary = everything(session, "cult", Filters(kind="primary"))
    assert ids(primary) == ["pravda-1956"]
    assert ids(everything(session, "cult", Filters(creator="PRAVDA ED"))) == ["pravda-1956"]
    assert everything(session, "Zhdanovgrad", Filters(published_from="1957")).total == 0
    assert everything(session, "Zhdanovgrad", Filters(published_to="1955")).total == 0
    for from_, to in [("1956", "1956"), ("1956-07", None), (None, "1956-07-02")]:
        found = everything(session, "Zhdanovgrad", Filters(published_from=from_, published_to=to))
        assert ids(found) == ["pravda-1956"], (from_, to)
    figes = everything(session, "Khrushchev", Filters(creator="figes", type="document"))
    assert ids(figes) == ["figes-secret-speech"]
    with pytest.raises(InvalidInput):
        search(session, "cult", Filters(published_from="1956-13"))


def test_creator_filter_ignores_case_in_every_script_and_apostrophe_forms(
    session: Session,
) -> None:
    add_document(
        session,
        "osztoen-1957",
        "A memoir of the Zhdanovgrad congress.",
        creators=[{"name": "József Ösztön", "role": "author"}, {"name": "Ann O’Hara"}],
    )
    for typed in ("ösztön", "JÓZSEF", "o'hara", "O’HARA"):
        assert ids(everything(session, "Zhdanovgrad", Filters(creator=typed))) == [
            "osztoen-1957"
        ], typed
    assert everything(session, "Zhdanovgrad", Filters(creator="role")).total == 0


def test_facets_count_the_whole_result_set(session: Session) -> None:
    results = search(session, "Khrushchev", limit=3)
    assert len(results.items) == 3 and results.total > 3
    by_type = {f["value"]: f["count"] for f in results.facets["type"]}
    assert sum(by_type.values()) == results.total
    for type_, count in by_type.items():
        assert search(session, "Khrushchev", Filters(type=type_)).total == count
    creators = {f["value"]: f["count"] for f in results.facets["creator"]}
    figes = search(session, "Khrushchev", Filters(creator="Orlando Figes"))
    assert creators["Orlando Figes"] == figes.total
    years = {f["value"]: f["count"] for f in results.facets["year"]}
    in_2014 = search(session, "Khrushchev", Filters(published_from="2014", published_to="2014"))
    assert years["2014"] == in_2014.total


# --- pagination ----------------------------------------------------------------------------


def test_pages_are_stable_when_scores_tie(session: Session) -> None:
    for n in range(7):
        add_document(session, f"twin-{n}", "Identical text about the Zinovievite opposition.")
    whole = everything(session, "Zinovievite")
    assert whole.total == 7 and len({h.score for h in whole.items}) == 1
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        page = search(session, "Zinovievite", limit=2, cursor=cursor)
        assert page.total == 7
        seen += ids(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert cursor is None
    assert seen == ids(whole) and len(set(seen)) == 7


def test_pages_follow_the_ranking(session: Session) -> None:
    whole = everything(session, "Stalin")
    assert whole.total > 30
    first = search(session, "Stalin", limit=10)
    second = search(session, "Stalin", limit=10, cursor=first.next_cursor)
    assert ids(first) + ids(second) == ids(whole)[:20]
    scores = [h.score for h in whole.items]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("cursor", ["garbage!", "eyJ4IjoxfQ", "eyJzY29yZSI6IngiLCJyaWQiOjF9"])
def test_a_foreign_cursor_is_a_bad_query(session: Session, cursor: str) -> None:
    with pytest.raises(BadQuery):
        search(session, "Stalin", cursor=cursor)


# --- the index follows every write ---------------------------------------------------------


def test_documents_created_changed_and_deleted(session: Session) -> None:
    add_document(session, "kirov-file", "On the arrest of Stanislav Kosior in Kiev.")
    assert ids(everything(session, "Kosior arrest", Filters(type="document"))) == ["kirov-file"]
    documents.update_document(session, "kirov-file", {"title": "The Yezhovshchina file"})
    assert ids(everything(session, "Yezhovshchina")) == ["kirov-file"]
    documents.update_document(session, "kirov-file", {"kind": "primary", "published": "1934"})
    assert ids(everything(session, "Kosior", Filters(kind="primary", published_to="1934"))) == [
        "kirov-file"
    ]
    facets = everything(session, "Kosior").facets
    assert facets["kind"] == [{"value": "primary", "count": 1}]
    assert facets["year"] == [{"value": "1934", "count": 1}]
    documents.delete_document(session, "kirov-file")
    assert everything(session, "Yezhovshchina").total == 0


def test_a_new_text_revision_replaces_the_old_text(session: Session) -> None:
    doc = add_document(session, "draft", "The first draft mentions Zhdanov.")
    session.add(
        DocumentText(
            document_id="draft", revision=2, text="The second draft names Suslov.", sha256="x"
        )
    )
    doc.revision = 2
    session.add(doc)
    session.flush()
    assert everything(session, "Zhdanov").total == 0
    assert ids(everything(session, "Suslov", Filters(type="document"))) == ["draft"]


def test_a_text_too_long_for_one_tsvector_is_still_stored_and_found(session: Session) -> None:
    # PostgreSQL keeps at most 1 MB of tsvector: such a text is indexed as far as it fits
    words = " ".join(f"zq{n:x}w{n * 7919 % 100003:x}" for n in range(60_000))
    add_document(session, "huge", f"Beginning Tevosyan {words} end")
    assert ids(everything(session, "Tevosyan")) == ["huge"]


def test_spans_created_changed_and_deleted(session: Session) -> None:
    add_document(session, "memoir", "Then Merkulov said that nothing could be hidden.")
    span = add_span(
        session, "merkulov-said", "memoir", "nothing could be hidden", speaker="N. Merkulov"
    )
    assert ids(everything(session, "hidden", Filters(type="span"))) == ["merkulov-said"]
    assert ids(everything(session, "Merkulov", Filters(type="span", speaker="merkulov"))) == [
        "merkulov-said"
    ]
    span.note = "Reported by Abakumov"
    span.speaker = "Nikolai Merkulov"
    session.add(span)
    session.flush()
    assert ids(everything(session, "Abakumov", Filters(type="span"))) == ["merkulov-said"]
    assert ids(everything(session, "Nikolai", Filters(speaker="nikolai"))) == ["merkulov-said"]
    session.delete(span)
    session.flush()
    assert everything(session, "Abakumov").total == 0


def test_claims_created_changed_and_deleted(session: Session) -> None:
    claim = Claim(id="merkulov-claim", statement="Merkulov backed the speech.", tags=["merkulov"])
    session.add(claim)
    session.flush()
    found = everything(session, "Merkulov", Filters(type="claim"))
    assert ids(found) == ["merkulov-claim"] and found.items[0].title == claim.statement
    claim.tags = ["presidium", "voroshilovite"]
    claim.note = "Per Mukhitdinov"
    session.add(claim)
    session.flush()
    assert ids(everything(session, "voroshilovite")) == ["merkulov-claim"]
    assert ids(everything(session, "Mukhitdinov")) == ["merkulov-claim"]
    session.delete(claim)
    session.flush()
    assert everything(session, "Mukhitdinov OR voroshilovite").total == 0


def test_deleting_a_document_removes_its_spans_from_the_index(session: Session) -> None:
    before = everything(session, "Mikoyan", Filters(document="fear-backstage"))
    assert any(h.type == "span" for h in before.items)
    documents.delete_document(session, "fear-backstage", cascade=True)
    after = everything(session, "Mikoyan")
    assert all(h.document_id != "fear-backstage" for h in after.items)
    assert not any(h.type == "span" for h in after.items if h.id in ids(before, "span"))


def test_imported_records_are_searchable(session: Session) -> None:
    lines = [
        {"type": "document", "id": "imported", "title": "Imported", "text": "Rudzutak spoke."},
        {"type": "span", "id": "rudzutak-spoke", "document_id": "imported", "exact": "Rudzutak"},
        {"type": "claim", "id": "rudzutak-claim", "statement": "Rudzutak spoke at the plenum."},
    ]
    transfer.import_lines(session, [json.dumps(line) for line in lines])
    found = everything(session, "Rudzutak")
    assert {(h.type, h.id) for h in found.items} == {
        ("document", "imported"),
        ("span", "rudzutak-spoke"),
        ("claim", "rudzutak-claim"),
    }


# --- quote lookup's candidates -------------------------------------------------------------


def _search_objects(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text("SELECT name FROM sqlite_master WHERE name LIKE 'search%'")
            ).scalars()
        else:
            rows = conn.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relname LIKE 'search%' "
                    "UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'search%' "
                    "UNION ALL SELECT tgname FROM pg_trigger WHERE tgname LIKE 'search%' "
                    "UNION ALL SELECT cfgname FROM pg_ts_config WHERE cfgname LIKE 'archive%'"
                )
            ).scalars()
        return set(rows)


# --- the migration ------------------------------------------------------------------------


def test_the_migration_indexes_existing_rows_and_downgrades_cleanly(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(fresh_database)
    # the passage index (migration 0003) does not exist yet at 0001
    monkeypatch.setattr(passage_index, "add", lambda *args, **kwargs: None)
    try:
        migrate(engine, "0001")
        with Session(engine) as session:
            bundled.load(session)
            session.commit()
        assert not _search_objects(engine)
        migrate(engine, "head")
        with Session(engine) as session:
            assert search(session, "Mindszenty").total == 2
            assert search(session, "Mindszemty").corrections  # the vocabulary is filled
            assert search(session, "Mikoyan", Filters(type="claim")).total >= 1
        downgrade(engine, "0001")
        assert not _search_objects(engine)
        assert "documents" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


# --- the two engines agree -------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_engine(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The bundled corpus on the engine the suite is not running on."""
    if engine.dialect.name == "postgresql":
        other = make_engine(f"sqlite:///{tmp_path_factory.mktemp('other') / 'other.db'}")
        bundled.initialize(other)
        yield other
        other.dispose()
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"archive_search_cmp_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}: {error.orig}")
    other = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    try:
        bundled.initialize(other)
        yield other
    finally:
        other.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


AGREEING_QUERIES = [
    "Mikoyan",
    "Mindszenty",
    "Pospelov -Stalin",
    "Khrush*",
    "Beria",
    "Molotov",
    "Ignatiev",
    "Hungary",
    "amnesty",
    '"closed session"',
    "Tito OR Mao",
    "Poland Israeli",
]


def test_both_databases_give_the_same_top_results(session: Session, other_engine: Engine) -> None:
    with Session(other_engine) as other:
        for q in AGREEING_QUERIES:
            here, there = search(session, q, limit=5), search(other, q, limit=5)
            assert here.total == there.total, q
            assert here.facets == there.facets, q
            assert ids(here)[:1] == ids(there)[:1], q
            assert len(set(ids(here)) & set(ids(there))) >= min(4, len(here.items)), q
