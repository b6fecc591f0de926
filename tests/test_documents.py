"""Documents to the page (issue 22): PDFs (text layer, Chinese, scanned pages through the
OCR), Word, PowerPoint, OpenDocument, EPUB, saved web pages and RTF, read by the format
registry's handlers; bombs and locked files refused fast with a reason naming the file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from document_maker import (billion_laughs_docx, deep_rtf, external_entity_docx, lying_zip_docx, make_docx,
                            make_epub, make_html, make_odt, make_pdf, make_pptx, make_rtf, many_members_docx,
                            many_pages_pdf, ole_docx, text_picture, zip_bomb_docx)
from searchengine.errors import MediaDecodeError
from searchengine.media.formats.base import Budget, Limits
from searchengine.media.formats.registry import FORMATS, MODALITIES, format_of, modality_of

PAGES = [
    "The lighthouse keeper counted forty seagulls on the northern rocks every morning before breakfast.",
    "西湖边的龙井茶园在清明前采摘新茶，茶农们天不亮就上山了。",
    "The quarterly invoice for harbour crane maintenance is enclosed with this letter.",  # scanned
]


def _read(path: Path, limits: Limits | None = None):
    fmt = format_of(path)
    assert fmt is not None and fmt.read is not None
    return fmt.read(path, Budget(path, limits or Limits()))


# -- the registry --------------------------------------------------------------------------

def test_every_extension_has_one_format_and_modality_of_comes_from_it():
    seen: dict[str, str] = {}
    for f in FORMATS:
        for ext in f.extensions:
            assert ext == ext.lower() and ext.startswith(".") and ext not in seen
            seen[ext] = f.name
    assert MODALITIES == ("image", "text", "audio", "video")
    assert modality_of(Path("a/Report.PDF")) == "text" and modality_of(Path("b.pptx")) == "text"
    assert modality_of(Path("c.jpg")) == "image" and modality_of(Path("d.xyz")) is None
    assert format_of("deck.pptx").location == "slide" and format_of("book.epub").location == "chapter"


def test_the_http_schema_cli_help_and_page_list_the_registrys_modalities(tmp_path, settings):
    from typing import get_args

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from searchengine import SearchEngine
    from searchengine.cli import app as cli_app
    from searchengine.http.app import create_app
    from searchengine.http.schemas import HitOut

    assert get_args(HitOut.model_fields["modality"].annotation) == MODALITIES
    help_text = CliRunner().invoke(cli_app, ["index", "--help"], env={"COLUMNS": "300"}).output
    assert ".pdf" in help_text and ".epub" in help_text
    with SearchEngine.open("kinds", settings=settings) as engine:
        page = TestClient(create_app(engine), base_url="http://127.0.0.1").get("/").text
    for m in MODALITIES:
        assert f'value="{m}"' in page


# -- reading each format ---------------------------------------------------------------------

def test_pdf_pages_text_layer_chinese_and_a_scan(tmp_path):
    pdf = make_pdf(tmp_path / "letter.pdf", [PAGES[0], PAGES[1], text_picture(PAGES[2])])
    sections = _read(pdf)
    assert [s.page for s in sections] == [1, 2, 3]
    assert "forty seagulls" in sections[0].text and "龙井茶园" in sections[1].text
    assert sections[2].text == "" and sections[2].image is not None  # no text layer: for the OCR


def test_office_ebook_web_page_and_rtf_text(tmp_path):
    assert "ferry" in _read(make_docx(tmp_path / "a.docx", ["The ferry leaves at dawn.", "Second."]))[0].text
    slides = _read(make_pptx(tmp_path / "a.pptx", [["Owls hunt at night"], ["Budget for 2027"], ["Thanks"]]))
    assert [(s.page, s.text) for s in slides] == [(1, "Owls hunt at night"), (2, "Budget for 2027"), (3, "Thanks")]
    assert _read(make_odt(tmp_path / "a.odt", ["Odt body text.", "More."]))[0].text == "Odt body text.\n\nMore."
    chapters = _read(make_epub(tmp_path / "a.epub", ["Call me Ishmael.", "The whale surfaced."]))
    assert [s.page for s in chapters] == [1, 2] and "whale surfaced" in chapters[1].text
    assert "Contents" not in chapters[0].text  # the book's navigation is not its text
    web = _read(make_html(tmp_path / "a.html", "Beavers build dams from willow branches."))[0].text
    assert "Beavers build dams" in web
    for noise in ("Subscribe", "tracker", "color: red", "©"):
        assert noise not in web
    rtf = _read(make_rtf(tmp_path / "a.rtf", ["Crème brûlée and 龙井 {braces}.", "Next paragraph."]))[0].text
    assert rtf == "Crème brûlée and 龙井 {braces}.\n\nNext paragraph."


# -- bombs and locked files: refused fast, naming the file -----------------------------------

BOMBS = {
    "zip_ratio.docx": (zip_bomb_docx, "zip bomb"),
    "lying_header.docx": (lying_zip_docx, "lying_header.docx"),
    "many_members.docx": (many_members_docx, "members"),
    "billion_laughs.docx": (billion_laughs_docx, "entity"),
    "external_entity.docx": (external_entity_docx, "entity"),
    "encrypted.docx": (ole_docx, "password-protected: skipped"),
    "absurd_pages.pdf": (many_pages_pdf, "100,000 pages"),
    "deep.rtf": (deep_rtf, "nested"),
    "drm.epub": (lambda p: make_epub(p, ["locked"], encrypted=True), "encrypted"),
    "password.pdf": (lambda p: make_pdf(p, ["secret plans"], password="hunter2"), "password-protected: skipped"),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_and_locked_files_are_refused_in_under_a_second_naming_the_file(tmp_path, name):
    make, why = BOMBS[name]
    path = make(tmp_path / name)
    t0 = time.perf_counter()
    with pytest.raises(MediaDecodeError) as err:
        _read(path)
    assert time.perf_counter() - t0 < 1.0
    assert name in str(err.value) and why in str(err.value)


def test_a_file_over_the_time_limit_is_stopped_with_its_reason(tmp_path):
    pdf = make_pdf(tmp_path / "slow.pdf", ["page"] * 5)
    with pytest.raises(MediaDecodeError, match=r"slow\.pdf: reading took over the limit of 0 s"):
        _read(pdf, Limits(seconds=0.0))


# -- indexed and found --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def documents_engine(offline_settings, tmp_path_factory):
    """Documents of every format indexed with the offline profile (OCR on for the scan)."""
    from searchengine import SearchEngine

    folder = tmp_path_factory.mktemp("documents")
    make_pdf(folder / "letter.pdf", [PAGES[0], PAGES[1], text_picture(PAGES[2])])
    make_docx(folder / "minutes.docx", ["Minutes of the allotment society.",
                                        "The committee agreed to buy a new rainwater tank for the greenhouse."])
    make_pptx(folder / "deck.pptx", [["Welcome"], ["Our migration of the billing system to the new ledger"],
                                     ["Questions"]])
    make_epub(folder / "novel.epub", ["It was a bright cold day in April.",
                                      "The old sailor mended his nets beside the lagoon at dusk."])
    make_html(folder / "saved.html", "Volunteers planted three hundred oak saplings along the river bank.")
    make_odt(folder / "recipe.odt", ["Knead the rye dough for ten minutes, then let it rise overnight."])
    make_rtf(folder / "memo.rtf", ["The parking garage will be closed for resurfacing next Tuesday."])
    (folder / "plain.txt").write_text("A note about something else entirely: bicycles and chains.")
    engine = SearchEngine.open("documents", settings=offline_settings)
    report = engine.index([folder])
    assert report.failed == 0, report.failures
    yield engine, folder
    engine.close()


@pytest.mark.parametrize("query,page", [
    ("forty seagulls on the northern rocks", 1),
    ("龙井茶园在清明前采摘新茶", 2),
    ("invoice for harbour crane maintenance", 3),  # a scanned page, read by the OCR
])
def test_a_phrase_from_page_n_finds_the_pdf_first_at_page_n(documents_engine, query, page):
    engine, folder = documents_engine
    hit = engine.search(query, k=3)[0]
    assert (hit.path, hit.page) == (str(folder / "letter.pdf"), page)


@pytest.mark.parametrize("query,name,page", [
    ("the committee agreed to buy a rainwater tank", "minutes.docx", None),
    ("migration of the billing system to the new ledger", "deck.pptx", 2),
    ("the old sailor mended his nets beside the lagoon", "novel.epub", 2),
    ("volunteers planted oak saplings along the river", "saved.html", None),
    ("knead the rye dough and let it rise overnight", "recipe.odt", None),
    ("the parking garage closed for resurfacing", "memo.rtf", None),
])
def test_each_format_is_found_first_by_a_sentence_of_its(documents_engine, query, name, page):
    engine, folder = documents_engine
    hit = engine.search(query, k=3)[0]
    assert (hit.path, hit.page) == (str(folder / name), page)


def test_passages_never_cross_pages(documents_engine):
    engine, folder = documents_engine
    hits = engine.search("lighthouse keeper seagulls 龙井", k=20, mode="keyword")
    pdf_hits = [h for h in hits if h.path.endswith("letter.pdf")]
    assert pdf_hits and all(h.page in (1, 2, 3) for h in pdf_hits)
    for h in pdf_hits:
        assert not ("seagulls" in h.text and "龙井" in h.text)


def test_cli_shows_the_page_and_json_carries_it(documents_engine, offline_settings):
    import json

    from typer.testing import CliRunner

    from searchengine.cli import app as cli_app

    engine, folder = documents_engine
    args = ["search", "invoice for harbour crane maintenance", "--index", "documents", "--k", "1",
            "--index-root", str(offline_settings.index_root), "--model", offline_settings.model]
    out = CliRunner().invoke(cli_app, args, env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.output
    assert "letter.pdf  p. 3" in out.output
    rows = json.loads(CliRunner().invoke(cli_app, args + ["--json"]).output)
    assert rows[0]["page"] == 3
    deck = CliRunner().invoke(cli_app, ["search", "billing system ledger migration", *args[2:]], env={"COLUMNS": "300"})
    assert "deck.pptx  slide 2" in deck.output


def test_http_hit_opens_the_pdf_at_its_page_with_a_thumbnail_of_it(documents_engine):
    from fastapi.testclient import TestClient
    from PIL import Image
    import io

    from searchengine.http.app import create_app

    engine, folder = documents_engine
    client = TestClient(create_app(engine), base_url="http://127.0.0.1")
    hit = client.get("/api/search", params={"q": "龙井茶园在清明前采摘新茶", "k": 1}).json()["hits"][0]
    assert hit["name"] == "letter.pdf" and hit["page"] == 2 and hit["location"] == "page"
    assert hit["media_url"].endswith("/media#page=2")
    thumb = client.get(hit["thumbnail_url"], params={"size": 256})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 256
    media = client.get(hit["media_url"].split("#")[0])
    assert media.status_code == 200 and media.headers["content-type"] == "application/pdf"
