"""Search that forgives misspellings, answers very common words, ranks titles first and
folds letters as students type them: through HTTP, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def search(client: TestClient, q: str, **params: str | int) -> dict:
    response = client.get("/v1/search", params={"q": q, "limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()


def ids(body: dict) -> list[tuple[str, str]]:
    return [(item["type"], item["id"]) for item in body["items"]]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("Kruschev", "khrushchev"), ("Molotof", "molotov"), ("Mikoian", "mikoyan")],
)
def test_a_misspelled_name_finds_its_documents_and_says_so(
    client: TestClient, typed: str, meant: str
) -> None:
    misspelled = search(client, typed)
    spelled_right = search(client, meant)
    assert spelled_right["total"] > 0 and spelled_right["corrections"] == []
    assert misspelled["corrections"] == [{"word": typed, "read_as": [meant]}]
    assert misspelled["total"] == spelled_right["total"]
    assert sorted(ids(misspelled)) == sorted(ids(spelled_right))


def test_a_transposition_counts_as_one_edit(client: TestClient) -> None:
    # "Sltain" is two substitutions of "Stalin" but one transposition
    body = search(client, "Satlin")
    assert body["corrections"] == [{"word": "Satlin", "read_as": ["stalin"]}]
    assert body["total"] == search(client, "Stalin")["total"]


@pytest.mark.parametrize(
    "q", ["Khrushchev", "Stalin", "delegates", "speeches", "Mindszénty", "Pospelov Molotov"]
)
def test_a_word_in_the_index_is_never_corrected(client: TestClient, q: str) -> None:
    body = search(client, q)
    assert body["total"] > 0
    assert body["corrections"] == []


def test_nonsense_still_finds_nothing(client: TestClient) -> None:
    body = search(client, "xqzvbnmw")
    assert body["total"] == 0 and body["items"] == [] and body["corrections"] == []


def test_a_short_word_takes_one_edit_at_most(client: TestClient) -> None:
    # "Tito" is in the corpus; "Tiot" is one transposition away, "Tpqo" three edits
    assert search(client, "Tiot")["corrections"] == [{"word": "Tiot", "read_as": ["tito"]}]
    assert search(client, "Tpqo")["total"] == 0


def test_a_misspelled_phrase_keeps_its_meaning(client: TestClient) -> None:
    misspelled = search(client, '"secret speach"')
    assert misspelled["corrections"] == [{"word": "speach", "read_as": ["speech"]}]
    assert ids(misspelled) == ids(search(client, '"secret speech"'))
    # still a phrase: fewer items than both words anywhere
    assert misspelled["total"] < search(client, "secret speech")["total"]


def test_exact_matches_rank_above_corrected_ones(client: TestClient) -> None:
    body = search(client, "Pospelov OR Kruschev")
    assert body["corrections"] == [{"word": "Kruschev", "read_as": ["khrushchev"]}]
    exact = {key for key in ids(search(client, "Pospelov"))}
    places = [key in exact for key in ids(body)]
    assert any(places) and not all(places)
    first_corrected_only = places.index(False)
    assert all(places[:first_corrected_only]) and not any(places[first_corrected_only:])
    assert len(ids(body)) == len(set(ids(body))) == min(body["total"], 100)


def test_a_misspelled_word_pages_like_any_other(client: TestClient) -> None:
    seen, params = [], {"q": "Kruschev", "limit": 7}
    while True:
        page = client.get("/v1/search", params=params).json()
        assert page["corrections"][0]["read_as"] == ["khrushchev"]
        seen += ids(page)
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == search(client, "Khrushchev")["total"]


@pytest.mark.parametrize("q", ["which", "the", '"to the"', "to be OR not"])
def test_a_query_of_only_very_common_words_is_answered(client: TestClient, q: str) -> None:
    body = search(client, q)
    assert body["total"] > 0 and body["items"]
    assert body["ignored"] == [] and body["corrections"] == []


def test_a_mixed_query_still_leaves_common_words_out(client: TestClient) -> None:
    body = search(client, "the Pospelov")
    assert body["ignored"] == ["the"]
    assert body["total"] == search(client, "Pospelov")["total"]


def test_documents_titled_with_the_phrase_rank_first(client: TestClient) -> None:
    body = search(client, '"secret speech"')
    titled = [
        item
        for item in body["items"]
        if item["type"] == "document" and "secret speech" in item["title"].casefold()
    ]
    assert len(titled) >= 3
    assert body["items"][: len(titled)] == titled
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_fullwidth_letters_fold(client: TestClient) -> None:
    assert ids(search(client, "Ｓｔａｌｉｎ")) == ids(search(client, "Stalin"))


def test_cyrillic_yo_folds_both_ways(writer: TestClient) -> None:
    created = writer.post(
        "/v1/documents", json={"title": "Записка", "text": "Хрущёв прочитал доклад. Ёлка."}
    )
    assert created.status_code == 201
    doc = created.json()["id"]
    for q in ("Хрущёв", "Хрущев", "ХРУЩЕВ", "ёлка", "Елка"):
        assert ("document", doc) in ids(search(writer, q)), q


def test_a_long_text_shows_its_match_from_a_window(writer: TestClient) -> None:
    filler = " ".join(["plenum report committee delegate"] * 20_000)  # 660 KB
    created = writer.post(
        "/v1/documents",
        json={
            "title": "Minutes",
            "text": filler + " At last Ignatiev's name appears, and the plenum ends.",
        },
    )
    assert created.status_code == 201
    doc = created.json()["id"]
    for q, word in (
        ("Ignatiev", "Ignatiev"),
        ("plenum", "plenum"),
        ("Ignatiev plenum", "Ignatiev"),
    ):
        body = search(writer, q, document=doc, type="document")
        (item,) = body["items"]
        snippet = item["snippet"]
        assert len(snippet) < 400
        assert word in [snippet[a:b] for a, b in item["highlights"]], (q, snippet)


def test_a_prefix_finds_the_words_it_begins_not_their_stems(client: TestClient) -> None:
    new = ids(search(client, "new"))
    news = ids(search(client, "news*"))
    assert ("claim", "nyt-full-text-5-june-1956") in new  # "The New York Times"
    assert ("claim", "nyt-full-text-5-june-1956") not in news
    assert news and len(news) < len(new)


def test_a_phrase_late_in_a_long_text_is_found(writer: TestClient) -> None:
    # 100,000 words: past the 16,383 word positions a PostgreSQL tsvector keeps
    filler = " ".join(["plenum report committee delegate the"] * 20_000)
    created = writer.post(
        "/v1/documents",
        json={"title": "Minutes", "text": filler + " Then the secret police chief spoke."},
    )
    assert created.status_code == 201
    doc = created.json()["id"]
    body = search(writer, '"secret police chief"', document=doc)
    assert ids(body) == [("document", doc)]
    assert "secret police chief" in body["items"][0]["snippet"]
    assert search(writer, '"police secret chief"', document=doc)["total"] == 0
