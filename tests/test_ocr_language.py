"""Text read in pictures that is not language (a serial number, a misread texture, a
watermark) stays in the OCR cache and is not a unit of the index; real signs are units."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from searchengine.evaluation.rendered_text import background, find_fonts, render
from searchengine.ocr import reader as ocr_reader
from searchengine.ocr.language import MIN_CONFIDENCE, is_language, judge

needs_ocr = pytest.mark.skipif(not ocr_reader.available(), reason="rapidocr-onnxruntime is not installed")
CHINESE = find_fonts(chinese=True)
LATIN = find_fonts(chinese=False)
needs_fonts = pytest.mark.skipif(not CHINESE or not LATIN, reason="fonts-noto-cjk / fonts-dejavu-core missing")


@pytest.mark.parametrize("text,reason", [
    ("SN8 100HJS", "no word"),  # the serial number on a school bus
    ("OFHICE", "no word"),  # a misread mailbox
    ("未滤過", "no word"),  # a simplified and a traditional character mixed: no word either way
    ("www.ciao.es", "web address or handle"),
    ("@ciao_photo", "web address or handle"),
    ("© John Smith", "web address or handle"),
    ("A1", "too short"),
    ("出", "too short"),
    ("IIIII", "repeated fragment"),
    ("SALE SALE SALE", "repeated fragment"),
    ("口口口", "repeated fragment"),
])
def test_junk_is_refused_with_its_reason(text, reason):
    assert judge(text, 0.95).reason == reason
    assert not is_language(text, 0.95)


@pytest.mark.parametrize("text", [
    "Bus Stop", "Exit", "禁止吸烟", "中国银行", "銀行", "未濾過", "Coca-Cola Classic", "Tram Line 14", "出口",
    "Visit www.bakery.com today", "Café de Flore", "SCHOOL BUS",
    "HarbourStreetBakery", "SeaviewFish andChips",  # words the reader ran together (bench_ocr's set)
])
def test_real_signs_are_language(text):
    assert judge(text, 0.95).ok and is_language(text, 0.95)


def test_low_confidence_is_refused_whatever_the_words():
    assert judge("Bus Stop", MIN_CONFIDENCE - 0.01).reason == "low confidence"
    assert is_language("Bus Stop", MIN_CONFIDENCE)


PICTURES = {"stop.jpg": ("Bus Stop", False), "smoke.png": ("禁止吸烟", True),
            "serial.jpg": ("SN8 100HJS", False), "mark.jpg": ("www.ciao.es", False)}


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readings")
    for seed, (name, (text, chinese)) in enumerate(PICTURES.items()):
        font = CHINESE[0] if chinese else LATIN[seed % len(LATIN)]
        picture, _ = render(background(seed + 10), text, font, 48, at=(0.15, 0.3))
        picture.save(folder / name, quality=92)
    return folder


def _read(engine):
    """({file name: [ocr unit texts]}, [every reading in the cache, lines joined])."""
    db = sqlite3.connect(f"file:{engine.layout.folder / 'metadata.sqlite'}?mode=ro", uri=True)
    try:
        units: dict[str, list[str]] = {path.rsplit("/", 1)[-1]: [] for (path,) in db.execute("SELECT path FROM media_files")}
        for path, text in db.execute("SELECT m.path, u.text FROM units u JOIN media_files m ON u.file_id = m.id "
                                     "WHERE u.kind = 'ocr' ORDER BY u.id"):
            units[path.rsplit("/", 1)[-1]].append(text)
        read = [" ".join(x["text"] for x in json.loads(raw)) for (raw,) in db.execute("SELECT lines FROM image_texts")]
    finally:
        db.close()
    return units, read


def _real_only(units):
    assert [t.replace(" ", "").lower() for t in units["stop.jpg"]] == ["busstop"]
    assert units["smoke.png"] == ["禁止吸烟"]
    assert units["serial.jpg"] == [] and units["mark.jpg"] == []


@needs_ocr
@needs_fonts
def test_junk_readings_stay_in_the_cache_and_real_ones_are_units(pictures, open_engine, tmp_path):
    """Real reading of rendered pictures: the signs become ocr units; the serial number and
    the watermark are read (the cache has them) but are not units."""
    media = tmp_path / "media"
    shutil.copytree(pictures, media)
    engine = open_engine("junk")
    report = engine.index([media])
    assert report.failed == 0 and report.ocr_images == 4
    units, read = _read(engine)
    _real_only(units)
    # read, and kept in the cache: a later judgement can use them without reading again
    assert any("100HJS" in r.replace(" ", "") for r in read)
    assert any("ciao" in r for r in read)
    assert engine.repo.unit_count() == 4 + 2  # every photo keeps its picture unit


@needs_ocr
@needs_fonts
def test_an_index_made_before_the_judgement_sheds_its_junk_on_the_next_run(pictures, open_engine, tmp_path,
                                                                            monkeypatch):
    from searchengine.ocr import stage
    from searchengine.ocr.language import Verdict

    media = tmp_path / "media"
    shutil.copytree(pictures, media)
    engine = open_engine("before")
    with monkeypatch.context() as m:  # the indexing of before: every reading a unit
        m.setattr(stage, "judge", lambda text, confidence=1.0: Verdict(True))
        engine.index([media])
    engine.repo.set_state(stage.LANGUAGE_KEY, "0")  # made under no judgement
    units, _ = _read(engine)
    assert units["serial.jpg"] and units["mark.jpg"]  # the junk was indexed

    again = engine.index()  # nothing changed on disk
    assert again.updated == 2 and again.ocr_images == 0 and again.ocr_cache_hits == 2  # nothing read again
    units, _ = _read(engine)
    _real_only(units)
    assert engine.repo.state(stage.LANGUAGE_KEY) == stage.LANGUAGE_VERSION
    assert engine.index().updated == 0  # judged once
    hits = engine.search("ciao", k=5, mode="keyword")
    assert hits == []
