"""A search's reads through the sqlite3 module (store.sqlite_reads, store.lazy_repository):
the same answers as the SQLAlchemy repository, on a real index folder whose FAISS file is
behind SQL (caught up through the sqlite3 reads), with undecodable file names, keyword
hits, filters (handed to the full store), writes through the same engine and searches from
several threads; a cold `searchengine search` process imports no SQLAlchemy."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from test_catalog import D, ROOT, clustered, save, write
from searchengine import SearchEngine, Settings
from searchengine.catalog.manifest import Manifest
from searchengine.query.filters import SearchFilters
from searchengine.store.database import head_revision
from searchengine.store.lazy_repository import LazyRepository
from searchengine.store.repository import FileWrite, NewUnit, Repository
from searchengine.store.sqlite_reads import TABLES, SqliteReads
from searchengine.transcribe.segments import Segment

REPO_ROOT = Path(__file__).resolve().parents[1]
ODD = f"{ROOT}/odd-\udcff\udcfe.png"  # a name that is not UTF-8: stored as a BLOB


def _settings(tmp_path: Path) -> Settings:
    return Settings.from_env(model="offline:minilm-effnet", index_root=tmp_path, database_url="")


def _index(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """An index folder whose saved FAISS file is behind SQL (files added, replaced and
    deleted after the save), with keyword text and an undecodable name."""
    folder = tmp_path / "idx"
    engine = SearchEngine.open(folder, settings=_settings(tmp_path))
    Manifest(model=engine.model, dim=D, metric="inner_product", index_type="flat",
             schema_revision=head_revision(), precision="fp32").save(engine.layout.manifest)
    engine.close()
    engine = SearchEngine.open(folder, settings=_settings(tmp_path))
    vecs = clustered(200, seed=1)
    engine.catalog.store_files([write(f"{ROOT}/f{i:04d}.png", vecs[i]) for i in range(200)])
    save(engine)
    more = clustered(40, seed=2)
    engine.catalog.store_files([write(f"{ROOT}/more{i:03d}.png", more[i]) for i in range(39)]
                               + [replace(write(ODD, more[39]), content_hash="h-odd")])
    files = engine.repo.files()
    engine.catalog.delete_files([files[f"{ROOT}/f{i:04d}.png"].id for i in range(0, 30)])
    talk = clustered(2, seed=3)  # a recording: two transcript windows, its transcript
    engine.catalog.store_files([FileWrite(
        path=f"{ROOT}/talk.wav", modality="audio", content_hash="h-talk", size=10, mtime_ns=1,
        units=[NewUnit(0.0, 5.0, "hello there", talk[0]), NewUnit(5.0, 9.0, "general kenobi", talk[1])])])
    for source in ("asr:tiny.en", "sidecar"):  # two transcripts of one recording: the newest wins
        engine.repo.save_transcript("h-talk", source, [Segment(0.0, 2.0, "hello"), Segment(2.0, 5.0, f"there {source}"),
                                                       Segment(5.0, 9.0, "general kenobi")], "en", 9.0)
    engine.close()
    return folder, vecs, more


def _answers(engine: SearchEngine, queries: np.ndarray) -> list:
    out: list = []
    for q in queries:
        out.append(engine.search_vector(q, k=12))
        out.append(engine.search_vector(q, k=5, filters=SearchFilters.of(path_glob="more0[0-2]*")))
    out.append(engine.search("unit", mode="keyword", k=20))
    out.append(engine.search('"unit 0"', mode="keyword", k=20))
    hits = engine.search_vector(queries[0], k=3)
    out.append(engine.search(similar_to=hits[0].id, k=8))
    out.append(engine.items([h.id for h in hits] + [10**9]))
    windows = [int(i) for i in engine.repo.unit_ids_by_kind()["window"]]
    out.append(engine.repo.segments_of_units(windows + [hits[0].id]))
    out.append(engine.search("kenobi", mode="keyword"))  # a window: its moment from the transcript
    return out


def test_tables_are_the_schemas():
    from searchengine.store.models import Base

    assert TABLES == set(Base.metadata.tables)


def test_reads_through_sqlite3_answer_as_the_repository_does(tmp_path):
    folder, _, more = _index(tmp_path)
    queries = np.concatenate([more[[0, 7, 39]], clustered(3, seed=9)])
    with SearchEngine.open(folder, settings=_settings(tmp_path), create=False) as full:
        assert isinstance(full.repo, Repository)
        expected = _answers(full, queries)
    with SearchEngine.open(folder, settings=_settings(tmp_path), create=False, reads_only=True) as light:
        repo = light.repo
        assert isinstance(repo, LazyRepository)
        assert light.search_vector(more[39], k=1)[0].path == ODD  # caught up through sqlite3
        assert repo._full is None  # nothing so far needed SQLAlchemy
        assert light.vectors.ntotal == 200 - 30 + 40 + 2
        answers = _answers(light, queries)
        assert answers == expected
        assert answers[-2] and answers[-1][0].moment == 5.0
        assert repo._full is not None  # the path filters asked the full store


def test_a_reads_only_engine_still_writes(tmp_path):
    folder, _, more = _index(tmp_path)
    with SearchEngine.open(folder, settings=_settings(tmp_path), create=False, reads_only=True) as engine:
        before = engine.search_vector(more[5], k=1)[0]
        extra = clustered(3, seed=11)
        engine.catalog.store_files([write(f"{ROOT}/late{i}.png", extra[i]) for i in range(3)])
        assert engine.search_vector(extra[2], k=1)[0].path == f"{ROOT}/late2.png"
        engine.catalog.delete_files([engine.items([before.id])[before.id].file_id])
        assert before.id not in {h.id for h in engine.search_vector(more[5], k=5)}
        assert engine.repo.unit_count() == engine.vectors.ntotal == 200 - 30 + 40 + 2 + 3 - 1


def test_searches_from_several_threads(tmp_path):
    folder, _, more = _index(tmp_path)
    with SearchEngine.open(folder, settings=_settings(tmp_path), create=False) as full:
        expected = [full.search_vector(q, k=10) for q in more[:8]]
    with SearchEngine.open(folder, settings=_settings(tmp_path), create=False, reads_only=True) as engine:
        got: dict[int, list] = {}

        def work(j: int) -> None:
            got[j] = [engine.search_vector(q, k=10) for q in more[:8]]

        threads = [threading.Thread(target=work, args=(j,)) for j in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(got[j] == expected for j in range(4))


def test_the_full_store_opens_what_sqlite3_reads_will_not(tmp_path):
    folder, _, more = _index(tmp_path)
    database = folder / "metadata.sqlite"
    assert SqliteReads.open(tmp_path / "missing.db") is None
    not_sqlite = tmp_path / "junk.db"
    not_sqlite.write_bytes(b"not a database" * 100)
    assert SqliteReads.open(not_sqlite) is None
    reads = SqliteReads.open(database)
    assert reads is not None
    reads.close()
    with sqlite3.connect(database) as conn:  # an older schema: a migration is due
        conn.execute("UPDATE alembic_version SET version_num = '0007'")
    assert SqliteReads.open(database) is None
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (head_revision(),))
        conn.execute("DROP TABLE roots")
    assert SqliteReads.open(database) is None  # the full store says what is wrong
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE roots (id INTEGER PRIMARY KEY, path VARCHAR, added_at DATETIME)")
    with SearchEngine.open(folder, settings=_settings(tmp_path), create=False, reads_only=True) as engine:
        assert isinstance(engine.repo, LazyRepository)
        assert engine.search_vector(more[1], k=1)[0].path == f"{ROOT}/more001.png"


def test_a_cold_cli_search_imports_no_sqlalchemy(tmp_path):
    folder, _, _ = _index(tmp_path)
    probe = ("import sys\n"
             "from searchengine.cli import app\n"
             "try:\n"
             "    app(sys.argv[1:])\n"
             "except SystemExit as exc:\n"
             "    assert not exc.code, exc.code\n"
             "print('loaded:', sorted(m for m in ('sqlalchemy', 'alembic', 'torch', 'faster_whisper') if m in sys.modules))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, "-c", probe, "search", "more005", "--mode", "keyword", "--index", str(folder)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "/more005.png" in out.stdout and "/f0" not in out.stdout  # f0005 was deleted
    assert "loaded: []" in out.stdout
