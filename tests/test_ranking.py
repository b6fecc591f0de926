"""Ranking: one relevance scale across kinds, text read in photos as evidence, one hit per file
(searchengine.query.ranker, searchengine.query.calibration).

A synthetic joint space with the modality gap of real ones - every text unit sits near one
common text direction, every picture near another - written through the real catalog (real
SQLite, FAISS and keyword index) and searched by the real query layer; no model runs."""

from __future__ import annotations

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
