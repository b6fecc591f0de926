"""The catalog: SQL and FAISS kept together (searchengine.catalog.catalog).

Real SQLite files (and a real PostgreSQL server: the ``engines`` tests run on both) and real
FAISS; no model runs: an index folder gets a manifest naming its
dimension, then synthetic vectors are written through ``engine.catalog.store_files`` the way
an index run writes them. Paths are only strings in SQL here; no media file is read.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_consistent
from searchengine import SearchEngine, Settings
from searchengine.errors import InvalidInputError
from searchengine.catalog.manifest import Manifest
from searchengine.catalog.rwlock import ReadWriteLock
from searchengine.query.filters import SearchFilters, sqlite_glob
from searchengine.store.database import head_revision
from searchengine.store.repository import FileWrite, NewUnit
from searchengine.vectors.faiss_index import read_stamp
from searchengine.vectors.index_kind import (
    FLAT,
    FLAT_MAX,
    IndexKind,
    candidates_for,
    choose_kind,
    needs_rebuild,
    nlist_for,
)

D = 32
ROOT = "/data/library"  # where the synthetic files "are"
EXT = {"image": "png", "text": "txt", "audio": "wav"}
MTIME0 = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000_000


# -- helpers -------------------------------------------------------------------------------


def _settings(tmp_path: Path, database_url: str | None = None) -> Settings:
    return Settings.from_env(model="offline:minilm-effnet", index_root=tmp_path, database_url=database_url or "")


@pytest.fixture
def engines(tmp_path, database_url):
    """``new()`` makes an index folder with a manifest (no model) and opens it; ``open()``
    opens another engine on the same folder (another process, as far as the catalog is
    concerned: its own SQL connections, FAISS index and locks)."""
    folder = tmp_path / "idx"
    opened: list[SearchEngine] = []

    class Engines:
        path = folder
        url = database_url

        @staticmethod
        def new() -> SearchEngine:
            engine = SearchEngine.open(folder, settings=_settings(tmp_path, database_url))
            Manifest(model=engine.model, dim=D, metric="inner_product", index_type="flat",
                     schema_revision=head_revision(), precision="fp32").save(engine.layout.manifest)
            engine.close()
            return Engines.open()

        @staticmethod
        def open() -> SearchEngine:
            engine = SearchEngine.open(folder, settings=_settings(tmp_path, database_url))
            opened.append(engine)
            return engine

    yield Engines
    for engine in opened:
        engine.close()


def clustered(n: int, seed: int = 0, centres: int = 64, noise: float = 0.35) -> np.ndarray:
    """``n`` L2-normalised vectors around the same ``centres`` random centres whatever the
    ``seed`` (so that IVF lists mean something, and queries come from the data's own
    distribution)."""
    c = np.random.default_rng(12345).standard_normal((centres, D)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    x = c[rng.integers(0, centres, n)] + noise * rng.standard_normal((n, D)).astype(np.float32) / np.sqrt(D)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def unit(vec: np.ndarray, i: int = 0) -> NewUnit:
    return NewUnit(start=None, end=None, text=f"unit {i}", vector=np.asarray(vec, dtype=np.float32))


def write(path: str, vecs: np.ndarray, *, modality: str = "image", mtime_ns: int = MTIME0,
          device: int | None = None) -> FileWrite:
    vecs = np.asarray(vecs, dtype=np.float32).reshape(-1, D)
    return FileWrite(path=path, modality=modality, content_hash=f"h-{path}-{float(vecs.sum()):.6f}",
                     size=100, mtime_ns=mtime_ns, units=[unit(v, i) for i, v in enumerate(vecs)],
                     device=device, inode=1 if device is not None else None)


def sql_vectors(engine: SearchEngine) -> tuple[np.ndarray, np.ndarray]:
    parts = list(engine.repo.iter_vectors(D))
    if not parts:
        return np.zeros(0, np.int64), np.zeros((0, D), np.float32)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def sql_ids(engine: SearchEngine) -> list[int]:
    return sorted(int(i) for ids, _ in engine.repo.iter_vectors(D) for i in ids)


def faiss_ids(engine: SearchEngine) -> list[int]:
    return sorted(int(i) for i in engine.vectors.ids())


def brute_force(ids: np.ndarray, vecs: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = vecs @ np.asarray(query, dtype=np.float32)
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(ids[i]) for i in order]


def agreeing(hits, ids: np.ndarray, vecs: np.ndarray, query: np.ndarray, k: int = 10) -> int:
    """How many of ``hits`` are in the exact top ``k`` over (ids, vecs) (a hit tied with
    the exact k-th counts)."""
    exact = vecs @ np.asarray(query, dtype=np.float32)
    if len(exact) == 0:
        return 0
    kth = np.sort(exact)[-min(k, len(exact))]
    truth = set(brute_force(ids, vecs, query, k))
    return sum(1 for h in hits if h.id in truth or exact[ids == h.id][0] >= kth - 1e-6)


def sql_subset(engine: SearchEngine, keep) -> tuple[np.ndarray, np.ndarray]:
    """SQL's (ids, vectors) of the units whose path passes ``keep``."""
    ids, vecs = sql_vectors(engine)
    rows = engine.repo.units(ids.tolist())
    mask = np.asarray([keep(rows[int(i)].path) for i in ids], dtype=bool)
    return ids[mask], vecs[mask]


def _folder_state(folder: Path) -> dict[str, int]:
    """Each file of an index folder with its modification time (SQLite's companions left
    out: a reader's connection may touch them)."""
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith("metadata.sqlite")}


def save(engine: SearchEngine) -> None:
    with engine.catalog.write_lock():
        engine.catalog.save()


def populate(engine: SearchEngine, n_files: int, seed: int = 0, prefix: str = "f") -> np.ndarray:
    vecs = clustered(n_files, seed)
    engine.catalog.store_files([write(f"{ROOT}/{prefix}{i:05d}.png", vecs[i]) for i in range(n_files)])
    return vecs


# -- 1-3: catching up, and rebuilding when it cannot be done ---------------------------------


def test_reader_catches_up_by_replaying_the_change_log(engines):
    writer = engines.new()
    populate(writer, 500)
    save(writer)
    writer.close()

    a = engines.open()
    q = clustered(1, seed=99)[0]
    assert len(a.search_vector(q, k=10)) == 10
    assert a.catalog.vectors().read_only  # a process that never wrote maps the file
    generation_a = a.catalog.vectors().generation

    b = engines.open()
    files = b.repo.files()
    paths = sorted(files)
    before_ids, before_vecs = sql_vectors(b)
    rows = b.repo.units(before_ids.tolist())
    by_path = {rows[int(i)].path: int(i) for i in before_ids}  # one unit a file
    replaced, deleted = paths[:50], paths[50:70]
    new_vecs = clustered(50, seed=7)
    b.catalog.store_files([write(p, new_vecs[j]) for j, p in enumerate(replaced)])
    b.catalog.delete_files([files[p].id for p in deleted])
    added_vecs = clustered(30, seed=8)
    stored = b.catalog.store_files([write(f"{ROOT}/new{j:03d}.png", added_vecs[j]) for j in range(30)])
    save(b)
    assert b.repo.generation() == generation_a + 3

    a.catalog.sync(force=True)
    expected = sql_ids(a)
    assert len(expected) == 500 - 20 + 30
    assert faiss_ids(a) == expected
    assert a.vectors.ntotal == len(expected)
    # caught up beside the mapped base, not rebuilt
    assert a.catalog.last_build is None
    assert a.vectors.read_only and a.vectors.pending > 0
    assert a.vectors.generation == a.repo.generation()

    for j, result in enumerate(stored):
        hits = a.search_vector(added_vecs[j], k=10)
        assert hits[0].id == result.new_ids[0]
        assert hits[0].path == f"{ROOT}/new{j:03d}.png"
    gone = {by_path[p] for p in replaced + deleted}
    deleted_paths = set(deleted)
    for p in replaced + deleted:
        hits = a.search_vector(before_vecs[list(before_ids).index(by_path[p])], k=10)
        assert not gone & {h.id for h in hits}
        assert not deleted_paths & {h.path for h in hits}
    for j, p in enumerate(replaced[:10]):  # a replaced file is found by its new vector
        assert a.search_vector(new_vecs[j], k=1)[0].path == p

    # "more like this" of a new unit: brute force over SQL without the unit itself
    ids, vecs = sql_vectors(a)
    target = stored[3].new_ids[0]
    hits = a.search(similar_to=target, k=10)
    keep = ids != target
    assert [h.id for h in hits] == brute_force(ids[keep], vecs[keep], added_vecs[3], 10)

    # filters over a mapped base with tombstones and a delta: exact over SQL's matches
    for glob, keep_path in ((f"{ROOT}/f00[0-1]*", lambda p: p.startswith(f"{ROOT}/f00") and p[len(ROOT) + 4] in "01"),
                            ("new0[0-1]*", lambda p: p.rsplit("/", 1)[-1][:5] in ("new00", "new01")),
                            ("f0006*", lambda p: p.rsplit("/", 1)[-1].startswith("f0006"))):  # all deleted
        sub_ids, sub_vecs = sql_subset(a, keep_path)
        for q in clustered(5, seed=60):
            hits = a.search_vector(q, k=10, filters=SearchFilters.of(path_glob=glob))
            assert all(keep_path(h.path) for h in hits)
            assert len(hits) == min(10, len(sub_ids))
            assert agreeing(hits, sub_ids, sub_vecs, q) == len(hits), glob
    assert a.search_vector(q, k=10, filters=SearchFilters.of(path_glob="f0006*")) == []


def test_a_stale_file_is_caught_up_on_open(engines):
    first = engines.new()
    populate(first, 300)
    save(first)
    saved_generation = read_stamp(first.layout.vectors)["generation"]
    first.close()

    second = engines.open()  # writes more and never saves: the file is left behind
    more = clustered(100, seed=5)
    second.catalog.store_files([write(f"{ROOT}/more{i:03d}.png", more[i]) for i in range(100)])
    victims = sorted(second.repo.files().values(), key=lambda r: r.path)[:25]
    second.catalog.delete_files([r.id for r in victims])
    assert read_stamp(second.layout.vectors)["generation"] == saved_generation
    assert second.repo.generation() > saved_generation
    second.close()

    reader = engines.open()
    index = reader.vectors
    assert index.ntotal == reader.repo.unit_count() == 300 + 100 - 25
    assert reader.catalog.last_build is None
    assert index.read_only and index.pending == 100 + 25
    assert_consistent(reader)
    hit = reader.search_vector(more[42], k=1)[0]
    assert hit.path == f"{ROOT}/more042.png"


def test_a_change_log_pruned_past_the_file_forces_a_rebuild(engines):
    writer = engines.new()
    populate(writer, 300)
    save(writer)
    file_generation = read_stamp(writer.layout.vectors)["generation"]
    more = clustered(40, seed=3)
    writer.catalog.store_files([write(f"{ROOT}/late{i:02d}.png", more[i]) for i in range(40)])
    writer.catalog.delete_files([r.id for r in list(writer.repo.files().values())[:10]])
    writer.close()

    live = engines.open()  # loaded before the log is pruned, synced after
    live.search_vector(more[0], k=5)
    assert live.vectors.read_only and live.catalog.last_build is None

    pruner = engines.open()
    pruner.repo.prune_change_log(file_generation + 1)  # past the file's generation

    before = _folder_state(engines.path)
    fresh = engines.open()
    assert fresh.vectors.ntotal == fresh.repo.unit_count() == 330
    assert fresh.catalog.last_build is not None  # rebuilt from SQL, not replayed
    assert_consistent(fresh)
    assert fresh.search_vector(more[7], k=1)[0].path == f"{ROOT}/late07.png"
    # a reader's rebuild stays in memory: the folder is as it was
    assert _folder_state(engines.path) == before
    assert read_stamp(fresh.layout.vectors)["generation"] == file_generation
    # a writer's step saves it: the file is current again
    with fresh.catalog.write_lock():
        fresh.catalog.save_current()
    assert read_stamp(fresh.layout.vectors)["generation"] == fresh.repo.generation()

    # the engine loaded before: its next change is replayed from the new file or rebuilt
    late = engines.open()
    extra = clustered(5, seed=4)
    late.catalog.store_files([write(f"{ROOT}/extra{i}.png", extra[i]) for i in range(5)])
    live.catalog.sync(force=True)
    assert_consistent(live)
    assert live.search_vector(extra[2], k=1)[0].path == f"{ROOT}/extra2.png"


def test_a_reader_behind_two_saves_maps_the_newer_file(engines):
    """Each save prunes the log up to the save before; a reader further behind than that
    opens the newer file and replays from there (no rebuild from SQL)."""
    writer = engines.new()
    populate(writer, 200)
    save(writer)
    reader = engines.open()
    reader.search_vector(clustered(1, seed=1)[0], k=3)
    behind = reader.vectors.generation
    for round_ in range(3):
        vecs = clustered(10, seed=70 + round_)
        writer.catalog.store_files([write(f"{ROOT}/r{round_}_{j}.png", vecs[j]) for j in range(10)])
        writer.catalog.delete_files([r.id for r in list(writer.repo.files().values())[:5]])
        save(writer)
    with reader.repo.changes_since(behind, 0, D) as changes:
        assert changes is None  # the log no longer reaches back to the reader's generation
    reader.catalog.sync(force=True)
    assert reader.catalog.last_build is None
    assert reader.vectors.read_only
    assert reader.vectors.generation == reader.repo.generation()
    assert_consistent(reader)
    assert reader.search_vector(vecs[3], k=1)[0].path == f"{ROOT}/r2_3.png"


# -- 4-5: index kinds ------------------------------------------------------------------------


def test_reindex_to_ivf_and_back(engines):
    engine = engines.new()
    n = 20_000
    vecs = clustered(n, seed=11)
    for start in range(0, n, 5000):
        engine.catalog.store_files([write(f"{ROOT}/d{i // 200:03d}/v{i:05d}.png", vecs[i])
                                    for i in range(start, min(n, start + 5000))])
    save(engine)
    assert engine.catalog.kind.name == "flat"

    with pytest.raises(InvalidInputError, match="--index-type"):
        engine.reindex("bogus")

    kind = engine.reindex("ivf-sq8")
    assert kind.name == "ivf-sq8"
    assert kind.nlist == nlist_for(n)
    assert kind.nprobe >= 1 and kind.recall_at_10 is not None and kind.recall_at_10 >= 0.95
    assert kind.built_for == n
    manifest = json.loads(engine.layout.manifest.read_text())
    assert manifest["index_policy"] == "ivf-sq8"
    assert manifest["index"]["name"] == "ivf-sq8" and manifest["index"]["nprobe"] == kind.nprobe
    assert "ivf-sq8" in engine.status().index_type
    assert engine.status().index_policy == "ivf-sq8"
    assert engine.status().vectors == n
    assert_consistent(engine)

    queries = clustered(50, seed=12)

    def overlap(e: SearchEngine) -> float:
        """Share of the exact top-10 (over SQL) found by search_vector."""
        ids, all_vecs = sql_vectors(e)
        found = 0
        for q in queries:
            hits = e.search_vector(q, k=10)
            assert len(hits) == 10
            scores = [h.score for h in hits]
            assert scores == sorted(scores, reverse=True)
            found += agreeing(hits, ids, all_vecs, q)
        return found / (10 * len(queries))

    assert overlap(engine) >= 0.95
    # another process maps the IVF file and gets the same kind
    reader = engines.open()
    assert reader.catalog.kind.name == "ivf-sq8"
    assert overlap(reader) >= 0.95
    assert reader.vectors.read_only and reader.catalog.last_build is None

    # the writer changes its IVF index in place; the reader replays that beside its base
    files = engine.repo.files()
    engine.catalog.delete_files([files[p].id for p in sorted(files) if "/d001/" in p][:100])
    fresh = clustered(200, seed=13)
    engine.catalog.store_files([write(f"{ROOT}/d001/n{j:03d}.png", fresh[j]) for j in range(200)])
    assert_consistent(engine)
    reader.catalog.sync(force=True)
    assert reader.vectors.read_only and reader.vectors.pending == 300 and reader.catalog.last_build is None
    assert faiss_ids(reader) == sql_ids(reader)
    assert overlap(reader) >= 0.95
    # a selective filter on an index this small visits every list: exact over the matches
    # (re-scored from SQL; above FILTER_EXACT_MAX vectors it probes a scaled nprobe).
    # (A glob with a class, d00[0-4], would be widened to d00? in SQL: 2,100 units, not
    # selective, so answered from the tuned IVF's candidates - approximate by design.)
    in_folder = lambda p: p.startswith(f"{ROOT}/d001/")  # noqa: E731
    sub_ids, sub_vecs = sql_subset(reader, in_folder)
    assert len(sub_ids) == 200 - 100 + 200
    for e in (reader, engine):
        for q in queries[:20]:
            hits = e.search_vector(q, k=10, filters=SearchFilters.of(path_glob=f"{ROOT}/d001/*"))
            assert all(in_folder(h.path) for h in hits)
            assert agreeing(hits, sub_ids, sub_vecs, q) == 10
        fresh_id = e.search_vector(fresh[5], k=1)[0].id
        assert e.item(fresh_id).path == f"{ROOT}/d001/n005.png"
        assert fresh_id not in {h.id for h in e.search(similar_to=fresh_id, k=3)}

    flat = engine.reindex("flat")
    assert flat.name == "flat"
    assert json.loads(engine.layout.manifest.read_text())["index_policy"] == "flat"
    assert engine.status().index_type == "flat (exact)"
    assert overlap(engine) == 1.0


def test_index_kind_follows_size():
    assert choose_kind("auto", FLAT_MAX - 1).name == "flat"
    at = choose_kind("auto", FLAT_MAX)
    assert at.name == "ivf-sq8" and at.nlist == nlist_for(FLAT_MAX) and at.built_for == FLAT_MAX
    assert choose_kind("ivf-pq", 100).name == "flat"  # too few vectors to train lists
    assert choose_kind("flat", 10 * FLAT_MAX).name == "flat"
    with pytest.raises(InvalidInputError, match="--index-type"):
        choose_kind("hnsw", 10)

    assert not needs_rebuild("auto", FLAT, FLAT_MAX - 1)
    assert needs_rebuild("auto", FLAT, FLAT_MAX)
    assert not needs_rebuild("flat", FLAT, 10 * FLAT_MAX)  # flat asked for: kept at any size
    ivf = IndexKind(name="ivf-sq8", nlist=nlist_for(FLAT_MAX), nprobe=8, built_for=FLAT_MAX)
    assert not needs_rebuild("auto", ivf, FLAT_MAX)
    assert not needs_rebuild("auto", ivf, int(0.6 * FLAT_MAX))  # hysteresis: kept
    assert needs_rebuild("auto", ivf, int(0.4 * FLAT_MAX))  # shrunk well below: flat again
    assert not needs_rebuild("auto", ivf, 4 * FLAT_MAX)
    assert needs_rebuild("auto", ivf, 4 * FLAT_MAX + 1)  # lists sized for a count 4x away
    # a kind asked for keeps its kind, with lists resized when the count is 4x away
    assert not needs_rebuild("ivf-sq8", ivf, int(0.3 * FLAT_MAX))
    assert not needs_rebuild("ivf-sq8", ivf, 2 * FLAT_MAX)
    assert needs_rebuild("ivf-sq8", ivf, 4 * FLAT_MAX + 1)
    assert not needs_rebuild("ivf-sq8", FLAT, 100)  # too few to train: flat, and stays so

    assert nlist_for(1_000_000) == 1024
    assert nlist_for(10) == 64
    assert nlist_for(100_000) == 256
    assert candidates_for(IndexKind(name="ivf-sq8", nlist=64), 10) == 40
    assert candidates_for(IndexKind(name="ivf-pq", nlist=64), 100) == 400
    assert candidates_for(IndexKind(name="ivf-flat", nlist=64), 10) == 10
    assert candidates_for(FLAT, 10) == 10
    assert IndexKind.from_json(ivf.to_json()) == ivf


# -- 6: filters ------------------------------------------------------------------------------


MODS = ("image", "text", "audio")


@pytest.fixture
def filtered(engines):
    """3,000 files in 100 folders; folder j holds one modality (j % 3); file i was
    modified at MTIME0 + i seconds and is named ``item_{i % 50:04d}``."""
    engine = engines.new()
    n = 3000
    vecs = clustered(n, seed=21)
    writes, meta = [], []
    for i in range(n):
        folder = i // 30
        modality = MODS[folder % 3]
        path = f"{ROOT}/d{folder:03d}/item_{i % 50:04d}.{EXT[modality]}"
        mtime = MTIME0 + i * 1_000_000_000
        writes.append(write(path, vecs[i], modality=modality, mtime_ns=mtime))
        meta.append((path, modality, mtime))
    stored = engine.catalog.store_files(writes)
    ids = np.asarray([s.new_ids[0] for s in stored], dtype=np.int64)
    return engine, ids, vecs, meta


def _check_filter(engine, ids, vecs, meta, filters: SearchFilters, predicate, queries) -> int:
    subset = np.asarray([predicate(*m) for m in meta])
    for q in queries:
        hits = engine.search_vector(q, k=10, filters=filters)
        for h in hits:
            row = meta[int(np.flatnonzero(ids == h.id)[0])]
            assert predicate(*row), (filters, h.path)
            assert h.path == row[0]
        assert [h.id for h in hits] == brute_force(ids[subset], vecs[subset], q, 10)
    return int(subset.sum())


def test_filters_resolved_in_sql_match_brute_force(filtered):
    engine, ids, vecs, meta = filtered
    queries = clustered(5, seed=22)

    folder_glob = f"{ROOT}/d007/*"
    assert _check_filter(engine, ids, vecs, meta, SearchFilters.of(path_glob=folder_glob),
                         lambda p, m, t: p.startswith(f"{ROOT}/d007/"), queries) == 30

    name_glob = "*_0042.png"
    assert _check_filter(engine, ids, vecs, meta, SearchFilters.of(path_glob=name_glob),
                         lambda p, m, t: p.endswith("/item_0042.png"), queries) >= 10

    assert _check_filter(engine, ids, vecs, meta, SearchFilters.of(modality="audio"),
                         lambda p, m, t: m == "audio", queries) == 990

    after = datetime.fromtimestamp(MTIME0 / 1e9 + 1000.5, tz=timezone.utc)
    before = datetime.fromtimestamp(MTIME0 / 1e9 + 1499.5, tz=timezone.utc)
    window = SearchFilters.of(modified_after=after, modified_before=before)
    assert _check_filter(engine, ids, vecs, meta, window,
                         lambda p, m, t: MTIME0 + 1001 * 10**9 <= t <= MTIME0 + 1499 * 10**9, queries) == 499

    both = SearchFilters.of(modality="text", modified_after=after, modified_before=before)
    assert _check_filter(engine, ids, vecs, meta, both,
                         lambda p, m, t: m == "text" and MTIME0 + 1001 * 10**9 <= t <= MTIME0 + 1499 * 10**9,
                         queries) > 0

    # a broad filter (more matches than are resolved in SQL) is applied to FAISS's candidates
    broad = SearchFilters.of(modality=["image", "text"])
    assert _check_filter(engine, ids, vecs, meta, broad, lambda p, m, t: m != "audio", queries) == 2010

    # "more like this" with a filter: never the unit itself
    target = int(ids[7 * 30 + 3])
    hits = engine.search(similar_to=target, k=5, path_glob=folder_glob)
    assert target not in {h.id for h in hits} and len(hits) == 5
    assert all(h.path.startswith(f"{ROOT}/d007/") for h in hits)

    for nothing in (SearchFilters.of(path_glob=f"{ROOT}/nowhere/*"),
                    SearchFilters.of(path_glob="*.jpg"),
                    SearchFilters.of(modality="text", path_glob="*.png"),
                    SearchFilters.of(modified_before=datetime(2000, 1, 1))):
        assert engine.search_vector(queries[0], k=10, filters=nothing) == []


def test_sqlite_glob_and_matches():
    assert sqlite_glob("*.png") == "*.png"
    assert sqlite_glob("img_[0-9].png") == "img_?.png"
    assert sqlite_glob("[!a]*") == "?*"
    assert sqlite_glob("[]]x") == "?x"
    assert sqlite_glob("x[") == "x[[]"
    assert sqlite_glob("a[b") == "a[[]b"

    paths = ["/r/abc.png", "/r/bcd.png", "/r/x[", "/r/x[1", "/r/sub/a1.txt", "/r/[!a]", "/r/A.PNG", "/r/]x"]
    globs = ["*.png", "[!a]*", "x[", "x[*", "/r/*", "/r/sub/*.txt", "a?.txt", "[]]x", "*[[]*", "/r/?bc.png",
             "*.PNG", "[a-c]*"]
    for glob in globs:
        f = SearchFilters.of(path_glob=glob)
        for path in paths:
            name = path.rsplit("/", 1)[-1]
            expected = fnmatch.fnmatchcase(path, glob) or ("/" not in glob and fnmatch.fnmatchcase(name, glob))
            assert f.matches(path, "image", 0) == expected, (glob, path)
    assert not SearchFilters.of(modality="text").matches("/r/a.png", "image", 0)
    assert SearchFilters.of(modified_after=datetime(1970, 1, 1, 0, 0, 1)).matches("/a", "image", 10**9)
    assert not SearchFilters.of(modified_after=datetime(1970, 1, 1, 0, 0, 2)).matches("/a", "image", 10**9)
    with pytest.raises(InvalidInputError, match="modality"):
        SearchFilters.of(modality="movie")  # (video is one now)
    with pytest.raises(InvalidInputError):
        SearchFilters.of(modified_after=datetime(2024, 2, 1), modified_before=datetime(2024, 1, 1))


def test_sql_prefilter_is_a_superset_of_matches(filtered):
    """For globs with classes and literal brackets, the SQL side never drops a true match."""
    engine, ids, vecs, meta = filtered
    extra = clustered(4, seed=30)
    odd = [f"{ROOT}/odd/x[1].png", f"{ROOT}/odd/x[.png", f"{ROOT}/odd/b.png", f"{ROOT}/odd/[!a].png"]
    engine.catalog.store_files([write(p, extra[i]) for i, p in enumerate(odd)])
    for glob in (f"{ROOT}/odd/[!a]*", f"{ROOT}/odd/x[*", "x[.png", "[!x]*.png", f"{ROOT}/odd/x[[]1].png",
                 f"{ROOT}/d00[0-2]/item_004[2-3].*"):
        f = SearchFilters.of(path_glob=glob)
        expected = {p for p, _, _ in meta if f.matches(p, "image", 0)} | {p for p in odd if f.matches(p, "image", 0)}
        hits = engine.search_vector(extra[0], k=5000, filters=f)
        assert {h.path for h in hits} == expected, glob


# -- 7: concurrency -------------------------------------------------------------------------


def test_a_write_during_searches_is_seen_whole(engines):
    engine = engines.new()
    populate(engine, 1000)
    errors: list[BaseException] = []
    done, writes_done = threading.Event(), threading.Event()
    counts: list[int] = []
    queries = clustered(200, seed=40)

    def searches() -> None:  # 200 searches at least, and on for as long as the writes go on
        try:
            n = 0
            while n < 200 or not writes_done.is_set():
                hits = engine.search_vector(queries[n % 200], k=10)
                n += 1
                counts.append(len(hits))
                scores = [h.score for h in hits]
                assert scores == sorted(scores, reverse=True)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=searches)
    thread.start()
    while not counts and thread.is_alive():  # the searches are under way
        time.sleep(0.001)
    at_start = len(counts)
    rng = np.random.default_rng(41)
    for batch in range(20):
        vecs = clustered(20, seed=100 + batch)
        paths = [f"{ROOT}/f{int(i):05d}.png" for i in rng.choice(1000, 10, replace=False)]  # replaced
        paths += [f"{ROOT}/w{batch:02d}_{j}.png" for j in range(10)]  # new
        engine.catalog.store_files([write(p, vecs[j]) for j, p in enumerate(sorted(set(paths)))])
        files = engine.repo.files()
        victims = [files[p].id for p in list(files)[batch * 3: batch * 3 + 3]]
        engine.catalog.delete_files(victims)
    during = len(counts) - at_start
    writes_done.set()
    thread.join(timeout=120)
    assert done.is_set()
    assert not errors, errors
    assert len(counts) >= 200 and all(c == 10 for c in counts)
    assert during > 0, "no search ran while the writes went on"
    assert_consistent(engine)


def test_read_write_lock():
    lock = ReadWriteLock()
    both_in, release = threading.Event(), threading.Event()
    inside = []
    guard = threading.Lock()

    def reader() -> None:
        with lock.reading():
            with guard:
                inside.append(1)
                if len(inside) == 2:
                    both_in.set()
            release.wait(5)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    assert both_in.wait(5), "two readers could not hold the lock at once"

    writer_in = threading.Event()

    def writer() -> None:
        with lock.writing():
            writer_in.set()

    w = threading.Thread(target=writer)
    w.start()
    time.sleep(0.2)
    assert not writer_in.is_set(), "a writer got in while readers held the lock"

    late_reader_in = threading.Event()

    def late_reader() -> None:
        with lock.reading():
            late_reader_in.set()

    r3 = threading.Thread(target=late_reader)
    r3.start()
    time.sleep(0.2)
    assert not late_reader_in.is_set(), "a new reader passed a waiting writer"
    release.set()
    assert writer_in.wait(5)
    assert late_reader_in.wait(5)
    for t in (*readers, w, r3):
        t.join(5)

    with lock.writing():  # reentrant, and the writer may read
        with lock.writing():
            with lock.reading():
                pass
    got = threading.Event()

    def after() -> None:
        with lock.writing():
            got.set()

    t = threading.Thread(target=after)
    t.start()
    assert got.wait(5), "the lock was not released after nested use"
    t.join(5)


# -- 8: the bulk write path -----------------------------------------------------------------


def test_bulk_store_returns_ids_in_order_and_falls_back_file_by_file(engines):
    engine = engines.new()
    n = 2000
    sizes = [1 + i % 3 for i in range(n)]
    vecs = clustered(sum(sizes), seed=50)
    writes, at = [], 0
    for i, size in enumerate(sizes):
        writes.append(write(f"{ROOT}/bulk/{i:05d}.png", vecs[at:at + size]))
        at += size
    generation = engine.repo.generation()
    stored = engine.catalog.store_files(writes)
    assert engine.repo.generation() == generation + 1  # one transaction
    assert [s.path for s in stored] == [w.path for w in writes]
    assert all(s.ok and s.removed == [] for s in stored)
    assert [len(s.new_ids) for s in stored] == sizes
    flat_ids = [i for s in stored for i in s.new_ids]
    assert flat_ids == sorted(flat_ids) and len(set(flat_ids)) == len(flat_ids)
    rows = engine.repo.units(flat_ids)
    stored_vecs = engine.repo.vectors_of(flat_ids, D)
    at = 0
    for w, s in zip(writes, stored):
        for j, uid in enumerate(s.new_ids):
            assert rows[uid].path == w.path and rows[uid].text == f"unit {j}"
            np.testing.assert_array_equal(stored_vecs[uid], vecs[at + j])
        at += len(s.new_ids)
    assert_consistent(engine)

    # replacing in bulk reports the removed ids
    again = engine.catalog.store_files([write(w.path, vecs[i]) for i, w in enumerate(writes[:5])])
    assert [s.removed for s in again] == [s.new_ids for s in stored[:5]]

    # ids are never reused, even after the highest ones are deleted (FAISS relies on it)
    top = max(flat_ids)
    engine.catalog.delete_files([engine.repo.files()[writes[-1].path].id])
    assert top not in set(sql_ids(engine))
    (reborn,) = engine.catalog.store_files([write(writes[-1].path, vecs[-1])])
    assert min(reborn.new_ids) > top

    # one unstorable row: the others are stored, that one becomes a "failed" row
    more = clustered(10, seed=51)
    batch = [write(f"{ROOT}/mixed/{i}.png", more[i], device=2**70 if i == 4 else 3) for i in range(10)]
    result = engine.catalog.store_files(batch)
    assert [r.ok for r in result] == [i != 4 for i in range(10)]
    assert result[4].new_ids == [] and result[4].recorded_failed and "could not be stored" in result[4].error
    files = engine.repo.files()
    assert files[f"{ROOT}/mixed/4.png"].status == "failed"
    for i in (0, 3, 5, 9):
        assert len(result[i].new_ids) == 1
        assert files[f"{ROOT}/mixed/{i}.png"].status == "indexed"
        assert engine.search_vector(more[i], k=1)[0].id == result[i].new_ids[0]
    assert_consistent(engine)


# -- status counts: saved at the end of a run, counted when stale ------------------------


def test_status_counts_are_saved_per_generation_and_never_stale(engines):
    engine = engines.new()
    vecs = clustered(30, seed=3)
    engine.catalog.store_files([write(f"{ROOT}/s{i:02d}.png", vecs[i]) for i in range(20)]
                               + [write(f"{ROOT}/t{i:02d}.md", vecs[20 + i], modality="text") for i in range(10)])
    live = engine.repo._count_stats()
    assert live == {"image": {"files": 20, "failed": 0, "units": 20}, "text": {"files": 10, "failed": 0, "units": 10}}
    with engine.catalog.write_lock():
        engine.catalog.save(final=True)
    with engine.repo.engine.connect() as conn:
        saved = json.loads(dict(conn.exec_driver_sql("SELECT key, value FROM index_state").fetchall())["stats"])
    assert saved["generation"] == engine.repo.generation() and saved["modalities"] == live
    assert engine.status().modalities == live
    # a later write (not yet at a run's end) makes the saved copy stale: counted live instead
    engine.catalog.delete_files([engine.repo.files()[f"{ROOT}/s00.png"].id])
    engine.catalog.store_files([FileWrite(path=f"{ROOT}/bad.png", modality="image", content_hash="x", size=1,
                                          mtime_ns=MTIME0, units=[], status="failed", error="broken")])
    assert engine.status().modalities["image"] == {"files": 19, "failed": 1, "units": 19}
