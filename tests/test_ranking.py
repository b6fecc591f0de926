"""Ranking: one relevance scale across kinds, text read in photos as evidence, one hit per file
(searchengine.query.ranker, searchengine.query.calibration).

A synthetic joint space with the modality gap of real ones - every text unit sits near one
common text direction, every picture near another - written through the real catalog (real
SQLite, FAISS and keyword index) and searched by the real query layer; no model runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from searchengine import SearchEngine, Settings
from searchengine.catalog.manifest import Manifest
from searchengine.query.calibration import Calibration, KindStats, relevance
from searchengine.query.ranker import OCR_Z, Ranker
from searchengine.store.database import head_revision
from searchengine.store.repository import FileWrite, NewUnit
from conftest import SAMPLES

D = 64
ROOT = "/data/library"
MTIME = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000_000
rng = np.random.default_rng(7)
TEXT_AXIS, IMAGE_AXIS = np.eye(D)[0], np.eye(D)[1]


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def noise() -> np.ndarray:
    v = rng.normal(size=D)
    v[:2] = 0
    return v / np.linalg.norm(v)


def text_vec(topic: np.ndarray) -> np.ndarray:
    """A text's vector: mostly the common text direction (text-text cosines ~0.8)."""
    return unit(0.9 * TEXT_AXIS + 0.45 * topic)


def image_vec(topic: np.ndarray) -> np.ndarray:
    """A picture's vector: the common image direction and its content."""
    return unit(0.8 * IMAGE_AXIS + 0.6 * topic)


def text_query(topic: np.ndarray) -> np.ndarray:
    """A text query in the joint space: text-side, leaning to the content's direction."""
    return unit(0.85 * TEXT_AXIS + 0.25 * IMAGE_AXIS + 0.45 * topic)


def write(engine: SearchEngine, path: str, modality: str, units: list[NewUnit]) -> None:
    engine.catalog.store_files([FileWrite(path=f"{ROOT}/{path}", modality=modality, content_hash=path,
                                          size=1, mtime_ns=MTIME, units=units)])


@pytest.fixture
def library(tmp_path: Path):
    """40 photos (one of them with a sign read in it, one with junk read in it), 30 notes
    (one of them in three chunks) about other topics."""
    settings = Settings.from_env(model="offline:minilm-effnet", index_root=tmp_path, database_url="")
    engine = SearchEngine.open(tmp_path / "idx", settings=settings)
    Manifest(model=engine.model, dim=D, metric="inner_product", index_type="flat",
             schema_revision=head_revision(), precision="fp32").save(engine.layout.manifest)
    engine.close()
    engine = SearchEngine.open(tmp_path / "idx", settings=settings)
    photo_topics = [noise() for _ in range(40)]
    sign = noise()
    note_topics = [noise() for _ in range(30)]
    for i, topic in enumerate(photo_topics):
        units = [NewUnit(None, None, None, image_vec(topic), kind="image")]
        if i == 5:  # a shop sign read in the photo
            units.append(NewUnit(0, 20, "Fresh Bread Bakery", text_vec(sign), kind="ocr", box=(0.1, 0.1, 0.5, 0.2)))
        if i == 6:  # junk read in a photo: a text vector that happens to lean towards many queries
            units.append(NewUnit(0, 8, "OFHICE", unit(TEXT_AXIS + 0.05 * noise()), kind="ocr"))
        write(engine, f"photo{i:02d}.jpg", "image", units)
    for i, topic in enumerate(note_topics):
        chunks = 3 if i == 0 else 1
        write(engine, f"note{i:02d}.md", "text",
              [NewUnit(c * 100, c * 100 + 100, f"note {i} passage {c} about things", text_vec(unit(topic + 0.2 * noise())),
                       kind="chunk") for c in range(chunks)])
    engine.sign = sign  # type: ignore[attr-defined]
    yield engine, photo_topics, note_topics
    engine.close()


def test_the_synthetic_space_defeats_raw_cosine(library):
    """The premise: by raw cosine every text unit outranks the photo the query is about."""
    engine, photos, _ = library
    raw = engine.search_vector(text_query(photos[3]), k=20)
    assert all(h.kind in ("chunk", "ocr") for h in raw[:10])
    assert f"{ROOT}/photo03.jpg" not in [h.path for h in raw[:10]]


def test_calibrated_text_query_finds_the_photo_first(library):
    engine, photos, notes = library
    ranker: Ranker = engine._ranker
    found = 0
    for i in range(0, 40, 4):
        hits = ranker.search(text_query(photos[i]), None, k=5, mode="vector")
        found += hits[0].path == f"{ROOT}/photo{i:02d}.jpg"
        assert hits[0].strong and hits[0].score >= 0.5
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert found == 10
    # and a query about a note still finds the note
    hits = ranker.search(text_vec(notes[7]), None, k=3, mode="vector")
    assert hits[0].path == f"{ROOT}/note07.md" and hits[0].strong


def test_similarity_is_the_raw_cosine(library):
    engine, photos, _ = library
    q = text_query(photos[2])
    hit = engine._ranker.search(q, None, k=1, mode="vector")[0]
    assert hit.similarity == pytest.approx(float(image_vec(photos[2]) @ q), abs=1e-5)


def test_junk_read_in_a_photo_never_leads_but_a_sign_read_as_words_does(library):
    engine, photos, _ = library
    ranker: Ranker = engine._ranker
    for i in (0, 9, 21):
        hits = ranker.search(text_query(photos[i]), None, k=10, mode="vector", group="unit")
        assert all(h.kind != "ocr" for h in hits)  # "OFHICE" is nearer every text query than any photo
    # the sign's words as a query: the keyword side finds them, and they lead for their photo
    q = unit(text_vec(engine.sign) + 0.3 * noise())
    hits = ranker.search(q, "fresh bread bakery", k=3, mode="hybrid")
    assert hits[0].path == f"{ROOT}/photo05.jpg" and hits[0].kind == "ocr" and hits[0].strong
    assert hits[0].box == (0.1, 0.1, 0.5, 0.2) and hits[0].found_by == ("vector", "keyword")


def test_one_hit_per_file_with_its_other_units_as_evidence(library):
    engine, _, notes = library
    ranker: Ranker = engine._ranker
    q = text_vec(notes[0])
    by_file = ranker.search(q, None, k=10, mode="vector")
    paths = [h.path for h in by_file]
    assert len(paths) == len(set(paths))
    assert by_file[0].path == f"{ROOT}/note00.md"
    assert len(by_file[0].evidence) == 2 and {e.kind for e in by_file[0].evidence} == {"chunk"}
    assert all(e.score <= by_file[0].score for e in by_file[0].evidence)
    by_unit = ranker.search(q, None, k=10, mode="vector", group="unit")
    assert [h.path for h in by_unit[:3]] == [f"{ROOT}/note00.md"] * 3
    assert all(not h.evidence for h in by_unit)


def test_a_picture_query_checks_its_near_copies_in_one_read(library):
    """A photo used as the query leads its near copies (the same content), and finding out
    which candidates are the query itself reads their stored vectors once, not once a
    candidate (each read a round trip to SQLite that lets another request's thread in)."""
    engine, photos, _ = library
    ranker: Ranker = engine._ranker
    base = image_vec(photos[11])
    for c in range(8):  # near copies (re-saved, resized): cosine 0.99x with the original
        write(engine, f"copy{c}.jpg", "image", [NewUnit(None, None, None, unit(base + 0.1 * noise()), kind="image")])
    ranker.search(base, None, k=1, mode="vector", picture=True)  # the calibration is measured (its reads)
    reads = []
    repo = ranker.repo
    real = repo.vectors_of

    def counted(ids, dim):
        reads.append(list(ids))
        return real(ids, dim)

    repo.vectors_of = counted  # type: ignore[method-assign]
    try:
        hits = ranker.search(base, None, k=10, mode="vector", picture=True)
    finally:
        del repo.vectors_of
    assert hits[0].path == f"{ROOT}/photo11.jpg" and hits[0].similarity == pytest.approx(1.0, abs=1e-5)
    checked = [ids for ids in reads if len(ids) > 1]
    assert len(reads) <= 2 and checked, reads  # one read to check the candidates, one for the raw cosines


def test_pages_of_files_do_not_overlap(library):
    engine, photos, _ = library
    q = text_query(photos[1])
    first = engine._ranker.search(q, None, k=5, mode="vector")
    second = engine._ranker.search(q, None, k=5, offset=5, mode="vector")
    whole = engine._ranker.search(q, None, k=10, mode="vector")
    assert [h.id for h in first + second] == [h.id for h in whole]


def test_the_calibration_is_saved_by_the_writer_and_measured_again_when_stale(library, tmp_path):
    engine, photos, _ = library
    assert engine.refresh_calibration()  # the writer's step after a run
    saved = Calibration.load(engine.layout.calibration)
    assert saved is not None and set(saved.kinds) == {"image", "ocr", "chunk"}
    assert saved.kinds["image"].count == 40
    assert not engine.refresh_calibration()  # nothing changed enough
    assert saved.fresh_for({"image": 43, "ocr": 2, "chunk": 32})
    assert not saved.fresh_for({"image": 60, "ocr": 2, "chunk": 32})
    assert not saved.fresh_for({"image": 40, "ocr": 2, "chunk": 32, "window": 5})
    # a damaged file is measured again, never trusted
    engine.layout.calibration.write_bytes(b"not a calibration")
    assert Calibration.load(engine.layout.calibration) is None
    assert engine._ranker.search(text_query(photos[4]), None, k=1, mode="vector")[0].path == f"{ROOT}/photo04.jpg"


def test_a_kind_z_score_is_the_querys_own_standing_in_the_kind():
    """q.mean and q^T C q are the mean and variance of the query's cosines over the kind."""
    vectors = np.stack([unit(rng.normal(size=D)) for _ in range(500)])
    stats = KindStats.measure(vectors)
    q = unit(rng.normal(size=D))
    mu, sd = stats.baseline(q)
    sims = vectors @ q
    assert mu == pytest.approx(float(sims.mean()), abs=1e-5)
    assert sd == pytest.approx(float(sims.std()), rel=0.05)  # shrinkage adds a little


def test_relevance_is_a_probability_like_scale():
    assert relevance(3.0) == pytest.approx(0.5)
    assert relevance(-100) == 0.0 and relevance(100) == pytest.approx(1.0)
    assert relevance(2.0) < relevance(3.5) < relevance(5.0)
    assert OCR_Z > 3.0  # text read in a photo needs more than a strong match to stand alone


def test_a_small_kind_borrows_the_spread_of_its_tower_mates():
    """Eight notes on one topic know nothing of how a query about another topic spreads
    over text; alone, a note with a trace of that topic looks far above its kind. The windows
    of the same (text) tower spread along the query's direction and set the scale; the photos
    (image tower) lend nothing to the notes and take nothing from them."""
    local = np.random.default_rng(11)
    axes = np.eye(D)

    def text(direction: np.ndarray) -> np.ndarray:  # every text shares the text tower's offset
        return unit(0.6 * axes[0] + 0.8 * unit(direction))

    wide = np.zeros(D)
    wide[1:40] = 1.0
    windows = np.stack([text(local.normal(size=D) * wide) for _ in range(200)])
    notes = np.stack([text(axes[41] + 0.02 * local.normal(size=D)) for _ in range(7)]
                     + [text(axes[41] + 0.3 * axes[10])])  # the last: a trace of the query's topic
    photos = np.stack([unit(local.normal(size=D)) for _ in range(50)])
    vectors = {"window": windows, "chunk": notes, "image": photos}
    ids, table, start = {}, {}, 0
    for kind, block in vectors.items():
        ids[kind] = np.arange(start, start + len(block))
        table.update({start + i: v for i, v in enumerate(block)})
        start += len(block)
    calibration = Calibration.measure(ids, lambda wanted: np.stack([table[i] for i in wanted]))

    query = text(axes[10])
    similarity = float(notes[-1] @ query)
    alone = KindStats.measure(notes)
    assert alone.z(similarity, alone.baseline(query)) > 3.0  # strong, for a passing mention
    chunk = calibration.kinds["chunk"]
    assert chunk.z(similarity, chunk.baseline(query)) < 3.0
    # the window most about the query stays strong on its own kind's scale
    best = int(np.argmax(windows @ query))
    window = calibration.kinds["window"]
    assert window.z(float(windows[best] @ query), window.baseline(query)) > 3.0
    # the image tower is measured on its own
    image = calibration.kinds["image"]
    assert np.allclose(image.cov, KindStats.measure(photos).cov, atol=1e-6)
    assert np.allclose(image.mean, photos.mean(axis=0), atol=1e-6)


def test_near_copies_of_a_query_photo_lead_the_notes_in_order_of_closeness(library):
    """A burst of copies at the query photo inflates the photo kind's spread along the query,
    which used to score copies at cosine 0.98-0.99 below any text leaning the query's way;
    a near copy (cosine >= the duplicates threshold) is strong, in order of closeness."""
    engine, photos, notes = library
    ranker: Ranker = engine._ranker
    base = image_vec(photos[17])
    closeness = {}
    for c, spread in enumerate((0.05, 0.08, 0.12, 0.15, 0.18, 0.2)):
        v = unit(base + spread * noise())
        closeness[f"{ROOT}/copy{c}.jpg"] = float(v @ base)
        write(engine, f"copy{c}.jpg", "image", [NewUnit(None, None, None, v, kind="image")])
    hits = ranker.search(base, None, k=12, mode="vector", picture=True)
    copies = [h for h in hits if h.path in closeness]
    assert hits[0].path == f"{ROOT}/photo17.jpg"
    assert all(0.95 < c < 0.999 for c in closeness.values()), closeness
    assert [h.path for h in hits[1:1 + len(closeness)]] == sorted(closeness, key=closeness.get, reverse=True)
    assert all(h.strong for h in copies)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_picture_below_the_near_copy_cosine_keeps_its_calibrated_score():
    from searchengine.query.ranker import NEAR_COPY_COS, Z_IDENTICAL, near_copy_z
    from searchengine.query.calibration import Z_STRONG

    assert near_copy_z(NEAR_COPY_COS - 1e-4) is None
    assert near_copy_z(NEAR_COPY_COS) == pytest.approx(Z_STRONG)
    assert near_copy_z(1.0) == Z_IDENTICAL
    zs = [near_copy_z(c) for c in (0.95, 0.96, 0.98, 0.995, 0.9989)]
    assert zs == sorted(zs) and all(z is not None and Z_STRONG <= z <= Z_IDENTICAL for z in zs)


def test_real_photos_re_saved_resized_or_brightened_come_right_after_the_query(offline_settings, tmp_path):
    """The offline profile's real image model on the sample rocket photo and its edited
    copies, beside the sample notes (one of them about a rocket launch)."""
    from PIL import Image, ImageEnhance

    library = tmp_path / "lib"
    (library / "images").mkdir(parents=True)
    for note in (SAMPLES / "notes").iterdir():
        (library / note.name).write_bytes(note.read_bytes())
    for image in ("coffee.png", "horse.png", "chelsea.png", "camera.png"):
        (library / "images" / image).write_bytes((SAMPLES / "images" / image).read_bytes())
    rocket = Image.open(SAMPLES / "images" / "rocket.jpg").convert("RGB")
    w, h = rocket.size
    rocket.save(library / "images" / "rocket.jpg", quality=95)
    rocket.resize((int(w * 0.8), int(h * 0.8))).save(library / "images" / "rocket_small.jpg", quality=70)
    ImageEnhance.Brightness(rocket).enhance(1.15).save(library / "images" / "rocket_bright.jpg", quality=90)
    rocket.save(library / "images" / "rocket_q40.jpg", quality=40)
    engine = SearchEngine.open(tmp_path / "idx", settings=replace(offline_settings, index_root=tmp_path, ocr="off"))
    try:
        engine.index([library])
        hits = engine.search(image=SAMPLES / "images" / "rocket.jpg", k=6)
        names = [Path(h.path).name for h in hits]
        assert names[0] == "rocket.jpg"
        assert set(names[1:4]) == {"rocket_small.jpg", "rocket_bright.jpg", "rocket_q40.jpg"}, names
        assert all(h.strong for h in hits[:4])
        assert "launch.md" in names[4:]  # the note about a launch still comes, after the copies
    finally:
        engine.close()
