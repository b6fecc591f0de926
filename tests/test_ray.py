"""Indexing on Ray (``index --ray local``): the same units and vectors as the in-process run,
the same incremental, move and failure rules; a clear error without Ray. One local cluster
(2 CPUs) serves the whole module: starting Ray takes seconds."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_consistent, make_image

WORKTREE_PACKAGE = str((Path(__file__).resolve().parents[1] / "searchengine"))


def _ray_or_skip() -> None:
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as exc:
        if os.environ.get("SEARCHENGINE_REQUIRE_RAY"):
            pytest.fail(f"SEARCHENGINE_REQUIRE_RAY is set but Ray cannot be imported: {exc}")
        pytest.skip(f"Ray is not installed ({exc}); pip install '.[ray]'")


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster started the way ``--ray local`` starts one; the runs inside the
    module find it connected and use it."""
    _ray_or_skip()
    from searchengine.pipeline.ray_cluster import connected

    with connected("local", num_cpus=2) as resources:
        assert resources.started_here and resources.cpus == 2
        yield resources


@pytest.fixture
def media(tmp_path) -> Path:
    folder = tmp_path / "media"
    for i in range(5):
        make_image(folder / f"img{i}.png", seed=i)
    make_image(folder / "sub" / "photo.jpg", seed=7, size=(300, 200))
    (folder / "notes.txt").write_text("The harbour at dawn. " * 60)  # several chunks
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    from document_maker import make_pdf  # a document's pages and a photo's place travel too
    from test_photo_facts import SPOTS, tagged_photo

    make_pdf(folder / "guide.pdf", ["The first page of the guide.", "第二页：西湖的茶。"])
    tagged_photo(folder / "IMG_1002.jpg", *SPOTS["IMG_1002.jpg"])
    return folder


def _units(engine) -> dict[tuple, np.ndarray]:
    """(path, start, end, text) -> vector, for every unit of the index."""
    out = {}
    for ids, vecs in engine.repo.iter_vectors(engine.vectors.dim):
        rows = engine.repo.units([int(i) for i in ids])
        for i, v in zip(ids, vecs):
            r = rows[int(i)]
            out[(r.path, r.start, r.end, r.text, r.kind, r.page, r.place, r.taken_ns)] = v
    return out


def test_ray_run_gives_the_in_process_units_and_vectors(cluster, open_engine, media, caplog):
    local = open_engine("in-process")
    expected = local.index([media])
    caplog.set_level(logging.INFO, logger="searchengine.pipeline.ray_runner")
    engine = open_engine("on-ray")
    report = engine.index([media], ray="local")

    assert (report.added, report.failed, report.units_added) == (expected.added, 1, expected.units_added)
    assert report.added == 9 and report.model_loaded
    assert [p for p, _ in report.failures] == [str(media / "broken.jpg")]
    assert engine.failures()[0].path == str(media / "broken.jpg")
    ours, theirs = _units(engine), _units(local)
    assert sorted(ours, key=repr) == sorted(theirs, key=repr)
    assert all(np.allclose(ours[key], theirs[key], atol=1e-5) for key in ours)
    assert {k[5] for k in ours if k[0].endswith("guide.pdf")} == {1, 2}
    assert {k[4] for k in ours if k[0].endswith("IMG_1002.jpg")} == {"image", "place"}
    assert report.stages.decode > 0 and report.stages.encode > 0 and report.stages.write > 0
    assert_consistent(engine)
    # the work ran in Ray worker processes that imported this checkout's package
    done = [r.getMessage() for r in caplog.records if "Ray workers" in r.getMessage()]
    assert done and WORKTREE_PACKAGE in done[-1] and str(os.getpid()) not in done[-1].split(":")[1:2]
    def found(e):  # unit ids follow the order batches were written in, which may differ
        return [(h.path, h.start, h.end, h.kind) for h in e.search("the harbour", k=3)]

    assert found(engine) == found(local)


def test_ray_rerun_is_incremental_and_reuses_moved_files(cluster, open_engine, media):
    engine = open_engine("incremental")
    engine.index([media], ray="local")
    before = _units(engine)

    again = engine.index([media], ray="local")
    assert again.embedded_files == 0 and again.units_added == 0 and not again.model_loaded
    assert again.unchanged == 10

    (media / "img0.png").rename(media / "sub" / "moved.png")
    make_image(media / "new.png", seed=42)
    report = engine.index([media], ray="local")
    assert (report.moved, report.added, report.deleted, report.unchanged) == (1, 1, 0, 9)
    after = _units(engine)
    old_key = next(k for k in before if k[0] == str(media / "img0.png"))
    new_key = next(k for k in after if k[0] == str(media / "sub" / "moved.png"))
    assert np.array_equal(before[old_key], after[new_key])  # reused, not re-embedded
    assert len(after) == len(before) + 1
    assert_consistent(engine)


def test_without_ray_the_error_says_how_to_install_it(open_engine, settings, media, monkeypatch):
    from typer.testing import CliRunner

    from searchengine.cli import app
    from searchengine.errors import ClusterUnavailableError

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    monkeypatch.setenv("SEARCHENGINE_MODEL", settings.model)
    engine = open_engine("no-ray")
    with pytest.raises(ClusterUnavailableError, match=r"pip install 'searchengine\[ray\]'"):
        engine.index([media], ray="local")
    assert engine.repo.files() == {}  # failed before planning anything
    result = CliRunner().invoke(app, ["index", str(media), "--index", str(media.parent / "cli-idx"), "--ray", "local"])
    assert result.exit_code == 2 and "searchengine[ray]" in result.output


def test_transcripts_travel_between_the_index_and_the_workers(cluster, open_engine, tmp_path):
    """Workers cannot read the index: a transcript they make is saved by the driver, and one
    the index knows is shipped to them (no second recognition)."""
    import shutil

    from conftest import SAMPLES

    media = tmp_path / "talks"
    media.mkdir()
    srt = "1\n00:00:02,000 --> 00:00:05,000\nZebras playing in an orchestra.\n"
    shutil.copy(SAMPLES / "audio" / "LJ001-0031.wav", media / "talk.wav")
    (media / "talk.srt").write_text(srt)
    engine = open_engine("talks")
    first = engine.index([media], ray="local")
    assert first.added == 1 and first.transcript_cache_hits == 0
    digest = engine.repo.files()[str(media / "talk.wav")].content_hash
    assert engine.repo.transcript(digest, "sidecar") is not None  # saved by the driver

    (media / "talk.wav").rename(tmp_path / "away.wav")
    assert engine.index([media], ray="local").deleted == 1
    shutil.copy(tmp_path / "away.wav", media / "talk.wav")  # back, as a new file: embedded again
    back = engine.index([media], ray="local")
    assert back.added == 1 and back.transcript_cache_hits == 1
    assert engine.search("zebras in an orchestra", k=1, mode="keyword")[0].path == str(media / "talk.wav")


def test_a_model_the_workers_cannot_load_stops_the_run_with_its_typed_error(cluster, open_engine, media,
                                                                            monkeypatch):
    from searchengine.errors import ModelUnavailableError
    from searchengine.pipeline.ray_worker import WorkerEncoder

    engine = open_engine("bad-model")
    monkeypatch.setattr(engine, "_worker_encoder",
                        lambda gpus: WorkerEncoder("open_clip:local-dir:/nonexistent", "cpu", "fp32", None))
    with pytest.raises(ModelUnavailableError, match="/nonexistent"):
        engine.index([media], ray="local")


def test_actors_take_a_gpu_each_where_the_model_runs_on_one(settings):
    from searchengine.pipeline.ray_cluster import Resources
    from searchengine.pipeline.ray_runner import actor_shape
    from searchengine.pipeline.ray_worker import WorkerEncoder

    clip = WorkerEncoder("open_clip:ViT-B-32/laion2b_s34b_b79k", "auto", "fp32", None)
    gpus = Resources(cpus=32, gpus=4, connect_seconds=0, started_here=False)
    cpus = Resources(cpus=16, gpus=0, connect_seconds=0, started_here=False)
    assert actor_shape(gpus, settings, clip, batches=100) == (4, 2.0, 1.0)
    assert actor_shape(gpus, settings, clip, batches=3) == (3, 2.0, 1.0)  # never more actors than batches
    assert actor_shape(cpus, settings, clip, batches=100) == (8, 2.0, 0.0)  # decode_workers CPUs each
    int8 = WorkerEncoder(clip.spec, "auto", "int8", None)
    assert actor_shape(gpus, settings, int8, batches=100) == (16, 2.0, 0.0)  # int8 runs on CPUs
    e5 = WorkerEncoder("offline:e5-effnet", "auto", "fp32", None)
    assert actor_shape(gpus, settings, e5, batches=100)[2] == 0.0  # a CPU text engine
    on_cpu = settings.with_(device="cpu")
    assert actor_shape(gpus, on_cpu, clip, batches=100)[2] == 0.0
    one_cpu = Resources(cpus=1, gpus=0, connect_seconds=0, started_here=False)
    assert actor_shape(one_cpu, settings, clip, batches=100) == (1, 1.0, 0.0)


def test_a_new_index_for_gpu_workers_is_built_in_fp32(open_engine):
    """``auto`` on a CPU driver is int8 for open_clip, which would leave a cluster's GPUs idle
    (and fp16 cannot load without a GPU here)."""
    for_gpus = open_engine("for-gpus")
    with for_gpus.catalog.write_lock():  # as an index run asks for it: the new index's manifest
        gpu = for_gpus._worker_encoder(True)
    cpu = open_engine("for-cpus")._worker_encoder(False)  # outside a run: nothing written
    assert (gpu.precision, cpu.precision) == ("fp32", "int8")
    assert open_engine("for-gpus").status().precision == "fp32"  # what the manifest records
    assert not open_engine("for-cpus").layout.manifest.exists()


def test_text_in_images_is_read_on_the_workers_and_cached_by_the_driver(cluster, open_engine, tmp_path):
    from searchengine.evaluation.rendered_text import background, find_fonts, render
    from searchengine.ocr import reader as ocr_reader

    fonts = find_fonts()
    if not ocr_reader.available() or not fonts:
        pytest.fail("rapidocr-onnxruntime and a font are dependencies of the test suite")
    folder = tmp_path / "signs"
    folder.mkdir()
    sign, _ = render(background(1), "Fresh Coffee Daily", fonts[0], 44, at=(0.1, 0.2))
    sign.save(folder / "cafe.jpg", quality=92)
    local = open_engine("ocr-in-process")
    local.index([folder])
    engine = open_engine("ocr-on-ray")
    first = engine.index([folder], ray="local")
    ours, theirs = _units(engine), _units(local)
    assert set(ours) == set(theirs)
    assert all(np.allclose(ours[key], theirs[key], atol=1e-5) for key in ours)
    assert any(key[4] == "ocr" and "Coffee" in (key[3] or "") for key in ours)
    assert first.ocr_images == 1 and first.ocr_cache_hits == 0
    # the driver kept what the worker read: a copy elsewhere is read from the cache, not again
    copy = tmp_path / "again"
    copy.mkdir()
    sign.save(copy / "cafe-edited.jpg", quality=80)  # new content: read on a worker
    (copy / "same.jpg").write_bytes((folder / "cafe.jpg").read_bytes())
    engine.forget(str(folder))
    second = engine.index([copy], ray="local")
    assert second.ocr_cache_hits == 1 and second.ocr_images == 1


def test_an_address_nothing_answers_at_fails_at_once(open_engine, media):
    """Ray itself retries a dead address for minutes."""
    _ray_or_skip()
    import socket

    from searchengine.errors import ClusterUnavailableError, InvalidInputError

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = open_engine("dead-address")
    with pytest.raises(ClusterUnavailableError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        engine.index([media], ray=f"127.0.0.1:{port}")
    with pytest.raises(InvalidInputError, match="HOST:PORT"):
        engine.index([media], ray="somewhere")
