"""Hybrid keyword + vector search end to end: real SQLite (FTS5 trigram index) and real
PostgreSQL (pg_trgm; every test runs on both), real FAISS and
a real encoder - the tiny random-weight open_clip model, whose vectors mean nothing. That is
the case the keyword side is for: codes, order numbers, names and Chinese substrings must still
be found, at rank 1, however poor the vector side."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import CACHE_DIR, assert_consistent, make_image
from searchengine import InvalidInputError, SearchEngine, Settings
from searchengine.cli import app
from searchengine.http.app import create_app

LOCAL = "http://127.0.0.1:8000"

NOTES = {
    "a/order.txt": "Please ship Order #A7-55213 to the north warehouse before Friday.",
    "a/sku.txt": "The replacement part is SKU QX-9004-B; two are in stock.",
    "a/contact.txt": "Call Zhang Wei about the quarterly budget review next week.",
    "a/zh_order.txt": "订单号 2024-0815 已经发货，请注意查收。",
    "a/heron.txt": "At dawn we saw a blue heron standing in the reeds by the lake.",
    "a/apart.txt": "The sky was blue all day, and later a grey heron flew over the hill.",
    "a/heron_again.txt": "Another Blue Heron landed on the dock at noon.",
    "a/tea.txt": "今天我们去西湖边喝龙井茶",
    "a/shared_a.txt": "Invoice ZX-3141 for the office chairs, first copy.",
    "b/shared_b.txt": "Invoice ZX-3141 for the office chairs, second copy.",
    "a/filler1.txt": "The weather was pleasant and the garden looked lovely in the afternoon light.",
    "a/filler2.txt": "We talked about books, music and travel plans over a long dinner.",
    "b/filler3.txt": "The train was late again, so everybody read newspapers on the platform.",
    "b/filler4.txt": "Remember to water the plants and feed the cat while we are away.",
}
CODES = {  # query -> the note that holds it
    "A7-55213": "a/order.txt",
    "#A7-55213": "a/order.txt",
    "QX-9004-B": "a/sku.txt",
    "Zhang Wei": "a/contact.txt",
    "2024-0815": "a/zh_order.txt",
    "订单号": "a/zh_order.txt",
}


def _write_corpus(root):
    for rel, text in NOTES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    make_image(root / "a" / "invoice_2024_0815.png", seed=1)
    for i in range(3):
        make_image(root / "a" / f"photo{i}.png", seed=10 + i)
    return root


@pytest.fixture
def settings(settings, database_url):
    return settings.with_(database_url=database_url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def corpus(request, tmp_path_factory, tiny_clip):
    """One index of the corpus for the read-only tests: (engine, media root, settings)."""
    server = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    url = server.create_database() if server else None
    base = tmp_path_factory.mktemp("hybrid")
    media = _write_corpus(base / "media")
    settings = Settings(index_root=base / "indexes", model=tiny_clip, batch_size=8, cache_dir=CACHE_DIR,
                        database_url=url)
    engine = SearchEngine.open("hybrid", settings=settings)
    report = engine.index([media])
    assert report.failed == 0, report.failures
    yield engine, media, settings
    engine.close()
    if server and url:
        server.drop_database(url)


def _env(monkeypatch, settings) -> None:
    monkeypatch.setenv("SEARCHENGINE_INDEX_ROOT", str(settings.index_root))
    monkeypatch.setenv("SEARCHENGINE_MODEL", settings.model)
    monkeypatch.setenv("SEARCHENGINE_DATABASE_URL", settings.database_url or "")


def _rel(hit, media) -> str:
    return hit.path[len(str(media)) + 1:]


def _covers(hit, needle: str) -> bool:
    """A highlight span of ``hit`` is exactly ``needle`` (case-insensitively)."""
    return any(hit.text[a:b].casefold() == needle.casefold() for a, b in hit.highlights or ())


# -- codes, names, phrases, Chinese, file names --------------------------------------------

@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
@pytest.mark.parametrize("query", list(CODES))
def test_codes_and_names_are_found_at_rank_one(corpus, mode, query):
    engine, media, _ = corpus
    hits = engine.search(query, k=5, mode=mode)
    assert hits, f"{query!r} found nothing in {mode} mode"
    top = hits[0]
    assert _rel(top, media) == CODES[query], [(_rel(h, media), h.found_by) for h in hits]
    assert "keyword" in top.found_by
    if mode == "keyword":
        assert top.found_by == ("keyword",)
    # the spans cover the code (or each word of a name) in the hit's text
    for needle in query.lstrip("#").split() if " " in query else [query]:
        assert _covers(top, needle), (top.text, top.highlights, needle)


def test_hybrid_still_returns_vector_hits_and_marks_sides(corpus):
    engine, media, _ = corpus
    hits = engine.search("A7-55213", k=20, mode="hybrid")
    assert hits[0].found_by == ("vector", "keyword")  # the tiny corpus: every unit is a vector candidate
    assert all(h.found_by == ("vector",) for h in hits[1:])
    assert all(h.highlights is None for h in hits[1:])
    vector = engine.search("A7-55213", k=20, mode="vector")
    assert all(h.found_by is None for h in vector)
    assert {h.id for h in hits} == {h.id for h in vector}  # same units, fused order


@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_quoted_phrase_must_occur_as_written(corpus, mode):
    engine, media, _ = corpus
    hits = engine.search('"blue heron"', k=20, mode=mode)
    assert sorted(_rel(h, media) for h in hits) == ["a/heron.txt", "a/heron_again.txt"]
    for h in hits:
        assert "blue heron" in h.text.casefold()
        assert "keyword" in h.found_by
        assert _covers(h, "blue heron")
    # the words apart (a/apart.txt) do not make the phrase: keyword search finds nothing;
    # hybrid search goes on by meaning and the words (a pasted sentence that happens to
    # hold quotes must not come back empty)
    if mode == "keyword":
        assert engine.search('"purple walrus"', k=20, mode=mode) == []
        assert engine.search('"heron blue"', k=20, mode=mode) == []
    else:
        unquoted = engine.search('"heron blue"', k=20, mode=mode)
        assert unquoted and _rel(unquoted[0], media) in ("a/heron.txt", "a/heron_again.txt", "a/apart.txt")
        assert any("keyword" in (h.found_by or ()) for h in unquoted)  # its words, as words


def test_phrase_with_other_words_keeps_the_phrase_required(corpus):
    engine, media, _ = corpus
    hits = engine.search('"blue heron" dock', k=20, mode="hybrid")
    assert hits and all("blue heron" in h.text.casefold() for h in hits)
    keyword = engine.search('"blue heron" dock', k=20, mode="keyword")
    assert keyword and all("blue heron" in h.text.casefold() for h in keyword)


@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
@pytest.mark.parametrize("query", ["龙井", "西湖边", "龙井茶", "喝龙井"])
def test_chinese_substrings_without_spaces(corpus, mode, query):
    engine, media, _ = corpus
    hits = engine.search(query, k=5, mode=mode)
    assert hits and _rel(hits[0], media) == "a/tea.txt", [(_rel(h, media), h.found_by) for h in hits]
    assert "keyword" in hits[0].found_by and _covers(hits[0], query)
    if mode == "keyword":
        assert len(hits) == 1  # nothing else holds these characters


def test_two_character_chinese_term_matches_only_where_it_occurs(corpus):
    engine, media, _ = corpus
    assert engine.search("鹦鹉", k=5, mode="keyword") == []  # the LIKE scan, no false match
    assert [_rel(h, media) for h in engine.search("发货", k=5, mode="keyword")] == ["a/zh_order.txt"]


@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_file_names_are_searched(corpus, mode):
    engine, media, _ = corpus
    hits = engine.search("invoice_2024", k=5, mode=mode)
    assert hits and _rel(hits[0], media) == "a/invoice_2024_0815.png"
    assert hits[0].modality == "image" and "keyword" in hits[0].found_by
    assert hits[0].highlights is None  # nothing to highlight: an image has no text


def test_keyword_mode_loads_no_model(corpus):
    engine, media, settings = corpus
    with SearchEngine.open("hybrid", settings=settings, create=False) as fresh:
        hits = fresh.search("QX-9004-B", k=3, mode="keyword")
        assert hits and _rel(hits[0], media) == "a/sku.txt"
        assert fresh.search('"blue heron"', k=3, mode="keyword")
        assert fresh.search("龙井", k=3, mode="keyword")
        assert not fresh.model_loaded


def test_unknown_mode_is_an_input_error_naming_the_option(corpus):
    engine, _, _ = corpus
    with pytest.raises(InvalidInputError, match="--mode"):
        engine.search("A7-55213", mode="bogus")


def test_words_with_no_keyword_meaning(corpus):
    engine, _, _ = corpus
    # stop words and one-letter words make no keyword query: keyword mode finds nothing,
    # hybrid falls back to the vector side
    assert engine.search("the a of", k=5, mode="keyword") == []
    hits = engine.search("the a of", k=5, mode="hybrid")
    assert len(hits) == 5 and all(h.found_by in (None, ("vector",)) for h in hits)


@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_filters_apply_to_the_keyword_side(corpus, mode):
    engine, media, _ = corpus
    both = engine.search("ZX-3141", k=10, mode="keyword")
    assert sorted(_rel(h, media) for h in both) == ["a/shared_a.txt", "b/shared_b.txt"]
    only_b = engine.search("ZX-3141", k=10, mode=mode, path_glob=f"{media}/b/*")
    assert [_rel(h, media) for h in only_b if h.found_by and "keyword" in h.found_by] == ["b/shared_b.txt"]
    assert all(_rel(h, media).startswith("b/") for h in only_b)
    assert _rel(only_b[0], media) == "b/shared_b.txt"
    images = engine.search("ZX-3141", k=10, mode=mode, modality="image")
    assert all(h.modality == "image" for h in images)
    assert not any(h.found_by and "keyword" in h.found_by for h in images)


def test_keyword_pages_are_consistent(corpus):
    engine, _, _ = corpus
    all_hits = engine.search("heron invoice", k=10, mode="keyword")
    assert len(all_hits) >= 4
    page1 = engine.search("heron invoice", k=2, mode="keyword")
    page2 = engine.search("heron invoice", k=2, offset=2, mode="keyword")
    assert [h.id for h in page1 + page2] == [h.id for h in all_hits[:4]]
    h1 = engine.search("heron invoice", k=2, mode="hybrid")
    h2 = engine.search("heron invoice", k=2, offset=2, mode="hybrid")
    assert [h.id for h in h1 + h2] == [h.id for h in engine.search("heron invoice", k=4, mode="hybrid")]


# -- the keyword index follows the files ----------------------------------------------------

def _fts_matches_units(engine) -> None:
    """units_fts holds one row per unit, with the unit's text and its file's current name."""
    with engine.repo.engine.connect() as c:
        fts_count = c.exec_driver_sql("SELECT count(*) FROM units_fts").scalar()
        fts = {r[0]: (r[1], r[2]) for r in c.exec_driver_sql("SELECT rowid, text, name FROM units_fts")}
        units = {r[0]: (r[1] or "", r[2].rsplit("/", 1)[-1]) for r in c.exec_driver_sql(
            "SELECT units.id, units.text, media_files.path FROM units JOIN media_files ON media_files.id = units.file_id")}
    assert fts_count == engine.repo.unit_count() == len(units)
    assert fts == units


def test_keyword_index_follows_modify_move_copy_delete(open_engine, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    (media / "alpha_report_x1.txt").write_text("Quarterly report for client KX-7781, draft one.")
    (media / "memo.txt").write_text("Memo about ticket TK-4410 for the help desk.")
    (media / "edited.txt").write_text("Old code OC-1111 lives here.")
    (media / "gone.txt").write_text("This note mentions code DL-2626 and will be deleted.")
    make_image(media / "pic_old_name.png", seed=3)
    engine = open_engine()
    engine.index([media])
    _fts_matches_units(engine)
    assert [h.path for h in engine.search("alpha_report", mode="keyword")] == [str(media / "alpha_report_x1.txt")]

    (media / "alpha_report_x1.txt").rename(media / "beta_summary_y2.txt")  # moved
    (media / "pic_old_name.png").rename(media / "pic_new_name.png")  # moved (an image: the name only)
    shutil.copy(media / "memo.txt", media / "memo_copy_z3.txt")  # copied: units reused
    (media / "edited.txt").write_text("New code NC-2222 lives here now.")  # modified
    (media / "gone.txt").unlink()  # deleted
    report = engine.index([media])
    assert (report.moved, report.reused, report.updated, report.deleted) == (2, 1, 1, 1)
    assert_consistent(engine)

    for mode in ("keyword", "hybrid"):
        assert engine.search("beta_summary", k=3, mode=mode)[0].path == str(media / "beta_summary_y2.txt")
        assert not [h for h in engine.search("alpha_report", k=20, mode=mode) if h.found_by and "keyword" in h.found_by]
        # the moved note's text is still found, under its new path
        assert engine.search("KX-7781", k=3, mode=mode)[0].path == str(media / "beta_summary_y2.txt")
        assert engine.search("pic_new_name", k=3, mode=mode)[0].path == str(media / "pic_new_name.png")
    assert engine.search("pic_old_name", k=3, mode="keyword") == []
    assert engine.search("alpha_report", k=3, mode="keyword") == []
    assert sorted(h.path for h in engine.search("TK-4410", k=5, mode="keyword")) == [
        str(media / "memo.txt"), str(media / "memo_copy_z3.txt")]
    assert [h.path for h in engine.search("memo_copy", k=5, mode="keyword")] == [str(media / "memo_copy_z3.txt")]
    assert engine.search("OC-1111", k=5, mode="keyword") == []
    assert [h.path for h in engine.search("NC-2222", k=5, mode="keyword")] == [str(media / "edited.txt")]
    assert engine.search("DL-2626", k=5, mode="keyword") == []
    assert not [h for h in engine.search("DL-2626", k=20, mode="hybrid") if h.found_by and "keyword" in h.found_by]
    _fts_matches_units(engine)

    (media / "memo.txt").unlink()  # the original of the copy goes; the copy stays
    engine.index([media])
    assert [h.path for h in engine.search("TK-4410", k=5, mode="keyword")] == [str(media / "memo_copy_z3.txt")]
    engine.forget(media / "beta_summary_y2.txt")
    assert engine.search("KX-7781", k=5, mode="keyword") == []
    _fts_matches_units(engine)
    assert_consistent(engine)


# -- CLI and HTTP ---------------------------------------------------------------------------

def test_cli_keyword_mode_json(corpus, monkeypatch):
    engine, media, settings = corpus
    _env(monkeypatch, settings)
    runner = CliRunner()
    result = runner.invoke(app, ["search", "QX-9004-B", "--mode", "keyword", "--json", "--index", "hybrid"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert hits[0]["path"] == str(media / "a" / "sku.txt")
    assert hits[0]["found_by"] == ["keyword"]
    (a, b), = hits[0]["highlights"]
    assert hits[0]["text"][a:b] == "QX-9004-B"

    bad = runner.invoke(app, ["search", "QX-9004-B", "--mode", "bogus", "--index", "hybrid"])
    assert bad.exit_code != 0 and "--mode" in bad.output


def test_cli_table_shows_keyword_matches(corpus, monkeypatch):
    engine, media, settings = corpus
    _env(monkeypatch, settings)
    result = CliRunner().invoke(app, ["search", "QX-9004-B", "--mode", "hybrid", "--index", "hybrid", "--k", "3"])
    assert result.exit_code == 0, result.output
    first = next(line for line in result.output.splitlines() if "sku.txt" in line)
    assert "[QX-9004-B]" in result.output  # the snippet marks the matched code
    assert "keyword" in first, result.output  # which side found it, on the hit's line


def test_http_keyword_and_hybrid_modes(corpus):
    engine, media, _ = corpus
    client = TestClient(create_app(engine), base_url=LOCAL)
    body = client.get("/api/search", params={"q": "A7-55213", "mode": "keyword"}).json()
    top = body["hits"][0]
    assert top["name"] == "order.txt" and top["found_by"] == ["keyword"]
    (a, b), = top["highlights"]
    assert top["text"][a:b] == "A7-55213"
    hybrid = client.get("/api/search", params={"q": "A7-55213", "mode": "hybrid"}).json()
    assert hybrid["hits"][0]["name"] == "order.txt" and "keyword" in hybrid["hits"][0]["found_by"]
    posted = client.post("/api/search", json={"q": '"blue heron"', "mode": "keyword", "k": 10}).json()
    assert sorted(h["name"] for h in posted["hits"]) == ["heron.txt", "heron_again.txt"]
    zh = client.get("/api/search", params={"q": "龙井", "mode": "keyword"}).json()
    assert [h["name"] for h in zh["hits"]] == ["tea.txt"]
    bad = client.get("/api/search", params={"q": "x", "mode": "bogus"})
    assert bad.status_code in (400, 422)


# -- harder cases: found while writing these tests ----------------------------------------

def test_highlights_stay_on_the_original_text_when_case_folding_changes_length(open_engine, tmp_path):
    """str.casefold() can lengthen a text ("ß" -> "ss", "İ" -> "i̇"): spans found in the
    folded text must still point at the code in the original."""
    media = tmp_path / "media"
    media.mkdir()
    (media / "de.txt").write_text("Lieferung an die Großstraße, Auftrag RT-6060.")
    (media / "tr.txt").write_text("İstanbul office: order RT-7070.")
    engine = open_engine()
    engine.index([media])
    for code in ("RT-6060", "RT-7070"):
        for mode in ("keyword", "hybrid"):
            top = engine.search(code, k=1, mode=mode)[0]
            assert top.highlights and [top.text[a:b] for a, b in top.highlights] == [code], (top.text, top.highlights)


def test_exact_code_is_rank_one_even_when_the_vector_side_ranks_it_low(open_engine, tmp_path):
    """A code's one keyword match, ranked past the vector side's depth (the usual case in a
    large index: a long note that mentions the code once), must still come first: it should
    not lose a tie on the fused score to the vector side's best guess."""
    from searchengine.query.ranker import DEPTH as RRF_DEPTH

    media = tmp_path / "media"
    media.mkdir()
    for i in range(RRF_DEPTH + 30):  # look-alike codes: close in vector space, no keyword match
        (media / f"n{i:03d}.txt").write_text(f"MQ-{9000 + i}")
    (media / "code.txt").write_text("Our long letter about the garden party, the weather, the band and the "
                                    "food; somewhere in it the reference MQ-8080 appears once.")
    engine = open_engine()
    engine.index([media])
    vector = [h.path for h in engine.search("MQ-8080", k=RRF_DEPTH + 31, mode="vector")]
    assert vector.index(str(media / "code.txt")) >= RRF_DEPTH  # the case under test
    assert engine.search("MQ-8080", k=1, mode="keyword")[0].path == str(media / "code.txt")
    hits = engine.search("MQ-8080", k=3, mode="hybrid")
    assert hits[0].path == str(media / "code.txt"), [(h.path.rsplit("/", 1)[-1], h.found_by) for h in hits]


def test_hybrid_pages_neither_repeat_nor_skip_hits(open_engine, tmp_path):
    """Paging through hybrid results (offset) gives the same hits, in the same order, as one
    big page - none twice, none skipped."""
    import random

    media = tmp_path / "media"
    media.mkdir()
    rnd = random.Random(0)
    words = "apple river stone cloud music garden window yellow paper train ocean forest letter".split()
    for i in range(120):
        (media / f"n{i:03d}.txt").write_text(" ".join(rnd.choice(words) for _ in range(12)) + ".")
    engine = open_engine()
    engine.index([media])
    query = "apple river"
    for mode in ("keyword", "hybrid"):
        full = [h.id for h in engine.search(query, k=60, mode=mode)]
        paged = [h.id for off in range(0, 60, 10) for h in engine.search(query, k=10, offset=off, mode=mode)]
        assert len(set(paged)) == len(paged), f"{mode}: a hit on two pages"
        assert paged == full, mode


def test_a_file_that_turns_unreadable_leaves_the_keyword_index(open_engine, tmp_path):
    media = tmp_path / "media"
    make_image(media / "receipt_9931.png", seed=4)
    (media / "ok.txt").write_text("Code PL-5151 here.")
    engine = open_engine()
    engine.index([media])
    assert engine.search("receipt_9931", k=3, mode="keyword")
    (media / "receipt_9931.png").write_bytes(b"not a png any more")
    report = engine.index([media])
    assert report.failed == 1
    assert engine.search("receipt_9931", k=3, mode="keyword") == []
    _fts_matches_units(engine)


def test_an_index_from_before_the_keyword_index_is_backfilled_on_open(open_engine, settings, tmp_path):
    """Upgrading an index built at revision 0004 fills units_fts from the units already there."""
    from alembic import command
    from alembic.config import Config

    from conftest import SAMPLES

    media = _write_corpus(tmp_path / "media")
    engine = open_engine("old")
    engine.index([media])
    folder = engine.layout.folder
    engine.close()
    cfg = Config(str(SAMPLES.parent / "alembic.ini"))
    url = settings.database_url or f"sqlite:///{folder / 'metadata.sqlite'}"
    cfg.cmd_opts = type("Opts", (), {"x": [f"url={url}"]})()
    command.downgrade(cfg, "0004")  # drops units_fts
    reopened = open_engine("old")
    _fts_matches_units(reopened)
    top = reopened.search("QX-9004-B", k=1, mode="keyword")[0]
    assert top.path == str(media / "a" / "sku.txt") and _covers(top, "QX-9004-B")
    assert reopened.search("invoice_2024", k=1, mode="keyword")[0].path.endswith("invoice_2024_0815.png")
    assert not reopened.model_loaded
