"""Creating and migrating an index is atomic, with real processes and real kills; one bad
row never loses its batch; every path the OS allows is stored losslessly."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from alembic import command

from searchengine.store.database import head_revision, make_engine, open_database
from searchengine.store.repository import FileWrite, NewUnit, Repository

FORK = multiprocessing.get_context("fork")


def _revision(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _count_statements(db: Path) -> int:
    """How many SQL statements opening (creating and migrating) a new database runs."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        open_database(db).dispose()
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    return len(seen)


def _open_and_die_at(db: str, n: int) -> None:
    """Child: open the database, SIGKILL itself just before its n-th SQL statement."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counter = {"i": 0}

    @event.listens_for(Engine, "before_cursor_execute")
    def die(conn, cursor, statement, *args):  # noqa: ANN001
        counter["i"] += 1
        if counter["i"] == n:
            os.kill(os.getpid(), signal.SIGKILL)

    open_database(Path(db)).dispose()
    os._exit(0)


def test_a_kill_at_any_statement_of_the_first_migration_leaves_one_good_index(tmp_path):
    (tmp_path / "probe").mkdir()
    total = _count_statements(tmp_path / "probe" / "m.sqlite")
    assert total > 10  # pragmas, DDL of every revision, version bumps
    folder = tmp_path / "index"
    folder.mkdir()
    db = folder / "metadata.sqlite"
    killed = 0
    for n in range(1, total + 1):
        proc = FORK.Process(target=_open_and_die_at, args=(str(db), n))
        proc.start()
        proc.join(60)
        if proc.exitcode == -signal.SIGKILL:
            killed += 1
            # nothing half-made is left as the index: either no database or a whole one
            assert not db.exists() or _revision(db) == head_revision()
        if db.exists():
            break  # the kill came after the database was in place: later statements are reads
    assert killed >= total - 8  # every statement of creation and migration got its kill
    engine = open_database(db)  # the next open cleans up and works
    try:
        assert _revision(db) == head_revision() and {"media_files", "units", "transcripts"} <= _tables(db)
        assert not [p for p in folder.iterdir() if p.name.endswith(".creating")]
        repo = Repository(engine)
        repo.add_roots(["/x"])
        assert repo.roots() == ["/x"]
    finally:
        engine.dispose()


def test_a_kill_during_an_upgrade_leaves_the_old_revision_whole(tmp_path):
    from test_migrations import _config

    db = tmp_path / "metadata.sqlite"
    command.upgrade(_config(f"sqlite:///{db}"), "0002")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO roots (path, added_at) VALUES ('/kept', '2026-01-01')")
    for n in range(2, 12):  # statements of the 0002 -> 0003 upgrade
        proc = FORK.Process(target=_open_and_die_at, args=(str(db), n))
        proc.start()
        proc.join(60)
        if proc.exitcode == 0:
            break
        assert proc.exitcode == -signal.SIGKILL
        assert _revision(db) == "0002"  # the upgrade is one transaction: all or nothing
        with sqlite3.connect(db) as conn:
            columns = {r[1] for r in conn.execute("PRAGMA table_info(media_files)")}
        assert "device" not in columns
    engine = open_database(db)
    try:
        assert _revision(db) == head_revision()
        assert Repository(engine).roots() == ["/kept"]
    finally:
        engine.dispose()


def _create_and_write(db: str, who: int, barrier) -> None:  # noqa: ANN001
    barrier.wait()
    engine = open_database(Path(db))
    Repository(engine).add_roots([f"/root{who}"])
    engine.dispose()
    os._exit(0)


def test_processes_creating_the_same_index_at_once_share_one_database(tmp_path):
    db = tmp_path / "metadata.sqlite"
    barrier = FORK.Barrier(6)
    procs = [FORK.Process(target=_create_and_write, args=(str(db), i, barrier)) for i in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 6
    engine = open_database(db)
    try:
        assert sorted(Repository(engine).roots()) == [f"/root{i}" for i in range(6)]
    finally:
        engine.dispose()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("metadata.sqlite")) == []


@pytest.fixture
def repo(tmp_path):
    engine = open_database(tmp_path / "metadata.sqlite")
    yield Repository(engine)
    engine.dispose()


def _store(repo: Repository, writes: list[FileWrite]):
    """One write transaction, as the catalog runs it (without FAISS)."""
    with repo.write_session() as s, s.begin():
        out = repo.store_files(s, writes)
        repo.record_change(s, [u for r in out for u in r.removed])
    return out


def _write(path: str, n_units: int = 1, **kw) -> FileWrite:
    units = [NewUnit(None, None, None, np.ones(4, dtype=np.float32) / 2) for _ in range(n_units)]
    return FileWrite(path=path, modality="image", content_hash="h" + path[-3:], size=1, mtime_ns=1,
                     units=units, **kw)


def test_one_bad_row_never_loses_the_batch(repo):
    bad_vector = FileWrite(path="/m/bad.png", modality="image", content_hash="x", size=1, mtime_ns=1,
                           units=[NewUnit(None, None, None, np.ones(4))], status="indexed",
                           error=None, device=2**70)  # an integer SQLite cannot hold
    results = _store(repo, [_write("/m/a.png"), bad_vector, _write("/m/c.png", 2)])
    assert [r.ok for r in results] == [True, False, True]
    assert len(results[0].new_ids) == 1 and len(results[2].new_ids) == 2
    assert results[1].new_ids == [] and "bad.png" in (results[1].error or "")
    files = repo.files()
    assert files["/m/a.png"].status == "indexed" and files["/m/c.png"].status == "indexed"
    assert repo.unit_count() == 3
    # the bad one is recorded as failed with the reason, in its place ...
    assert results[1].recorded_failed and files["/m/bad.png"].status == "failed"
    assert "could not be stored" in (files["/m/bad.png"].error or "")
    # ... and a clean batch goes in whole
    assert [len(r.new_ids) for r in _store(repo, [_write("/m/d.png", 3)])] == [3]
    assert repo.generation() == 2


def test_paths_that_are_not_utf8_round_trip_and_stay_distinct(repo):
    raw = os.fsdecode(b"/m/bad\xff\xfename.png")
    lookalike = "/m/bad\\xff\\xfename.png"  # a real name spelling the escape
    repo.add_roots([os.fsdecode(b"/m/\xe9t\xe9")])
    results = _store(repo, [_write(raw), _write(lookalike), _write("/m/new\nline.png")])
    assert all(r.ok for r in results), results
    files = repo.files()
    assert raw in files and lookalike in files and "/m/new\nline.png" in files
    assert os.fsencode(files[raw].path) == b"/m/bad\xff\xfename.png"
    assert repo.roots() == [os.fsdecode(b"/m/\xe9t\xe9")]
    unit_id = results[0].new_ids[0]
    assert repo.units([unit_id])[unit_id].path == raw
    # an error message quoting the name is stored (escaped), not refused
    (r,) = _store(repo, [_write(raw, 0, status="failed", error=f"{raw}: broken")])
    assert r.ok and repo.files()[raw].error == "/m/bad\\xff\\xfename.png: broken"
    with repo.write_session() as s, s.begin():
        assert repo.forget(s, os.fsdecode(b"/m"))[1] == 3


def test_wal_is_on_and_a_fresh_index_file_is_whole(tmp_path):
    db = tmp_path / "metadata.sqlite"
    open_database(db).dispose()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    engine = make_engine(db)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_an_index_folder_being_created_is_not_taken_for_a_foreign_one(tmp_path):
    from searchengine.catalog.layout import IndexLayout

    layout = IndexLayout(tmp_path / "idx")
    assert layout.foreign_entries() == []
    layout.folder.mkdir()
    for name in ("write.lock", ".metadata.sqlite.abc123.creating", ".metadata.sqlite.abc123.creating-journal",
                 ".manifest.json.x1.tmp"):
        (layout.folder / name).write_bytes(b"")
    assert layout.foreign_entries() == []
    open_database(layout.database).dispose()
    (layout.folder / "thumbnails").mkdir()
    assert layout.foreign_entries() == []
    (layout.folder / "holiday.jpg").write_bytes(b"x")
    assert layout.foreign_entries() == ["holiday.jpg"]
