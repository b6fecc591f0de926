"""The catalog: SQL and FAISS kept together. The one owner of the rule that FAISS mirrors SQL.

- **Writes** (:meth:`store_files`, :meth:`copy_file`, :meth:`move_file`, :meth:`delete_files`,
  :meth:`forget`) are one SQL transaction each, which also bumps the generation and logs the
  removed unit ids under it; FAISS is changed in the same step, under the exclusive side of
  an in-process readers-writer lock, so a search sees a change whole or not at all.
- **The FAISS file** is saved with a stamp: its generation, count, highest unit id, kind.
- **Opening**: a search process maps the file (no read of it, no read of SQL's vectors) and
  catches up on what SQL changed since the file's generation by replaying the change log:
  removed ids, and the units with ids above the file's highest (ids only grow). A writer
  reads the file whole and changes it in place. No usable file (missing, unreadable, from
  another database, or older than the change log): built from SQL.
- **Reading never writes.** A reader (a search, ``status``, the HTTP service) that has to
  build the index from SQL keeps it in memory and says so once (INFO); only a writer's
  explicit steps save the file: an index run (which also saves a file it finds missing or
  behind, see :meth:`Catalog.save_current`), :meth:`Catalog.rebuild` (``searchengine
  reindex``), and the saves at the end of every write.
- **Other processes**: the generation is checked at most once a second before a search;
  a change is caught up the same way.
- **The write lock** (an ``flock`` on ``write.lock``; a PostgreSQL advisory lock when the
  SQL is in a server, see :mod:`searchengine.catalog.write_locks`) keeps two processes - on one
  machine or several - from writing one index at once.
- **Replicas**: with the SQL in PostgreSQL, every folder opened on it holds its own FAISS
  file, a read replica kept current by the same catch-up. Its stamp names the database it
  was built from (``source``): a file from another database is rebuilt, never caught up.
  A replica's file is saved by an explicit step on its machine: :meth:`Catalog.rebuild_replica`
  (``searchengine reindex`` there), under the folder's lock alone - an indexer elsewhere is
  never kept waiting - or an index run in that folder.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from searchengine.errors import IndexBusyError, InvalidInputError
from searchengine.catalog.rwlock import ReadWriteLock
from searchengine.store.records import FileWrite, NewUnit, StoredFile

if TYPE_CHECKING:  # a search process never imports SQLAlchemy (see store.lazy_repository)
    from sqlalchemy.orm import Session

    from searchengine.store.repository import Repository
    from searchengine.vectors.index_build import BuildReport
from searchengine.vectors.faiss_index import VectorIndex, read_stamp, read_vector_index
from searchengine.vectors.index_kind import FLAT, IndexKind, check_policy, choose_kind, needs_rebuild
from searchengine.catalog.write_locks import FileWriteLock, WriteLock

log = logging.getLogger(__name__)

SYNC_INTERVAL_S = 1.0
RELOAD_PENDING = 20_000  # a reader holding this many changes beside its base maps a newer file


class _SqlSource:
    """The vectors in SQL, as :func:`build_index` reads them."""

    def __init__(self, repo: Repository, dim: int):
        self.repo, self.dim = repo, dim

    def count(self) -> int:
        return self.repo.unit_count()

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        return self.repo.sample_vectors(n, self.dim, seed)

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.repo.iter_vectors(self.dim)


class Catalog:
    """SQL (:class:`Repository`) and FAISS (:class:`VectorIndex`) of one index folder.

    ``dim`` is called when the vector dimension is first needed (it may load the model);
    ``policy`` is ``auto`` or an index kind; ``on_kind`` is told when a writer saves a
    FAISS index (re)built from SQL, so that the manifest can say which kind it is. ``lock``:
    the write lock (a path: an flock on that file). ``replica_lock`` (SQL in a server): the
    lock of this folder's FAISS file alone, taken by :meth:`rebuild_replica`; ``lock`` then
    holds it too."""

    def __init__(self, repo: Repository, vectors_path: Path, lock: Path | WriteLock, dim: Callable[[], int],
                 policy: str = "auto", on_kind: Callable[[IndexKind], None] | None = None,
                 replica_lock: WriteLock | None = None):
        self.repo = repo
        self._path = vectors_path
        self._lock: WriteLock = FileWriteLock(lock) if isinstance(lock, Path) else lock
        # SQL in a server: ``lock`` is the database's; this one guards the folder's FAISS file
        self._replica_lock = replica_lock
        self._dim = dim
        self.policy = check_policy(policy)
        self._on_kind = on_kind
        self._index: VectorIndex | None = None
        self._rw = ReadWriteLock()
        self._last_sync = 0.0
        self._saved_generation: int | None = None  # of the file on disk, when we saved or loaded it
        self.last_build: BuildReport | None = None
        self._lock_owner: int | None = None  # the thread holding the write lock
        self._told_unsaved = False  # a reader said once that its index was built in memory

    # -- the FAISS index --------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._index is not None

    @property
    def kind(self) -> IndexKind:
        """The kind of the loaded index, else of the saved file, else flat."""
        if self._index is not None:
            return self._index.kind
        stamp = read_stamp(self._path)
        try:
            return IndexKind.from_json(stamp["kind"]) if stamp and "kind" in stamp else FLAT
        except (ValueError, TypeError):
            return FLAT

    @property
    def dim(self) -> int:
        return self._dim()

    @property
    def generation(self) -> int:
        """The SQL generation the loaded index reflects (-1 before it is loaded)."""
        return self._index.generation if self._index is not None else -1

    def count(self) -> int:
        """Vectors in the index (from FAISS when loaded, else from SQL)."""
        return self._index.ntotal if self._index is not None else self.repo.unit_count()

    def vectors(self, *, for_writing: bool = False) -> VectorIndex:
        """The FAISS index, caught up with SQL. ``for_writing``: one that can be changed in
        place and saved (read whole), not a memory-mapped base."""
        index = self._index
        if index is not None and (not for_writing or not index.read_only):
            return index
        with self._rw.writing():
            if self._index is None or (for_writing and self._index.read_only):
                self._index = self._open(writable=for_writing)
                self._last_sync = time.monotonic()
            return self._index

    def _open(self, *, writable: bool) -> VectorIndex:
        """The saved file, caught up; else built from SQL - and saved only by a writer (one
        opening it to change it, or the thread holding the write lock): reading never writes."""
        dim = self._dim()
        loaded = read_vector_index(self._path, dim, mmap=not writable)
        why = "missing or unreadable"
        if loaded is not None:
            index, stamp = loaded
            source = self.repo.source_id()
            if source is not None and stamp.get("source") != source:
                log.info("FAISS file %s was built from another database; rebuilding it from SQL", self._path)
                why = "built from another database"
            else:
                self._saved_generation = index.generation
                if self._catch_up(index):
                    return index
                why = "older than SQL's change log"
        return self._rebuild(dim, save=writable or self._holds_lock(), why=why)

    def _holds_lock(self) -> bool:
        return self._lock_owner == threading.get_ident()

    def _catch_up(self, index: VectorIndex) -> bool:
        """Replay SQL's changes since ``index.generation``; False when that cannot be done
        (the change log was pruned past it, or the counts disagree: then rebuild)."""
        t0 = time.perf_counter()
        with self.repo.changes_since(index.generation, index.top_id, index.dim) as changes:
            if changes is None:
                log.info("FAISS file older than the change log; rebuilding")
                return False
            if changes.generation == index.generation and changes.count == index.ntotal:
                return True
            index.remove(changes.removed)
            added = 0
            for ids, vecs in changes.added:
                index.add(ids, vecs)
                added += len(ids)
            index.generation = changes.generation
            if index.ntotal != changes.count:
                log.warning("FAISS holds %d vectors after catching up, SQL %d; rebuilding",
                            index.ntotal, changes.count)
                return False
        log.info("caught up FAISS with SQL: %d removed, %d added in %.3f s",
                 len(changes.removed), added, time.perf_counter() - t0)
        return True

    def _rebuild(self, dim: int, kind: IndexKind | None = None, progress: bool = False, *,
                 save: bool, why: str = "rebuilt") -> VectorIndex:
        """Build the index from SQL's vectors. ``save`` (a writer): write the file and tell
        ``on_kind``; a reader keeps it in memory (see :meth:`_tell_unsaved`)."""
        t0 = time.perf_counter()
        index = self._build(dim, kind, progress)
        if not save:
            self._tell_unsaved(index, why, time.perf_counter() - t0)
            return index
        if index.ntotal:
            log.warning("built the vector index from SQL: %s, %d vectors", index.kind.describe(), index.ntotal)
        if self._on_kind:
            self._on_kind(index.kind)
        try:
            with self.write_lock():
                if self.repo.snapshot()[0] == index.generation:  # nobody wrote meanwhile
                    self._write(index)
        except IndexBusyError:
            pass  # the writer will save it
        return index

    def _build(self, dim: int, kind: IndexKind | None, progress: bool) -> VectorIndex:
        generation, count, top = self.repo.snapshot()
        kind = kind or choose_kind(self.policy, count)
        from searchengine.vectors.index_build import build_index  # tqdm: not on a search's path

        index, report = build_index(kind, dim, _SqlSource(self.repo, dim), progress=progress)
        self.last_build = report
        index.generation = generation
        if not self._catch_up(index):  # a writer committed while we read: replay it
            raise IndexBusyError("the index kept changing while its vectors were read; try again")
        return index

    def _tell_unsaved(self, index: VectorIndex, why: str, seconds: float) -> None:
        """A reader built the index in memory: said once per catalog, at INFO (every cold
        process that opens the folder pays this build until a writer saves the file)."""
        if self._told_unsaved or not index.ntotal:
            return
        self._told_unsaved = True
        log.info("the FAISS file %s is %s: built the vector index in memory from SQL (%s, %d vectors, "
                 "%.2f s); a search does not save it - the next `searchengine index` (or `searchengine "
                 "reindex`) on this folder does", self._path, why, index.kind.describe(), index.ntotal, seconds)

    def rebuild(self, policy: str | None = None, progress: bool = False) -> IndexKind:
        """Build the FAISS index again from the vectors in SQL (no re-embedding), as
        ``policy`` (``auto`` or a kind) from now on. Caller holds the write lock."""
        if policy is not None:
            self.policy = check_policy(policy)
        with self._rw.writing():
            self._index = None
            self._index = self._rebuild(self._dim(), progress=progress, save=True)
            return self._index.kind

    def rebuild_replica(self, progress: bool = False) -> IndexKind:
        """SQL in a server: build this folder's FAISS file from SQL and save it, under the
        folder's lock alone - not the database's write lock, so that an indexer on another
        machine is never kept waiting - and only over an older file; SQL is left as it is
        (no change-log pruning: that is the writers'). The explicit step that gives a replica
        (or a shard) its file. Busy while a writer in this folder runs."""
        if self._replica_lock is None:
            raise InvalidInputError("only an index in a server database has replicas; use rebuild()")
        self._replica_lock.acquire()
        try:
            with self._rw.writing():
                self._index = None
                index = self._build(self._dim(), None, progress)
                stamp = read_stamp(self._path) or {}
                if stamp.get("source") != self.repo.source_id() or int(stamp.get("generation", -1)) <= index.generation:
                    self._write(index, prune=False)
                if self._on_kind:
                    self._on_kind(index.kind)
                self._index = index
                return index.kind
        finally:
            self._replica_lock.release()

    def save_current(self) -> None:
        """A writer's step (caller holds the write lock; an index run ends with it): make
        the FAISS file on disk current when it is missing, from another database or behind
        SQL - rebuilt or caught up, then saved - so that the next reader maps it instead of
        building it again. Costs a look at its stamp when it is current."""
        stamp = read_stamp(self._path)
        if stamp is None or not self._path.is_file():
            if self.repo.unit_count() == 0:
                return  # nothing indexed yet: no file to write (and no model to load for it)
        elif (stamp.get("source") == self.repo.source_id()
              and int(stamp.get("generation", -1)) == self.repo.generation()):
            return
        self.vectors(for_writing=True)  # rebuilt and saved when the file cannot be caught up
        self.save()

    def sync(self, force: bool = False) -> None:
        """Catch up when another writer (a process, or another engine on the same folder)
        changed SQL since the index was loaded. Checked at most once a second for
        searches, always before writing."""
        index = self._index
        if index is None or (not force and time.monotonic() - self._last_sync < SYNC_INTERVAL_S):
            return
        self._last_sync = time.monotonic()
        if self.repo.generation() == index.generation:
            return
        with self._rw.writing():
            index = self._index
            if index is None:
                return
            if index.read_only and index.pending > RELOAD_PENDING:
                stamp = read_stamp(self._path) or {}
                if int(stamp.get("generation", -1)) > index.generation:
                    self._index = self._open(writable=False)
                    return
            if not self._catch_up(index):
                self._index = self._open(writable=not index.read_only)

    def save(self, *, final: bool = False, progress: bool = False) -> None:
        """Write the FAISS file when it changed since the last save (caller holds the write
        lock). ``final`` (the end of a run): first rebuild as another kind if the index has
        grown out of its own (see :func:`needs_rebuild`)."""
        index = self._index
        if index is None or index.read_only:
            return
        if final and needs_rebuild(self.policy, index.kind, index.ntotal):
            log.info("the index has grown to %d vectors: rebuilding it as %s", index.ntotal,
                     choose_kind(self.policy, index.ntotal).name)
            self.rebuild(progress=progress)
        elif index.generation != self._saved_generation or not self._path.is_file():
            with self._rw.reading():  # searches go on; changes wait for the disk
                self._write(index)
        if final:
            self.repo.save_stats()  # what `status` shows, counted once a run

    def _write(self, index: VectorIndex, *, prune: bool = True) -> None:
        previous = self._saved_generation
        index.write(self._path, index.generation, index.top_id, source=self.repo.source_id())
        self._saved_generation = index.generation
        if prune and previous is not None and previous < index.generation:
            self.repo.prune_change_log(previous)  # one save of slack for readers behind

    @property
    def writing(self) -> bool:
        """A thread of this catalog holds the write lock (this engine is a writer now)."""
        return self._lock_owner is not None

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """The index's inter-process write lock (not blocking: busy is an error). Held
        already by this catalog (a rebuild inside an index run): taken again at no cost."""
        if self._lock_owner == threading.get_ident():
            yield
            return
        self._lock.acquire()
        try:
            self._lock_owner = threading.get_ident()
            try:
                yield
            finally:
                self._lock_owner = None
        finally:
            self._lock.release()

    # -- searching --------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's top ``k`` (scores, ids) for one query vector. Searches share the lock:
        they run in parallel (FAISS releases the GIL); a change waits for them."""
        self.sync()
        self.vectors()
        with self._rw.reading():
            index = self._index
            assert index is not None
            scores, ids = index.search(query.reshape(1, -1), k, allowed=allowed)
        return scores[0], ids[0]

    def range_search(self, queries: np.ndarray, radius: float, *, allowed: np.ndarray | None = None,
                     nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every vector scoring above ``radius`` with each query row, as
        :meth:`VectorIndex.range_search` gives it, under the shared lock like :meth:`search`."""
        self.sync()
        self.vectors()
        with self._rw.reading():
            index = self._index
            assert index is not None
            return index.range_search(queries, radius, allowed=allowed, nprobe=nprobe)

    # -- writes: SQL and FAISS in one step --------------------------------------------

    @contextmanager
    def _change(self) -> Iterator["_Change"]:
        """One write: the body changes SQL in ``change.session`` and says which unit ids
        it removed and added; on commit (which bumps the generation and logs the removals)
        FAISS is changed to match, all under the exclusive lock."""
        self.vectors(for_writing=True)
        with self._rw.writing():
            index = self.vectors(for_writing=True)  # under the lock: a sync may have replaced it
            with self.repo.write_session() as s, s.begin():
                change = _Change(s, index.dim)
                yield change
                generation = self.repo.record_change(s, change.removed)
            index.remove(change.removed)
            if change.added_ids:
                index.add(np.asarray(change.added_ids, dtype=np.int64),
                          np.asarray(change.added_vectors, dtype=np.float32).reshape(-1, index.dim))
            index.generation = generation

    def store_files(self, writes: Sequence[FileWrite]) -> list[StoredFile]:
        """Insert or replace files with their units (see :meth:`Repository.store_files`)."""
        if not writes:
            return []
        dim = self.dim
        for w in writes:  # a wrong-sized vector in SQL would break every later rebuild
            if any(np.asarray(u.vector).size != dim for u in w.units):
                raise InvalidInputError(f"{w.path}: a vector is not {dim}-d, the index's dimension")
        with self._change() as change:
            stored = self.repo.store_files(change.session, writes)
            for write, result in zip(writes, stored):
                change.removed += result.removed
                if result.new_ids:
                    change.added_ids += result.new_ids
                    change.added_vectors += [u.vector for u in write.units]
        return stored

    def replace_text_units(self, file_id: int, units: Sequence[NewUnit]) -> int:
        """Set the ``ocr`` units of an indexed image (see :meth:`Repository.replace_text_units`);
        returns how many were added."""
        return self.replace_kind_units(file_id, "ocr", units)

    def replace_kind_units(self, file_id: int, kind: str, units: Sequence[NewUnit]) -> int:
        """Set an indexed file's units of ``kind`` (its others stay), in SQL and FAISS
        together; returns how many were added."""
        dim = self.dim
        if any(np.asarray(u.vector).size != dim for u in units):
            raise InvalidInputError(f"file {file_id}: a {kind} vector is not {dim}-d, the index's dimension")
        with self._change() as change:
            removed, new_ids = self.repo.replace_kind_units(change.session, file_id, kind, units)
            change.removed += removed
            change.added_ids += new_ids
            change.added_vectors += [u.vector for u in units]
        return len(new_ids)

    def copy_file(self, source_id: int, *, path: str, size: int, mtime_ns: int,
                  device: int | None = None, inode: int | None = None) -> None:
        with self._change() as change:
            removed, new_ids, vectors = self.repo.copy_file(
                change.session, source_id, path=path, size=size, mtime_ns=mtime_ns, dim=change.dim,
                device=device, inode=inode)
            change.removed += removed
            change.added_ids += new_ids
            change.added_vectors += list(vectors)

    def move_file(self, file_id: int, *, path: str, size: int, mtime_ns: int,
                  device: int | None = None, inode: int | None = None) -> None:
        with self._change() as change:
            self.repo.move_file(change.session, file_id, path=path, size=size, mtime_ns=mtime_ns,
                                device=device, inode=inode)

    def delete_files(self, file_ids: Sequence[int]) -> None:
        if not file_ids:
            return
        with self._change() as change:
            change.removed += self.repo.delete_files(change.session, file_ids)

    def forget(self, path: str) -> tuple[int, int]:
        """Remove the root ``path`` and everything under it: (roots, files) removed."""
        with self._change() as change:
            roots, files, units = self.repo.forget(change.session, path)
            change.removed += units
        return roots, files


@dataclass
class _Change:
    session: Session
    dim: int
    removed: list[int] = field(default_factory=list)
    added_ids: list[int] = field(default_factory=list)
    added_vectors: list[np.ndarray] = field(default_factory=list)
