"""The text phase (pipeline.read_text): every photo is searchable before its text is read;
a run stopped in the middle of reading leaves the rest for the next run (which reads them
even when no file changed), `status` counts what is left, and no reading is stored twice."""

from __future__ import annotations

import shutil

import pytest

from searchengine.evaluation.rendered_text import background, find_fonts, render
from searchengine.ocr import reader as ocr_reader
from searchengine.ocr.stage import shared_reader

pytestmark = pytest.mark.skipif(not ocr_reader.available() or not find_fonts(),
                                reason="rapidocr-onnxruntime or a Latin font is missing")


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    font = find_fonts()[0]
    for n, phrase in enumerate(("Fresh Coffee Daily", "Harbour Street Bakery", "Lost Luggage Office")):
        picture, _ = render(background(n + 1), phrase, font, 44, at=(0.1, 0.3))
        picture.save(folder / f"sign{n}.jpg", quality=92)
    background(9).save(folder / "plain.jpg", quality=92)
    return folder


def _ocr_texts(engine) -> dict[str, list[str]]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from searchengine.store.models import MediaFile, Unit

    out: dict[str, list[str]] = {}
    with Session(engine.repo.engine) as s:
        for path, text in s.execute(select(MediaFile.path, Unit.text).join(Unit, Unit.file_id == MediaFile.id)
                                    .where(Unit.kind == "ocr").order_by(Unit.id)):
            out.setdefault(path.rsplit("/", 1)[-1], []).append(text)
    return out


def test_photos_are_searchable_first_and_a_stopped_reading_resumes(photos, open_engine, settings, monkeypatch):
    from dataclasses import replace

    engine = open_engine("phase", settings=replace(settings, ocr="on"))
    stages: list[tuple[str, int, int]] = []
    reader = shared_reader()
    real = reader.read_timed
    calls = {"n": 0}

    def stop_at_the_third(image):
        calls["n"] += 1
        if calls["n"] == 3:
            # by now every photo is in the index, searchable by its image vector
            assert engine.repo.unit_count() >= 4
            raise KeyboardInterrupt  # as Ctrl-C or a kill in the middle of the phase
        return real(image)

    monkeypatch.setattr(reader, "read_timed", stop_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        engine.index([photos], on_progress=lambda *a: stages.append(a))
    assert ("indexing", 4, 4) in stages and ("reading text", 2, 4) in stages
    assert engine.status().text_to_read == 2
    read = _ocr_texts(engine)
    assert sorted(read) == ["sign0.jpg"]  # read in path order: plain.jpg (no text), sign0.jpg

    monkeypatch.setattr(reader, "read_timed", real)
    again = engine.index([photos])  # nothing changed on disk: only the text still to read
    assert (again.added, again.ocr_images, again.text_pending) == (0, 2, 0)
    assert engine.status().text_to_read == 0
    read = _ocr_texts(engine)
    assert sorted(read) == ["sign0.jpg", "sign1.jpg", "sign2.jpg"]
    assert all(len(texts) == 1 for texts in read.values())
    hit = engine.search("lost luggage office", k=1)[0]
    assert hit.path.endswith("sign2.jpg") and hit.kind == "ocr"

    # a copy of a photo whose text was read in the phase gets its text units too
    shutil.copy(photos / "sign2.jpg", photos / "sign2 copy.jpg")
    assert engine.index([photos]).reused == 1
    assert _ocr_texts(engine)["sign2 copy.jpg"] == read["sign2.jpg"]


def test_writing_the_same_reading_twice_keeps_one_copy(photos, open_engine, settings):
    from dataclasses import replace

    from searchengine.store.models import ImageText
    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    engine = open_engine("twice", settings=replace(settings, ocr="on"))
    first = engine.index([photos])
    assert first.ocr_images == 4 and first.searchable_seconds <= first.seconds
    before = _ocr_texts(engine)
    count = engine.repo.unit_count()
    with Session(engine.repo.engine) as s, s.begin():  # as a kill between the units and the cache
        s.execute(delete(ImageText))
    assert engine.status().text_to_read == 4
    assert engine.index([photos]).ocr_images == 4
    assert _ocr_texts(engine) == before and engine.repo.unit_count() == count
    assert engine.catalog.count() == count  # FAISS agrees with SQL
