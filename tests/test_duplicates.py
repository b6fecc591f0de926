"""Duplicates (searchengine.duplicates.finder): exact copies and near-duplicate photos.

Range search against brute force on random vectors (base, delta, tombstones); the whole pass
on synthetic vectors written through the catalog (flat and IVF kinds, a reader beside a
mapped base) against groups computed by brute force; and real photos changed with Pillow,
embedded by the offline profile's real image model, through the engine, the CLI and HTTP.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageEnhance
from typer.testing import CliRunner

from conftest import CACHE_DIR, SAMPLES, assert_error
from searchengine import SearchEngine, Settings
from searchengine.cli import app as cli_app
from searchengine.errors import InvalidInputError
from searchengine.http.app import create_app
from searchengine.catalog.manifest import Manifest
from searchengine.query.filters import SearchFilters
from searchengine.store.database import head_revision
from searchengine.store.duplicate_rows import photo_batches
from searchengine.store.repository import FileWrite, NewUnit
from searchengine.vectors.faiss_index import VectorIndex, read_vector_index
from searchengine.vectors.index_kind import IndexKind

D = 32
ROOT = "/data/library"


def normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def random_vectors(n: int, seed: int) -> np.ndarray:
    return normalise(np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32))


def near(v: np.ndarray, cosine: float, seed: int) -> np.ndarray:
    """A unit vector whose cosine with ``v`` is ``cosine``."""
    r = np.random.default_rng(seed).standard_normal(D).astype(np.float32)
    r = normalise(r - (r @ v) * v)
    return normalise(cosine * v + np.sqrt(1 - cosine**2) * r)


# -- range search ----------------------------------------------------------------------------


def brute_range(vecs: np.ndarray, ids: np.ndarray, live: np.ndarray, q: np.ndarray, radius: float) -> dict[int, float]:
    scores = vecs @ q
    hit = (scores > radius) & live
    return {int(i): float(s) for i, s in zip(ids[hit], scores[hit])}


@pytest.mark.parametrize("kind", [IndexKind(), IndexKind(name="ivf-flat", nlist=8, nprobe=8),
                                  IndexKind(name="ivf-sq8", nlist=8, nprobe=8)])
def test_range_search_equals_brute_force_with_delta_and_tombstones(tmp_path, kind):
    vecs = random_vectors(3000, seed=1)
    ids = np.arange(1, 3001, dtype=np.int64)
    index = VectorIndex(D, kind)
    if kind.is_ivf:
        import faiss

        faiss.extract_index_ivf(index._index).train(vecs)
    index.add(ids[:2000], vecs[:2000])
    index.write(tmp_path / "v.faiss", 1, 2000)
    base, _ = read_vector_index(tmp_path / "v.faiss", D, mmap=True)
    base.add(ids[2000:], vecs[2000:])  # the delta
    dead = [3, 17, 1999, 2001, 2999]
    assert base.remove(dead) == len(dead)  # tombstones in the base, removals from the delta
    assert base.read_only and base.pending > 0
    live = np.ones(len(ids), dtype=bool)
    live[np.asarray(dead) - 1] = False
    allowed = ids[ids % 3 != 0]
    tol = 0.02 if kind.approximate else 1e-5
    for allow in (None, allowed):
        mask = live if allow is None else live & np.isin(ids, allow)
        lims, scores, found = base.range_search(vecs[:40], 0.5, allowed=allow)
        assert len(lims) == 41
        for row in range(40):
            got = dict(zip(found[lims[row]:lims[row + 1]].tolist(), scores[lims[row]:lims[row + 1]].tolist()))
            truth = brute_range(vecs, ids, mask, vecs[row], 0.5)
            if kind.approximate:  # SQ8 codes: the same pairs but near the boundary
                assert set(truth) - set(got) <= {i for i, s in truth.items() if s < 0.5 + tol}
                assert all(truth.get(i, brute_range(vecs, ids, mask, vecs[row], -1)[i]) > 0.5 - tol for i in got)
            else:
                assert set(got) == set(truth)
                assert all(abs(got[i] - truth[i]) < tol for i in got)
            assert not set(got) & set(dead)
    # a writable index (no delta) gives the same as its mapped copy
    index.add(ids[2000:], vecs[2000:])
    index.remove(dead)
    l1, _, f1 = index.range_search(vecs[:40], 0.5)
    l2, _, f2 = base.range_search(vecs[:40], 0.5)
    assert [sorted(f1[l1[r]:l1[r + 1]].tolist()) for r in range(40)] == \
        [sorted(f2[l2[r]:l2[r + 1]].tolist()) for r in range(40)]


# -- the whole pass on synthetic vectors -----------------------------------------------------


@pytest.fixture
def engines(tmp_path):
    folder = tmp_path / "idx"
    settings = Settings.from_env(model="offline:minilm-effnet", index_root=tmp_path)
    opened: list[SearchEngine] = []

    def new() -> SearchEngine:
        engine = SearchEngine.open(folder, settings=settings)
        Manifest(model=engine.model, dim=D, metric="inner_product", index_type="flat",
                 schema_revision=head_revision(), precision="fp32").save(engine.layout.manifest)
        engine.close()
        return open_()

    def open_() -> SearchEngine:
        engine = SearchEngine.open(folder, settings=settings)
        opened.append(engine)
        return engine

    yield new, open_
    for engine in opened:
        engine.close()


def photo(path: str, vec: np.ndarray, content: str | None = None, size: int = 1000,
          extra: list[NewUnit] | None = None) -> FileWrite:
    return FileWrite(path=path, modality="image", content_hash=content or f"h:{path}", size=size, mtime_ns=1,
                     units=[NewUnit(None, None, None, np.asarray(vec, dtype=np.float32), kind="image")] + (extra or []))


def library(n: int = 1500, seed: int = 0) -> tuple[list[FileWrite], dict[str, np.ndarray]]:
    """``n`` unrelated photos, planted near-duplicates (pairs at 0.97 and 0.92, a chain of
    three), exact copies of a photo and of a text file, and look-alikes that are no photos:
    a text chunk and text read in a picture with a photo's very vector."""
    vecs = random_vectors(n, seed)
    writes = [photo(f"{ROOT}/d{i % 10}/p{i:04d}.jpg", vecs[i], size=1000 + i) for i in range(n)]
    photos = {w.path: vecs[i] for i, w in enumerate(writes)}
    planted = [(0, 0.97), (1, 0.97), (2, 0.92), (3, 0.99)]
    for j, (i, cos) in enumerate(planted):
        v = near(vecs[i], cos, seed=100 + j)
        writes.append(photo(f"{ROOT}/d{i % 10}/p{i:04d}-edited.jpg", v, size=500))
        photos[writes[-1].path] = v
    chain = near(near(vecs[3], 0.99, 100 + 3), 0.99, seed=200)  # 0.99 to the edit of p0003
    writes.append(photo(f"{ROOT}/d3/p0003-edited-again.jpg", chain, size=400))
    photos[writes[-1].path] = chain
    # exact copies of p0005: same content hash, same vector
    for name in ("copy-a.jpg", "copy-b.jpg"):
        writes.append(photo(f"{ROOT}/copies/{name}", vecs[5], content="h:" + f"{ROOT}/d5/p0005.jpg", size=1005))
    writes[5] = photo(writes[5].path, vecs[5], content="h:" + f"{ROOT}/d5/p0005.jpg", size=1005)
    writes.append(FileWrite(path=f"{ROOT}/notes/a.txt", modality="text", content_hash="h:text", size=7, mtime_ns=1,
                            units=[NewUnit(0, 7, "a note", vecs[10], kind="chunk")]))
    writes.append(FileWrite(path=f"{ROOT}/notes/b.txt", modality="text", content_hash="h:text", size=7, mtime_ns=1,
                            units=[NewUnit(0, 7, "a note", vecs[10], kind="chunk")]))
    # text read in a picture, with p0011's vector: not a photo of its own
    writes[12] = photo(writes[12].path, vecs[12], size=1012,
                       extra=[NewUnit(None, None, "sign", vecs[11], kind="ocr", box=(0, 0, 1, 1))])
    return writes, photos


def brute_groups(photos: dict[str, np.ndarray], threshold: float, keep=lambda p: True) -> set[frozenset[str]]:
    """Connected components of the pairs at or above ``threshold``, copies left to one."""
    paths = [p for p in sorted(photos) if keep(p) and "/copies/" not in p]
    x = np.stack([photos[p] for p in paths])
    s = x @ x.T
    parent = list(range(len(paths)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in zip(*np.nonzero(np.triu(s >= threshold, 1))):
        parent[max(find(a), find(b))] = min(find(a), find(b))
    comps: dict[int, set[str]] = {}
    for i, p in enumerate(paths):
        comps.setdefault(find(i), set()).add(p)
    return {frozenset(c) for c in comps.values() if len(c) > 1}


def near_sets(report) -> set[frozenset[str]]:
    return {frozenset(f.path for f in g.files) for g in report.near}


def check_near(report, photos: dict[str, np.ndarray], threshold: float) -> None:
    assert near_sets(report) == brute_groups(photos, threshold)
    for g in report.near:
        first = photos[g.files[0].path]
        assert g.files[0].score is None and g.files[0].size == max(f.size for f in g.files)
        scores = [f.score for f in g.files[1:]]
        assert scores == sorted(scores, reverse=True)
        for f in g.files[1:]:
            assert f.score == pytest.approx(float(first @ photos[f.path]), abs=1e-4)
        assert g.score >= threshold


def test_exact_copies_and_near_duplicates_match_brute_force(engines):
    new, open_ = engines
    engine = new()
    writes, photos = library()
    engine.catalog.store_files(writes)
    report = engine.duplicates(0.95)
    assert report.photos == len(photos)  # the two extra copies (not in photos) stand aside
    exact = {frozenset(f.path for f in g.files) for g in report.exact}
    assert exact == {frozenset({f"{ROOT}/d5/p0005.jpg", f"{ROOT}/copies/copy-a.jpg", f"{ROOT}/copies/copy-b.jpg"}),
                     frozenset({f"{ROOT}/notes/a.txt", f"{ROOT}/notes/b.txt"})}
    assert report.exact[0].redundant_bytes == 2 * 1005  # the most redundant bytes first
    assert all(f.item_id for g in report.exact for f in g.files)
    check_near(report, photos, 0.95)
    assert {f"{ROOT}/d0/p0000.jpg", f"{ROOT}/d0/p0000-edited.jpg"} in near_sets(report)
    chain = {f"{ROOT}/d3/p0003.jpg", f"{ROOT}/d3/p0003-edited.jpg", f"{ROOT}/d3/p0003-edited-again.jpg"}
    assert chain in near_sets(report)  # a chain is one group
    assert report.near[0].score == pytest.approx(0.99, abs=1e-3)  # the closest pairs first
    assert not any("p0011" in p or "p0012" in p or "notes" in p for g in near_sets(report) for p in g)

    # the threshold is respected: 0.92 comes in at 0.9, the 0.97 pairs leave at 0.98
    low = engine.duplicates(0.9)
    check_near(low, photos, 0.9)
    assert {f"{ROOT}/d2/p0002.jpg", f"{ROOT}/d2/p0002-edited.jpg"} in near_sets(low)
    assert {f"{ROOT}/d2/p0002.jpg", f"{ROOT}/d2/p0002-edited.jpg"} not in near_sets(report)
    high = engine.duplicates(0.98)
    check_near(high, photos, 0.98)
    assert not any("p0000" in p for g in near_sets(high) for p in g)

    # photos are read in pages of units, skipping pages with no photo (here: every 7 units)
    pages = list(photo_batches(engine.repo, D, batch=7))
    truth = sorted(i for i, row in engine.repo.units(list(range(1, len(writes) + 2))).items()
                   if row.kind == "image" and row.modality == "image")
    assert np.concatenate([b.ids for b in pages]).tolist() == truth and max(len(b.ids) for b in pages) <= 7

    # kinds, limit, a path filter
    assert engine.duplicates(kind="exact").near == [] and engine.duplicates(kind="near").exact == []
    only_near = engine.duplicates(kind="near")
    assert only_near.near_total == report.near_total and only_near.exact_total == 0
    assert near_sets(only_near) == near_sets(report)  # extra copies left out all the same
    limited = engine.duplicates(0.9, limit=1)
    assert len(limited.near) == 1 and limited.near_total == len(low.near) and len(limited.exact) == 1
    only_d0 = engine.duplicates(0.9, filters=SearchFilters.of(path_glob=f"{ROOT}/d0/*"))
    assert near_sets(only_d0) == {frozenset({f"{ROOT}/d0/p0000.jpg", f"{ROOT}/d0/p0000-edited.jpg"})}
    assert only_d0.exact == []
    copies = engine.duplicates(filters=SearchFilters.of(path_glob="*/copies/*"))
    assert [len(g.files) for g in copies.exact] == [2]

    for bad in (dict(threshold=0.2), dict(threshold=1.5), dict(threshold=float("nan")), dict(kind="fuzzy"),
                dict(limit=0)):
        with pytest.raises(InvalidInputError, match=next(iter(bad))):
            engine.duplicates(**bad)


@pytest.mark.parametrize("index_type", ["ivf-flat", "ivf-sq8"])
def test_ivf_index_and_a_reader_beside_a_mapped_base(engines, index_type):
    new, open_ = engines
    writer = new()
    writes, photos = library(3000)
    writer.catalog.store_files(writes)
    kind = writer.reindex(index_type)
    assert kind.name == index_type
    report = writer.duplicates(0.95)
    assert index_type in report.index_type
    check_near(report, photos, 0.95)

    reader = open_()
    assert reader.duplicates(0.95).near_total == report.near_total
    assert reader.vectors.read_only
    # the writer adds a near-duplicate and deletes one; the reader holds them beside its base
    v = near(photos[f"{ROOT}/d7/p0007.jpg"], 0.96, seed=7)
    writer.catalog.store_files([photo(f"{ROOT}/d7/p0007-new.jpg", v)])
    photos[f"{ROOT}/d7/p0007-new.jpg"] = v
    gone = writer.repo.files()[f"{ROOT}/d0/p0000-edited.jpg"].id
    writer.catalog.delete_files([gone])
    del photos[f"{ROOT}/d0/p0000-edited.jpg"]
    reader.catalog.sync(force=True)
    assert reader.vectors.read_only and reader.vectors.pending == 2
    seen = reader.duplicates(0.95)
    check_near(seen, photos, 0.95)
    assert {f"{ROOT}/d7/p0007.jpg", f"{ROOT}/d7/p0007-new.jpg"} in near_sets(seen)


# -- real photos, through the engine, the CLI and HTTP ---------------------------------------


def jpeg(img: Image.Image, quality: int = 70) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


@pytest.fixture(scope="module")
def photo_engine(tmp_path_factory):
    """Real photos and their edits, indexed with the offline profile's image model."""
    base = tmp_path_factory.mktemp("dups")
    media = base / "photos"
    media.mkdir()
    cat = Image.open(SAMPLES / "images" / "chelsea.png").convert("RGB")
    w, h = cat.size
    cat.save(media / "cat.png")
    jpeg(cat.resize((w // 2, h // 2))).save(media / "cat-small.jpg", quality=70)
    ImageEnhance.Brightness(cat).enhance(1.1).save(media / "cat-brighter.png")
    cat.crop((w // 20, h // 20, w - w // 20, h - h // 20)).save(media / "cat-cropped.png")
    for name in ("coffee.png", "astronaut.png", "rocket.jpg"):
        shutil.copy(SAMPLES / "images" / name, media / name)
    (media / "backup").mkdir()
    shutil.copy(SAMPLES / "images" / "coffee.png", media / "backup" / "coffee.png")
    settings = Settings(index_root=base / "indexes", model="offline:minilm-effnet", cache_dir=CACHE_DIR)
    engine = SearchEngine.open("photos", settings=settings)
    report = engine.index([media])
    assert report.failed == 0
    yield engine, media
    engine.close()


def test_changed_photos_are_near_duplicates_and_copies_exact(photo_engine):
    engine, media = photo_engine
    report = engine.duplicates()
    assert [sorted(Path(f.path).name for f in g.files) for g in report.exact] == [["coffee.png", "coffee.png"]]
    assert len(report.near) == 1
    group = report.near[0]
    names = [Path(f.path).name for f in group.files]
    assert sorted(names) == ["cat-brighter.png", "cat-cropped.png", "cat-small.jpg", "cat.png"]
    assert all(f.score >= 0.95 for f in group.files[1:]) and group.score >= 0.95
    # unrelated photos, and the copy of coffee (counted on its stand-in), are not near anything
    assert report.photos == 7
    strict = engine.duplicates(0.999)  # the resized JPEG leaves; a brightness change scores 0.9998
    assert strict.near and all(g.score >= 0.999 for g in strict.near)
    assert "cat-small.jpg" not in {Path(f.path).name for g in strict.near for f in g.files}


def test_cli_duplicates(photo_engine):
    engine, media = photo_engine
    root = str(engine.layout.folder.parent)
    runner = CliRunner()
    result = runner.invoke(cli_app, ["duplicates", "--index-root", root, "--index", "photos", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["threshold"] == 0.95 and data["kind"] == "all"
    assert len(data["exact"]) == 1 and data["exact"][0]["redundant_bytes"] > 0
    assert len(data["near"]) == 1 and data["near"][0]["files"][1]["score"] >= 0.95
    text = runner.invoke(cli_app, ["duplicates", "--index-root", root, "--index", "photos"])
    assert text.exit_code == 0
    assert "Exact copies: 1 group" in text.output and "Near-duplicate photos (cosine >= 0.95): 1 group" in text.output
    assert "cat-small.jpg" in text.output and "first" in text.output
    near = runner.invoke(cli_app, ["duplicates", "--index-root", root, "--index", "photos", "--near-only",
                                   "--threshold", "0.9", "--limit", "1"])
    assert near.exit_code == 0 and "Exact copies" not in near.output
    exact = runner.invoke(cli_app, ["duplicates", "--index-root", root, "--index", "photos", "--exact-only",
                                    "--path", "*/backup/*"])
    assert exact.exit_code == 0 and "Exact copies: 0 groups" in exact.output
    assert runner.invoke(cli_app, ["duplicates", "--index-root", root, "--index", "photos", "--threshold",
                                   "0.2"]).exit_code == 2
    assert runner.invoke(cli_app, ["duplicates", "--index-root", root, "--index", "photos", "--exact-only",
                                   "--near-only"]).exit_code == 2
    assert runner.invoke(cli_app, ["duplicates", "--index-root", root, "--index", "nothing"]).exit_code == 3


def test_http_duplicates(photo_engine):
    engine, _ = photo_engine
    client = TestClient(create_app(engine), base_url="http://127.0.0.1:8000")
    body = client.get("/api/duplicates").json()
    assert body["kind"] == "all" and body["exact_total"] == 1 and body["near_total"] == 1
    first, second = body["near"][0]["files"][:2]
    assert first["score"] is None and second["score"] >= 0.95 and first["thumbnail_url"]
    assert client.get(first["media_url"]).status_code == 200
    only = client.get("/api/duplicates", params={"kind": "near", "threshold": 0.999, "limit": 1}).json()
    assert only["exact"] == [] and len(only["near"]) == 1 and only["near"][0]["score"] >= 0.999
    error = assert_error(client.get("/api/duplicates", params={"threshold": 0.2}), 422, "invalid_request")
    assert any(d["field"] == "query.threshold" for d in error["details"])
    error = assert_error(client.get("/api/duplicates", params={"kind": "fuzzy"}), 422, "invalid_request")
    assert any("kind" in d["field"] for d in error["details"])
    assert "/api/duplicates" in client.get("/openapi.json").json()["paths"]
