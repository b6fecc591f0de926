"""The engine end to end on real SQLite and a real PostgreSQL server (each test runs on
both), real FAISS and a real (tiny) open_clip model."""

import shutil

import pytest

from conftest import CACHE_DIR, assert_consistent, make_image, run_sql
from searchengine.media.hashing import content_hash
from searchengine.store.database import head_revision
from searchengine import (
    IndexDamagedError,
    IndexIncompatibleError,
    IndexUnavailableError,
    InvalidInputError,
    SearchEngine,
)


@pytest.fixture
def settings(settings, database_url):
    return settings.with_(database_url=database_url)


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "media"
    for i in range(6):
        make_image(root / f"photo{i}.png", seed=i)
    (root / "notes").mkdir()
    (root / "notes" / "trip.md").write_text("We walked the dog along the beach at sunset. " * 30)
    (root / "notes" / "todo.txt").write_text("buy milk and bread")
    return root


def test_index_then_search_by_text_image_and_id(open_engine, media):
    engine = open_engine()
    report = engine.index([media])
    assert (report.added, report.failed, report.scanned) == (8, 0, 8)
    assert report.units_added > 8  # the long note became several chunks
    assert_consistent(engine)

    hits = engine.search(image=media / "photo3.png", k=3)
    assert hits[0].path == str(media / "photo3.png") and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    (hit,) = engine.search("buy milk and bread", k=1)
    assert hit.path.endswith("todo.txt") and hit.text == "buy milk and bread"
    assert (hit.start, hit.end) == (0, len("buy milk and bread"))

    more = engine.search(similar_to=hits[0].id, k=3)
    assert hits[0].id not in [h.id for h in more]

    only_text = engine.search(image=media / "photo3.png", k=50, modality="text")
    assert only_text and {h.modality for h in only_text} == {"text"}
    glob = engine.search("dog", k=50, path_glob="*.md")
    assert glob and all(h.path.endswith(".md") for h in glob)

    page1 = engine.search("dog", k=3)
    page2 = engine.search("dog", k=3, offset=3)
    assert [h.id for h in engine.search("dog", k=6)] == [h.id for h in page1 + page2]


def test_unchanged_rerun_embeds_nothing(open_engine, media):
    engine = open_engine()
    engine.index([media])
    again = engine.index([media])
    assert again.unchanged == 8 and again.embedded_files == 0 and again.units_added == 0
    # touched but same content: no embedding either
    (media / "photo1.png").touch()
    shutil.copystat(media / "photo0.png", media / "photo2.png")
    third = engine.index([media])
    assert third.embedded_files == 0 and third.units_added == 0


def test_modify_move_copy_delete(open_engine, media):
    engine = open_engine()
    engine.index([media])
    before = {h.path: h.id for h in engine.search(image=media / "photo0.png", k=100, modality="image")}

    make_image(media / "photo1.png", seed=99)  # modified
    (media / "photo2.png").rename(media / "renamed.png")  # moved
    shutil.copy(media / "photo3.png", media / "copy of 3.png")  # copied: vectors reused
    (media / "photo4.png").unlink()  # deleted
    report = engine.index([media])
    assert (report.updated, report.moved, report.reused, report.deleted) == (1, 1, 1, 1)
    assert report.units_added == 1  # only the modified photo was embedded
    assert_consistent(engine)

    hits = {h.path: h for h in engine.search(image=media / "renamed.png", k=100, modality="image")}
    assert str(media / "photo2.png") not in hits and str(media / "photo4.png") not in hits
    assert hits[str(media / "renamed.png")].id == before[str(media / "photo2.png")]
    assert hits[str(media / "renamed.png")].score == pytest.approx(1.0, abs=1e-4)
    top = engine.search(image=media / "photo1.png", k=1)[0]
    assert top.path == str(media / "photo1.png") and top.score == pytest.approx(1.0, abs=1e-4)

    shutil.rmtree(media / "notes")
    engine.index([media])
    assert engine.search("dog", k=10, modality="text") == []
    assert_consistent(engine)


def test_files_renamed_in_a_chain_or_a_rotation_keep_their_own_content(open_engine, media):
    """Each path takes the content another path had (photo0 -> photo1 -> ... -> photo5 -> new,
    then photo0 <-> photo1 swapped): every file must end up with its own content's vectors,
    not with the first one's copied down the chain."""
    engine = open_engine()
    engine.index([media])
    contents = {i: (media / f"photo{i}.png").read_bytes() for i in range(6)}
    (media / "photo6.png").write_bytes(contents[5])  # a new path, the content photo5 had
    for i in range(5, 0, -1):  # the chain: photo{i} now holds what photo{i-1} held
        (media / f"photo{i}.png").write_bytes(contents[i - 1])
    make_image(media / "photo0.png", seed=50)
    chain = engine.index([media])
    # in the right order every renamed file takes its row's copy: only the new picture is embedded
    assert (chain.reused, chain.embedded_files) == (6, 1)
    a, b = (media / "photo0.png").read_bytes(), (media / "photo1.png").read_bytes()
    (media / "photo0.png").write_bytes(b)  # a rotation: two files swap their contents
    (media / "photo1.png").write_bytes(a)
    rotation = engine.index([media])
    assert (rotation.reused, rotation.embedded_files) == (1, 1)  # no order works: one is embedded again
    assert_consistent(engine)
    records = engine.repo.files()
    for i in range(7):
        path = media / f"photo{i}.png"
        assert records[str(path)].content_hash == content_hash(path), path.name
        hits = engine.search(image=path, k=20, modality="image", group="unit")
        own = [h.similarity for h in hits if h.path == str(path)]
        assert own and own[0] == max(h.similarity for h in hits) and own[0] > 0.999, \
            f"{path.name} holds another file's vectors"


def test_corrupt_truncated_empty_and_mislabelled_files_are_recorded(open_engine, media):
    (media / "empty.jpg").write_bytes(b"")
    (media / "text.png").write_text("I am not a png")
    good = (media / "photo0.png").read_bytes()
    (media / "truncated.png").write_bytes(good[: len(good) // 3])
    (media / "empty.md").write_text("   \n")
    engine = open_engine()
    report = engine.index([media])
    assert report.failed == 3 and report.added == 8
    reasons = dict(report.failures)
    assert "text.png" in reasons[str(media / "text.png")]
    failed = {f.path for f in engine.repo.failures()}
    assert failed == {str(media / n) for n in ("text.png", "truncated.png", "empty.md")}
    # a file of 0 bytes is not a failure: skipped, with its reason
    assert "empty (0 bytes)" in dict(report.noted_skips)[str(media / "empty.jpg")]
    assert report.skip_counts["empty"] == 1
    assert_consistent(engine)
    # failed files are not retried while unchanged, and are retried when fixed
    assert engine.index([media]).failed == 0
    make_image(media / "text.png", seed=42)
    fixed = engine.index([media])
    assert fixed.updated == 1 and len(engine.repo.failures()) == 2


def test_stale_or_missing_faiss_file_is_rebuilt_on_open(open_engine, settings, media):
    engine = open_engine()
    engine.index([media])
    expected = [h.id for h in engine.search("dog", k=5)]
    folder = engine.layout.folder
    engine.close()

    (folder / "vectors.faiss").unlink()
    reopened = open_engine()
    assert [h.id for h in reopened.search("dog", k=5)] == expected
    assert_consistent(reopened)

    # simulate a crash after an SQL commit but before the FAISS save: stamp is behind
    run_sql(engine, "DELETE FROM units WHERE file_id = (SELECT id FROM media_files WHERE path LIKE '%todo.txt')",
            "DELETE FROM media_files WHERE path LIKE '%todo.txt'",
            "UPDATE index_state SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'")
    third = open_engine()
    assert_consistent(third)
    assert all(not h.path.endswith("todo.txt") for h in third.search("buy milk and bread", k=20))

    (folder / "vectors.faiss").write_bytes(b"garbage")
    fourth = open_engine()
    assert_consistent(fourth)


def test_interrupted_run_resumes_without_redoing_finished_files(open_engine, settings, media, monkeypatch):
    for i in range(6, 14):
        make_image(media / f"more{i}.png", seed=i)
    engine = open_engine()
    from searchengine.encoders.open_clip_backend import OpenClipOnnxEncoder as OpenClipEncoder

    calls = {"n": 0}
    real = OpenClipEncoder.encode_prepared_images

    def crash_on_third_batch(self, prepared):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated crash")
        return real(self, prepared)

    monkeypatch.setattr(OpenClipEncoder, "encode_prepared_images", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        engine.index([media])
    done_before = engine.repo.unit_count()
    assert done_before > 0
    engine.close()
    monkeypatch.setattr(OpenClipEncoder, "encode_prepared_images", real)

    resumed = open_engine()
    assert_consistent(resumed)
    report = resumed.index([media])
    assert report.unchanged > 0 and report.added + report.unchanged == 16
    assert resumed.repo.unit_count() == done_before + report.units_added
    assert_consistent(resumed)


def test_open_errors(open_engine, settings, media, tmp_path):
    with pytest.raises(IndexUnavailableError, match="no index"):
        SearchEngine.open("missing", settings=settings, create=False)
    engine = open_engine()
    engine.index([media])
    with pytest.raises(IndexIncompatibleError, match="was built with model"):
        open_engine(model="open_clip:ViT-B-32/laion2b_s34b_b79k")
    with pytest.raises(InvalidInputError, match="empty"):
        engine.search("   ")
    with pytest.raises(InvalidInputError, match="exactly one"):
        engine.search("dog", image=media / "photo0.png")
    with pytest.raises(InvalidInputError, match="id 999999"):
        engine.search(similar_to=999999)
    with pytest.raises(InvalidInputError, match="modality"):
        engine.search("dog", modality="smell")
    folder = engine.layout.folder
    engine.close()

    run_sql(engine, "UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(IndexIncompatibleError, match="newer version"):
        open_engine()
    run_sql(engine, f"UPDATE alembic_version SET version_num = '{head_revision()}'")

    (folder / "manifest.json").write_text("{broken")
    with pytest.raises(IndexDamagedError, match="manifest"):
        open_engine()
    (folder / "manifest.json").unlink()
    if settings.database_url is None:
        with pytest.raises(IndexDamagedError, match="no manifest"):
            open_engine()
    else:  # the database keeps a copy: the folder is a replica, rebuilt from it
        assert open_engine().model == engine.model and (folder / "manifest.json").is_file()


def test_index_folder_inside_media_is_skipped(tiny_clip, tmp_path):
    from searchengine import Settings

    make_image(tmp_path / "a.png", 1)
    settings = Settings(index_root=tmp_path / "indexes", model=tiny_clip, cache_dir=CACHE_DIR)
    with SearchEngine.open("inside", settings=settings) as engine:
        report = engine.index([tmp_path])
        assert report.scanned == 1
        make_image(engine.layout.folder / "thumbnail.png", 2)
        assert engine.index([tmp_path]).scanned == 1
        assert all("indexes" not in h.path for h in engine.search("x", k=10))


def test_modified_time_filter(open_engine, media):
    import os
    from datetime import datetime

    old = datetime(2020, 1, 1).timestamp()
    os.utime(media / "photo0.png", (old, old))
    engine = open_engine()
    engine.index([media])
    before_2021 = engine.search("x", k=50, modified_before=datetime(2021, 1, 1))
    assert [h.path for h in before_2021] == [str(media / "photo0.png")]
    after_2021 = engine.search("x", k=50, modified_after=datetime(2021, 1, 1))
    assert str(media / "photo0.png") not in {h.path for h in after_2021} and len(after_2021) > 5


def test_a_second_writer_is_seen_and_never_overwritten(open_engine, media):
    """Two engines (or processes) on one folder: each notices the other's writes."""
    first = open_engine()
    first.index([media])
    second = open_engine()
    (media / "notes" / "todo.txt").write_text("volcano lava eruption")
    second.index([media])
    import time

    time.sleep(1.1)  # searches re-check the index at most once a second
    assert first.search("volcano lava eruption", k=1)[0].path.endswith("todo.txt")
    make_image(media / "photo5.png", seed=77)
    first.index([media])  # must start from the second engine's state, not its own old copy
    assert_consistent(first)
    third = open_engine()
    assert_consistent(third)
    assert third.search("volcano lava eruption", k=1)[0].path.endswith("todo.txt")


def test_vanished_folder_is_kept_until_forgotten(open_engine, media, tmp_path):
    other = tmp_path / "other"
    make_image(other / "x.png", seed=5)
    engine = open_engine()
    engine.index([media, other])
    shutil.rmtree(other)
    report = engine.index()  # the stored folders: one is gone
    assert report.missing_roots == [str(other)] and report.deleted == 0
    assert any(h.path == str(other / "x.png") for h in engine.search("x", k=50))
    assert engine.forget(other) == 1
    assert all(h.path != str(other / "x.png") for h in engine.search("x", k=50))
    assert str(other) not in engine.repo.roots()
    assert_consistent(engine)
    with pytest.raises(InvalidInputError, match="nothing is indexed"):
        engine.forget(other)


def test_failed_files_can_be_retried_and_bad_asr_model_fails_early(open_engine, media, settings):
    (media / "bad.png").write_bytes(b"nope")
    engine = open_engine()
    assert engine.index([media]).failed == 1
    assert engine.index([media]).failed == 0  # unchanged: not retried by default
    assert engine.index([media], retry_failed=True).failed == 1
    bad = open_engine(settings=settings.with_(asr_model="bogus"))
    with pytest.raises(InvalidInputError, match="--asr-model 'bogus'"):
        bad.index([media])


def test_similar_to_out_of_range_id_is_an_input_error(open_engine, media):
    engine = open_engine()
    engine.index([media])
    with pytest.raises(InvalidInputError):
        engine.search(similar_to=10**20)


def test_an_unchanged_run_does_not_rewrite_the_faiss_file(open_engine, media):
    engine = open_engine()
    engine.index([media])
    stamp = engine.layout.vectors.stat().st_mtime_ns
    engine.index([media])
    assert engine.layout.vectors.stat().st_mtime_ns == stamp
    (media / "notes" / "todo.txt").write_text("something new")
    engine.index([media])
    assert engine.layout.vectors.stat().st_mtime_ns != stamp
