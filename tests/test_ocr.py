"""Text in images: grouping read boxes into lines and blocks, and the real reader (PP-OCR
through rapidocr-onnxruntime) in real indexing runs: a sign's words find its photo, the hit
says where, copies and re-added pictures are never read again, --ocr off reads nothing."""

from __future__ import annotations

import shutil
import sys

import pytest
from typer.testing import CliRunner

from conftest import make_image
from searchengine import SearchEngine
from searchengine.errors import InvalidInputError
from searchengine.evaluation.cer import char_accuracy
from searchengine.evaluation.rendered_text import background, find_fonts, render
from searchengine.ocr import reader as ocr_reader
from searchengine.ocr.layout import Line, group_blocks, is_junk, merge_lines
from searchengine.ocr.stage import ocr_enabled

needs_ocr = pytest.mark.skipif(not ocr_reader.available(), reason="rapidocr-onnxruntime is not installed")
CHINESE = find_fonts(chinese=True)
LATIN = find_fonts()
needs_fonts = pytest.mark.skipif(not CHINESE, reason="no font with Chinese glyphs (apt-get install fonts-noto-cjk)")


# -- layout: pure functions ------------------------------------------------------------

def test_pieces_on_one_line_merge_left_to_right_and_chinese_joins_without_space():
    pieces = [Line("Daily", (0.50, 0.10, 0.62, 0.15), 0.9), Line("Fresh Coffee", (0.10, 0.105, 0.46, 0.155), 0.99),
              Line("新鲜咖啡", (0.10, 0.30, 0.30, 0.35), 0.95), Line("每日", (0.305, 0.30, 0.40, 0.35), 0.97)]
    lines = merge_lines(pieces)
    assert [x.text for x in lines] == ["Fresh Coffee Daily", "新鲜咖啡每日"]
    assert lines[0].box == (0.10, 0.10, 0.62, 0.155)


def test_far_apart_pieces_stay_separate_lines_and_blocks():
    far = merge_lines([Line("left sign", (0.0, 0.1, 0.2, 0.15), 0.9), Line("right sign", (0.7, 0.1, 0.9, 0.15), 0.9)])
    assert [x.text for x in far] == ["left sign", "right sign"]
    assert len(group_blocks(far)) == 2


def test_lines_close_below_one_another_form_a_block_in_reading_order():
    lines = [Line("second line", (0.1, 0.22, 0.5, 0.30), 0.9), Line("first line", (0.1, 0.1, 0.5, 0.18), 0.9),
             Line("footer far below", (0.1, 0.8, 0.5, 0.88), 0.9)]
    blocks = group_blocks(lines)
    assert [b.text for b in blocks] == ["first line\nsecond line", "footer far below"]
    assert blocks[0].box == (0.1, 0.1, 0.5, 0.30)


def test_junk_is_dropped():
    assert is_junk("|||", 0.99) and is_junk("hello", 0.3) and is_junk("x", 0.99)
    assert not is_junk("咖", 0.9) and not is_junk("EXIT", 0.9)


def test_ocr_setting_is_checked():
    with pytest.raises(InvalidInputError, match="ocr"):
        from searchengine import Settings

        Settings(ocr="sometimes")


def test_on_without_the_package_fails_clearly_and_auto_goes_without(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # as if not installed
    assert not ocr_reader.available()
    with pytest.raises(ocr_reader.OcrUnavailableError, match="pip install rapidocr-onnxruntime"):
        ocr_enabled("on")
    assert ocr_enabled("auto") is False and ocr_enabled("off") is False


# -- the real reader in indexing runs ----------------------------------------------------

@pytest.fixture(scope="module")
def signs(tmp_path_factory):
    """Two photos with signs (English, Chinese) and one without text."""
    folder = tmp_path_factory.mktemp("signs")
    en, box_en = render(background(1), "Fresh Coffee Daily", LATIN[0], 44, at=(0.1, 0.2))
    en.save(folder / "cafe.jpg", quality=92)
    zh, box_zh = render(background(2), "欢迎光临北京饭店", CHINESE[0], 44, at=(0.3, 0.6), angle=4)
    zh.save(folder / "hotel.png")
    background(3).save(folder / "plain.jpg", quality=92)
    return folder, box_en, box_zh


def _units(engine):
    """{file name: [(kind, text, box), ...]} in unit order, read from SQL."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from searchengine.store.models import MediaFile, Unit

    out: dict[str, list] = {}
    with Session(engine.repo.engine) as s:
        for path, kind, text, box in s.execute(select(MediaFile.path, Unit.kind, Unit.text, Unit.box)
                                               .join(Unit, Unit.file_id == MediaFile.id).order_by(Unit.id)):
            out.setdefault(path.rsplit("/", 1)[-1], []).append((kind, text, box))
    return out


def _ocr_units(engine):
    return {name: [(t, b) for k, t, b in units if k == "ocr"] for name, units in _units(engine).items()}


@needs_ocr
@needs_fonts
def test_signs_are_read_and_their_words_find_the_photo(signs, open_engine, tmp_path):
    folder, box_en, box_zh = signs
    media = tmp_path / "media"
    shutil.copytree(folder, media)
    engine = open_engine("signs")
    report = engine.index([media])
    assert report.failed == 0 and report.ocr_images == 3 and report.ocr_cache_hits == 0
    units = _ocr_units(engine)
    assert units["plain.jpg"] == []  # the detector found nothing: no text units
    (text_en, _), = units["cafe.jpg"]
    (text_zh, _), = units["hotel.png"]
    assert char_accuracy("Fresh Coffee Daily", text_en) >= 0.9
    assert char_accuracy("欢迎光临北京饭店", text_zh) >= 0.9

    for query, name, box in (("fresh coffee", "cafe.jpg", box_en), ("北京饭店", "hotel.png", box_zh)):
        hit = engine.search(query, k=3)[0]
        assert hit.path.endswith(name) and hit.kind == "ocr" and hit.modality == "image"
        assert hit.box is not None
        x0, y0, x1, y1 = hit.box  # inside the rendered plate, and most of it
        assert box[0] - 0.02 <= x0 < x1 <= box[2] + 0.02 and box[1] - 0.02 <= y0 < y1 <= box[3] + 0.02
        assert (x1 - x0) > 0.5 * (box[2] - box[0])

    # a copy and a move reuse the stored units; nothing is read again
    shutil.copy(media / "cafe.jpg", media / "cafe copy.jpg")
    (media / "hotel.png").rename(media / "hotel moved.png")
    again = engine.index()
    assert again.reused == 1 and again.moved == 1 and again.ocr_images == 0
    assert [t for t, _ in _ocr_units(engine)["cafe copy.jpg"]] == [text_en]

    # a picture removed and added again is read from the cache by its content hash
    shutil.move(str(media / "cafe.jpg"), tmp_path / "aside.jpg")
    shutil.move(str(media / "cafe copy.jpg"), tmp_path / "aside2.jpg")
    assert engine.index().deleted == 2
    shutil.move(str(tmp_path / "aside.jpg"), media / "cafe.jpg")
    back = engine.index()
    assert back.added == 1 and back.ocr_images == 0 and back.ocr_cache_hits == 1
    assert [t for t, _ in _ocr_units(engine)["cafe.jpg"]] == [text_en]


@needs_ocr
@needs_fonts
def test_cli_ocr_off_reads_nothing_and_hits_say_text_in_image(signs, tiny_clip, tmp_path, monkeypatch):
    from searchengine.cli import app

    folder, _, _ = signs
    monkeypatch.setenv("SEARCHENGINE_INDEX_ROOT", str(tmp_path / "idx"))
    monkeypatch.setenv("SEARCHENGINE_MODEL", tiny_clip)
    runner = CliRunner()
    off = runner.invoke(app, ["index", str(folder), "--index", "off", "--ocr", "off", "--json"])
    assert off.exit_code == 0, off.output
    with SearchEngine.open("off", settings=_settings(tmp_path, tiny_clip), create=False) as engine:
        assert all(units == [] for units in _ocr_units(engine).values())
        assert engine.repo.unit_count() == 3  # one image vector each, no text

    on = runner.invoke(app, ["index", str(folder), "--index", "on", "--ocr", "on"])
    assert on.exit_code == 0, on.output
    assert "Read text in 3 images" in on.output
    found = runner.invoke(app, ["search", "Fresh Coffee Daily", "--index", "on", "-k", "1"])
    assert found.exit_code == 0 and "cafe.jpg" in found.output and "text in image" in found.output, found.output


def _settings(tmp_path, tiny_clip):
    from searchengine import Settings

    return Settings(index_root=tmp_path / "idx", model=tiny_clip)


def test_a_text_free_generated_image_gets_no_text_units(open_engine, tmp_path):
    make_image(tmp_path / "m" / "blocks.png", seed=5, size=(200, 160))
    engine = open_engine("blocks")
    engine.index([tmp_path / "m"])
    assert [k for k, _, _ in _units(engine)["blocks.png"]] == ["image"]


@needs_ocr
def test_a_text_free_photo_never_reaches_the_recogniser_and_small_text_still_does():
    """The small first pass turns a text-free photo away (the full read never runs); a
    photo with small text (16 px on 800 x 600) still goes through it and is read."""
    reader = ocr_reader.TextReader()
    assert reader.read(background(3)) == []
    assert (reader.gated, reader.full_reads) == (1, 0)
    sign, _ = render(background(4), "Fresh Coffee Daily", LATIN[0], 16, at=(0.3, 0.4))
    lines = reader.read(sign)
    assert (reader.gated, reader.full_reads) == (1, 1)
    assert char_accuracy("Fresh Coffee Daily", " ".join(line.text for line in lines)) >= 0.9


@needs_ocr
def test_words_run_together_on_a_sign_are_found_by_the_words_apart(open_engine, tmp_path):
    """A sign printed without the space ("Desert caravanroute": the reader reads it so, as it
    read a screenshot's "caravan route") is found by "caravan route" on the keyword side - the
    joined token is cut into dictionary words when matching - and the hit highlights it; a
    fragment that is not one of its words ("van") still finds nothing."""
    media = tmp_path / "media"
    media.mkdir()
    sign, _ = render(background(6), "Desert caravanroute", LATIN[0], 44, at=(0.1, 0.3))
    sign.save(media / "sign.jpg", quality=92)
    background(7).save(media / "plain.jpg", quality=92)
    engine = open_engine("joined")
    engine.index([media])
    (text, _), = _ocr_units(engine)["sign.jpg"]
    assert "caravanroute" in text.casefold().replace(" ", "")  # the reading holds the joined token
    for query in ("caravan route", '"caravan route"'):
        hits = engine.search(query, k=3, mode="keyword")
        assert [h.path.rsplit("/", 1)[-1] for h in hits] == ["sign.jpg"], query
        assert hits[0].kind == "ocr" and hits[0].highlights
        a, b = hits[0].highlights[0]
        assert hits[0].text[a:b].casefold().replace(" ", "").startswith("caravan")
    assert engine.search("van", k=3, mode="keyword") == []
    assert engine.search("caravan route", k=1)[0].path.endswith("sign.jpg")  # the default (hybrid) too


@needs_ocr
def test_a_640_px_photo_is_read_in_full_without_the_small_first_pass():
    """Under 672 px a side (GATE_SIDE * GATE_MIN_GAIN) the small pass would look at over half
    the pixels of the full one and turns away text the full read finds: such a picture goes
    straight to the full read; an 800 px one still gets the pass."""
    reader = ocr_reader.TextReader()
    assert reader.read(background(3, size=(640, 480))) == []
    assert (reader.gated, reader.full_reads) == (0, 1)
    assert reader.read(background(3, size=(800, 600))) == []
    assert (reader.gated, reader.full_reads) == (1, 1)


def test_the_detector_gets_rapidocrs_own_input_and_its_sessions_open_once_without_spinning(monkeypatch):
    """The table-driven normalisation gives the detector the float32 values rapidocr's own
    pre-processing gives (bit for bit, at the full read's and the first pass's sides and for
    another mean/std); the three sessions are opened once each, with sleeping idle threads."""
    import numpy as np
    import onnxruntime as ort
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    rng = np.random.default_rng(3)
    pictures = [np.asarray(background(n).convert("RGB"))[:, :, ::-1].copy() for n in (1, 2)]
    pictures.append(rng.integers(0, 256, (333, 517, 3), dtype=np.uint8))  # every grey level, odd sides
    for side, kind, mean, std in ((960, "max", [0.5] * 3, [0.5] * 3), (ocr_reader.GATE_SIDE, "max", [0.5] * 3, [0.5] * 3),
                                  (736, "min", [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])):
        ours, theirs = ocr_reader._LutDetPreProcess(side, kind, mean, std), DetPreProcess(side, kind, mean, std)
        for bgr in pictures:
            a, b = ours(bgr), theirs(bgr)
            assert a.dtype == b.dtype == np.float32 and a.shape == b.shape and a.flags.c_contiguous
            assert np.array_equal(a, b)

    opened = []
    real = ort.InferenceSession

    def counting(*args, **kwargs):
        opened.append(kwargs.get("sess_options"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", counting)
    import rapidocr_onnxruntime.utils.infer_engine as infer_engine
    monkeypatch.setattr(infer_engine, "InferenceSession", counting)
    reader = ocr_reader.TextReader(threads=1)
    engine = reader._load()
    assert len(opened) == 3  # detector, angle classifier, recogniser: once each
    for options in opened:
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        assert options.intra_op_num_threads == 1
    assert isinstance(engine.text_det.get_preprocess(500), ocr_reader._LutDetPreProcess)
    # rapidocr's own session options are as they were for anyone else
    assert infer_engine.OrtInferSession._init_sess_opts({}).intra_op_num_threads == 0
    sign, _ = render(background(4), "Harbour Street Bakery", LATIN[0], 40, at=(0.1, 0.4))
    assert char_accuracy("Harbour Street Bakery", " ".join(line.text for line in reader.read(sign))) >= 0.9
