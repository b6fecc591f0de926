"""SearchEngine: opens an index folder and wires the parts together; the Python API."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from datetime import datetime
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Collection, Iterable, Sequence, cast

import numpy as np
from PIL import Image

from searchengine.catalog.catalog import Catalog
from searchengine.config import Settings
from searchengine.encoders.base import Encoder, encode_images, encode_queries
from searchengine.encoders.registry import AUTO, load_encoder, parse_spec, resolve_auto
from searchengine.encoders.torch_device import resolve_device
from searchengine.errors import (
    IndexDamagedError,
    IndexIncompatibleError,
    IndexUnavailableError,
    InvalidInputError,
)
from searchengine.query.hits import Hit
from searchengine.catalog.layout import IndexLayout, resolve_index
from searchengine.catalog.manifest import Manifest
from searchengine.media.images import load_query_image
from searchengine.media.formats.registry import described
from searchengine.media.kinds import RECORDINGS, modality_of
from searchengine.query.filters import SearchFilters
from searchengine.query.ranker import GROUPS, Ranker
from searchengine.query.calibration import PICTURE_KINDS
from searchengine.query.searcher import MODES
from searchengine.store.revisions import head_revision
from searchengine.store.records import FileRecord, UnitRow

if TYPE_CHECKING:  # a search imports no SQLAlchemy, speech model or duplicates pass (see open)
    from sqlalchemy import Engine as SqlEngine

    from searchengine.duplicates.finder import DuplicatesReport
    from searchengine.pipeline import IndexReport, IndexRun
    from searchengine.pipeline.ray_worker import WorkerEncoder
    from searchengine.store.repository import Repository
    from searchengine.transcribe.whisper import WhisperTranscriber

from searchengine.vectors.faiss_index import METRIC, VectorIndex
from searchengine.vectors.index_kind import IndexKind, check_policy

from searchengine.catalog.write_locks import BothLocks, FileWriteLock, WriteLock, YieldingWriteLock, text_reader_pid

log = logging.getLogger(__name__)
MAX_SAVED_SKIPS = 10_000  # skipped entries listed in the index folder (the others counted)


def _lazy_repository(database: Path) -> Repository | None:
    """The folder's SQLite file read through sqlite3 until more than a search's reads is
    asked (None where the full store must open it: see SqliteReads.open)."""
    from searchengine.store.lazy_repository import LazyRepository
    from searchengine.store.sqlite_reads import SqliteReads

    reads = SqliteReads.open(database)
    # duck-typed: what LazyRepository does not define is the full Repository's
    return cast("Repository", LazyRepository(database, reads)) if reads is not None else None


def _open_server(url: str) -> "SqlEngine":
    from searchengine.store.server_database import open_server_database

    return open_server_database(url)


@dataclass(frozen=True)
class IndexStatus:
    name: str
    folder: str
    model: str | None
    precision: str
    dim: int | None
    metric: str
    index_type: str  # the FAISS kind, with its measured recall (see vectors.index_kind)
    index_policy: str  # auto, or the kind asked for with --index-type
    schema_revision: str
    vectors: int
    size_bytes: int
    roots: list[str]
    modalities: dict[str, dict[str, int]] = field(default_factory=dict)
    # indexed photos whose text is still to be read (the next `index` reads them); None
    # where text in images is not read (--ocr off, or the OCR package is missing)
    text_to_read: int | None = None
    # the background text reader reading it now (`index --read-text background`), or None
    text_reader_pid: int | None = None


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its parents that do not exist yet, innermost first."""
    out = []
    while not folder.exists() and folder.parent != folder:
        out.append(folder)
        folder = folder.parent
    return out


class SearchEngine:
    """A named index and the model it was built with.

    >>> engine = SearchEngine.open("photos")                 # doctest: +SKIP
    >>> engine.index(["~/Pictures"])                         # doctest: +SKIP
    >>> engine.search(text="a dog on a beach", k=5)          # doctest: +SKIP
    """

    def __init__(self, layout: IndexLayout, settings: Settings, model: str, manifest: Manifest | None,
                 repo: Repository, encoder: Encoder | None = None):
        self.layout = layout
        self.settings = settings
        self.model = model
        self._manifest = manifest
        self._encoder = encoder
        self._transcriber: WhisperTranscriber | None = None
        self._load_lock = threading.Lock()  # lazy loading of the model and speech recognition
        policy = manifest.index_policy if manifest else settings.index_type
        # the manifest is on disk (or, SQL in a server, kept in the database): the index
        # exists. A new index's manifest lives in memory until its first write (see _create)
        self._manifest_saved = manifest is not None
        lock: Path | WriteLock = layout.write_lock
        replica_lock = None
        if repo.on_server:  # writers: the database's advisory lock, then this folder's
            from searchengine.store.server_database import AdvisoryWriteLock

            replica_lock = FileWriteLock(layout.write_lock)
            lock = BothLocks(AdvisoryWriteLock(repo.engine), replica_lock)
        # the background text reader gives the lock up to any other writer (see write_locks)
        lock = YieldingWriteLock(FileWriteLock(lock) if isinstance(lock, Path) else lock,
                                 layout.text_reader_pid, layout.text_reader_stop)
        self.catalog = Catalog(repo, layout.vectors, lock, self._dim, policy, self._kind_built,
                               replica_lock=replica_lock)
        self._ranker = Ranker(self.catalog, layout.calibration)
        self._created_folders: list[Path] = []  # made by open() for a new index (see close)

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        name: str | Path = "default",
        *,
        model: str | None = None,
        settings: Settings | None = None,
        create: bool = True,
        encoder: Encoder | None = None,
        shard: tuple[int, int] | None = None,
        reads_only: bool = False,
    ) -> "SearchEngine":
        """Open the index ``name`` (a name under the index root, or a folder path).

        ``model`` defaults to the index's own model, or ``settings.model`` for a new index;
        naming another model than the index was built with is an error. ``encoder`` injects
        an already loaded encoder (its ``spec`` must match). ``shard`` = (s, S): a read-only
        replica of the units with ``id % S == s`` of an index in a server database (see
        :mod:`searchengine.catalog.shards`).

        ``create``: a missing index is made (its folder and database; :meth:`close` removes
        them again if nothing was indexed); else opening it is an error. Reading never
        writes: searching, :meth:`status` and the :attr:`encoder` and :attr:`vectors`
        getters leave the folder as they found it. The manifest is written by the first
        write (an index run), the FAISS file by the writer steps (:meth:`index`,
        :meth:`reindex`, :meth:`forget`, :meth:`refresh`). With ``create=False`` on an index
        in a server database, this machine's replica folder is not made until a writer step. ``reads_only``: the caller means to search
        (and read) an index that exists; in a folder's SQLite file at this version's schema
        those reads go through the sqlite3 module, without importing SQLAlchemy (a cold
        `searchengine search`); anything else still works, opening the full store on first
        use (see :mod:`searchengine.store.lazy_repository`).
        """
        settings = settings or Settings.from_env()
        layout = resolve_index(name, settings.index_root)
        url = settings.database_url
        if shard is not None:
            if url is None:
                raise InvalidInputError("a shard is a replica of an index in PostgreSQL: give --database-url")
            if not (len(shard) == 2 and shard[1] >= 1 and 0 <= shard[0] < shard[1]):
                raise InvalidInputError(f"shard {shard!r} is not (s, S) with 0 <= s < S")
        if url is not None:  # the SQL in a server; the folder is this machine's replica
            from searchengine.store.server_database import has_schema

            exists = layout.manifest.is_file() or has_schema(url)
        else:
            exists = layout.exists()
        if not exists or (not layout.folder.is_dir() and (create or url is None)):
            if not create and not exists:
                raise IndexUnavailableError(
                    f"no index at {layout.folder}; build one with "
                    f"`searchengine index --index {name} FOLDER...`"
                )
            if layout.folder.is_dir() and layout.foreign_entries():
                raise IndexUnavailableError(
                    f"{layout.folder} exists and is not a searchengine index; give a new or "
                    "empty folder (or a name) for --index"
                )
            created = _missing_folders(layout.folder)
            try:
                layout.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise IndexUnavailableError(f"cannot create the index folder {layout.folder}: {exc}") from exc
        else:
            created = []
        manifest = Manifest.load(layout.manifest)
        repo = _lazy_repository(layout.database) if reads_only and url is None and exists else None
        if repo is None:
            from searchengine.store.database import open_database
            from searchengine.store.repository import Repository

            repo = Repository(open_database(layout.database) if url is None else _open_server(url), shard)
        if manifest is None and repo.on_server and (stored := repo.stored_manifest()) is not None:
            manifest = Manifest.parse(stored, "the manifest kept in --database-url's database")
            if create:
                manifest.save(layout.manifest)  # a new replica of an index on a server
        if manifest is None and shard is not None:
            repo.engine.dispose()
            raise IndexUnavailableError("a shard replicates an index that exists: index into the database first")
        if manifest is None:
            if repo.unit_count() > 0:
                raise IndexDamagedError(
                    f"the index at {layout.folder} has vectors but no manifest.json; restore the "
                    "manifest or delete the folder and index again"
                )
            chosen, why = resolve_auto((model or settings.model).strip())
            if why:
                log.warning("%s", why)
        else:
            chosen = manifest.model
            if model and model.strip() not in (manifest.model, AUTO):
                raise IndexIncompatibleError(
                    f"the index at {layout.folder} was built with model {manifest.model}; it "
                    f"cannot be used with {model}. Leave out --model to use the index's own model, "
                    "or index into a new index (--index OTHER_NAME) to use another model"
                )
            wanted = settings.precision
            if wanted != "auto" and wanted != manifest.precision:
                raise IndexIncompatibleError(
                    f"the index at {layout.folder} was built at precision {manifest.precision}; "
                    f"it cannot be queried at {wanted}. Leave out --precision to use the index's "
                    "own, or index into a new index (--index OTHER_NAME) at another precision"
                )
        parse_spec(chosen)
        if encoder is not None and encoder.spec != chosen:
            raise InvalidInputError(f"the given encoder is {encoder.spec}, the index needs {chosen}")
        engine = cls(layout, settings, chosen, manifest, repo, encoder)
        engine._created_folders = created if url is None else []
        return engine

    def close(self) -> None:
        """Release the database. An index this engine created that still holds nothing (no
        folder indexed, no model chosen: a first run that failed) is removed with the
        folders made for it, so that nothing is left behind."""
        empty = bool(self._created_folders) and not self._manifest_saved and not self.layout.manifest.is_file() \
            and not self.repo.roots() and self.repo.unit_count() == 0
        self.repo.close()
        if empty:
            shutil.rmtree(self.layout.folder, ignore_errors=True)
            for folder in self._created_folders[1:]:  # parents made for it, innermost first
                try:
                    folder.rmdir()
                except OSError:
                    break
            self._created_folders = []

    @property
    def repo(self) -> Repository:
        """The SQL side (internal: the HTTP layer and the CLI use the public reads below)."""
        return self.catalog.repo

    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index, caught up with SQL (see :mod:`searchengine.catalog.catalog`).
        Writes nothing: a missing or stale file is built in memory."""
        return self.catalog.vectors()

    def _dim(self) -> int:
        if self._manifest is None:
            self._load_encoder_locked()  # a new index: the model says (no model load when known)
        assert self._manifest is not None
        if not self._manifest_saved and self.catalog.writing:
            self._create()  # a writer about to store the first vectors of a new index
        return self._manifest.dim

    def _create(self) -> None:
        """The step that makes a new index exist: its manifest written (model, dimension,
        precision), by a writer before its first vectors are stored."""
        assert self._manifest is not None
        self._save_manifest()
        self._manifest_saved = True

    def _kind_built(self, kind: IndexKind) -> None:
        if self._manifest is not None and (self._manifest.index != kind.to_json()
                                           or self._manifest.index_policy != self.catalog.policy):
            self._manifest.index = kind.to_json()
            self._manifest.index_type = kind.name
            self._manifest.index_policy = self.catalog.policy
            self._save_manifest()

    def _save_manifest(self) -> None:
        """The folder's manifest; on a server database also a copy in SQL, which a replica
        on another machine starts from (written by writers only: a replica that builds its
        own FAISS file changes its folder's copy alone)."""
        assert self._manifest is not None
        self._manifest.save(self.layout.manifest)
        if self.repo.on_server and (self.catalog.writing or self.repo.stored_manifest() is None):
            self.repo.store_manifest(self._manifest.to_json())

    def __enter__(self) -> "SearchEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self.layout.folder.name

    @property
    def encoder(self) -> Encoder:
        """The model, loaded on first use and kept for the life of the engine. Writes
        nothing (a new index's manifest is written by its first write)."""
        return self._load_encoder_locked()

    def _load_encoder_locked(self) -> Encoder:
        with self._load_lock:
            return self._load_encoder()

    @property
    def precision(self) -> str:
        """The precision this index's vectors are made at (``auto`` until a new index has
        loaded its model)."""
        return self._manifest.precision if self._manifest else self.settings.precision

    @property
    def model_loaded(self) -> bool:
        return self._encoder is not None

    def _load_encoder(self) -> Encoder:
        if self._encoder is None:
            device, precision = self.settings.device, self.precision
            if precision == "int8":  # int8 graphs run on the CPU, whatever else is present
                device = "cpu"
            elif precision == "fp16" and self._manifest is not None and resolve_device(device) == "cpu":
                log.info("index %s was built in fp16 on a GPU; querying it in fp32 on the CPU", self.name)
                precision = "fp32"
            self._encoder = load_encoder(self.model, device, precision, self.settings.cache_dir)
        if self._manifest is None:
            self._manifest = Manifest(  # in memory: written by the first write (see _create)
                model=self.model, dim=self._encoder.dim, metric=METRIC,
                index_type="flat", schema_revision=head_revision(), precision=self._encoder.precision,
                index_policy=self.catalog.policy,
            )
        elif self._manifest.dim != self._encoder.dim:
            raise IndexIncompatibleError(
                f"model {self.model} gives {self._encoder.dim}-d vectors but the index at "
                f"{self.layout.folder} holds {self._manifest.dim}-d vectors"
            )
        return self._encoder

    # -- indexing ----------------------------------------------------------------------

    def index(self, paths: Sequence[str | Path] | None = None, *, progress: bool = False,
              on_progress: Callable[[str, int, int], None] | None = None,
              retry_failed: bool = False, ray: str | None = None,
              read_text: str | None = None) -> "IndexReport":
        """Index ``paths`` (files or folders, recursively); with none, re-index the folders
        indexed before (a folder that is gone is skipped and kept: an unplugged drive must
        not empty the index; :meth:`forget` removes one). Unchanged files are skipped, moved
        ones keep their vectors, deleted ones are removed; files that failed are tried again
        when they change, or with ``retry_failed``. ``progress`` draws terminal bars;
        ``on_progress(stage, done, total)`` reports advancement to a caller. ``ray`` decodes
        and encodes on a Ray cluster: ``"local"`` (started on this machine for the run),
        ``"auto"`` (the cluster this machine has joined) or a cluster's address; the plan and
        the writing stay here (see :mod:`searchengine.pipeline.ray_runner`).

        Every file is searchable when the run's stream ends; the text in photos is read
        after that, as ``read_text`` says (default: ``settings.read_text``): ``now`` (here,
        before this returns), ``background`` (a detached reader process started at the end,
        ``report.text_reader`` its pid; see :mod:`searchengine.pipeline.text_reader`) or
        ``next-run`` (left for the next run; ``status().text_to_read`` counts it)."""
        from searchengine.config import READ_TEXT_MODES
        from searchengine.transcribe.whisper import check_asr_model

        read_text = (read_text or self.settings.read_text).strip().lower()
        if read_text not in READ_TEXT_MODES:
            raise InvalidInputError(f"read_text (--read-text) must be {', '.join(READ_TEXT_MODES)}, got {read_text!r}")
        self._check_writable()
        check_asr_model(self.settings.asr_model, self.settings.language)
        if ray is not None:
            from searchengine.pipeline.ray_cluster import check_address, import_ray

            ray = check_address(ray)
            import_ray()  # not installed: say so before planning anything
        missing_roots: list[str] = []
        if paths:
            roots = [Path(p).expanduser().absolute() for p in paths]
            for root in roots:
                if not root.exists():
                    raise InvalidInputError(f"{root} does not exist")
                if not root.is_dir() and (not root.is_file() or modality_of(root) is None):
                    raise InvalidInputError(
                        f"{root} is not a folder or a file searchengine indexes ({described()})"
                    )
        else:
            roots = [Path(p) for p in self.repo.roots() if Path(p).exists()]
            missing_roots = [p for p in self.repo.roots() if not Path(p).exists()]
            for gone in missing_roots:
                log.warning("indexed folder %s is missing; its items are kept (`searchengine forget` removes them)", gone)
            if not roots and not missing_roots:
                raise InvalidInputError("nothing to index: give at least one folder or file")
        with self.catalog.write_lock():
            self.catalog.sync(force=True)
            run = self._index_run(ray)
            report = run.run(roots, progress=progress, on_progress=on_progress, retry_failed=retry_failed,
                             read_text=read_text)
            report.missing_roots = missing_roots
            self._save_skipped(report)
            if self._manifest is not None:
                if not self._manifest_saved:
                    self._create()  # the run loaded the model: the index records it
                from searchengine.pipeline.facts import fill_facts

                if fill_facts(self.catalog, lambda: self.encoder, progress=progress):
                    self.catalog.save(final=True)
                from searchengine.pipeline.sound_scores import fill_sound_scores

                if fill_sound_scores(self.catalog, lambda: self.encoder, self.settings, progress=progress):
                    self.catalog.save(final=True)
            self.catalog.save_current()  # a FAISS file readers found missing or behind: saved now
            self._ranker.refresh_calibration()  # each kind's score statistics, for the one scale
        if read_text == "background" and report.text_pending:
            from searchengine.pipeline.text_reader import spawn

            report.text_reader = spawn(self.layout, self.settings)
        return report

    def read_text(self, *, progress: bool = False, on_progress: Callable[[str, int, int], None] | None = None,
                  stop: Callable[[], bool] | None = None) -> "IndexReport":
        """Read the text in the indexed photos that is still to read (what an index run with
        ``read_text="background"`` or ``"next-run"`` left; the background reader's work),
        under the write lock, storing each reading as it comes and saving every
        ``checkpoint_seconds``. ``stop`` is asked between two photos: True stops there (the
        rest stays to read). ``report.text_pending``: what is left."""
        from searchengine.ocr.stage import ImageTexts
        from searchengine.pipeline import IndexReport
        from searchengine.pipeline.read_text import TextPhase

        self._check_writable()
        report = IndexReport()
        with self.catalog.write_lock():
            self.catalog.sync(force=True)
            texts = ImageTexts(self.repo, self.settings.ocr, self.settings.chunk_chars)
            phase = TextPhase(self.catalog, lambda: self.encoder, self.settings, texts, report)
            todo = phase.pending()
            if todo:
                log.info("reading the text in %d photos", sum(len(group) for group in todo))
                phase.run(todo, progress, on_progress or (lambda stage, done, total: None), stop=stop)
                self.catalog.save(final=True, progress=progress)
                self._ranker.refresh_calibration()
        return report

    def _save_skipped(self, report: "IndexReport") -> None:
        from searchengine.catalog.atomic_files import atomic_write_bytes

        data = {"counts": report.skip_counts, "entries": [list(e) for e in report.noted_skips[:MAX_SAVED_SKIPS]],
                "more": max(0, len(report.noted_skips) - MAX_SAVED_SKIPS)}
        try:
            atomic_write_bytes(self.layout.skipped, json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogateescape"))
        except OSError as exc:  # the run itself is done and saved
            log.warning("could not save the list of skipped entries: %s", exc)

    def skipped(self) -> tuple[dict[str, int], list[tuple[str, str]], int]:
        """The last indexing run's skipped entries: counts by code, the ones a person should
        hear of as (path, reason), and how many more of those there were."""
        try:
            data = json.loads(self.layout.skipped.read_bytes().decode("utf-8", "surrogateescape"))
        except (OSError, ValueError):
            return {}, [], 0
        return dict(data.get("counts", {})), [tuple(e) for e in data.get("entries", [])], int(data.get("more", 0))

    def refresh(self, changed: Iterable[str | Path], *, hold: Collection[str] = (),
                settle_s: float = 0.0) -> "IndexReport":
        """Bring the index up to date with ``changed`` paths inside the indexed folders
        (what a folder watcher saw: files or folders added, changed, moved or deleted).
        The same incremental plan as :meth:`index`, over those paths alone (no walk of the
        folders around them): moves keep their vectors, deletions are removed, a folder that
        vanished with its indexed root is kept (see
        :func:`searchengine.pipeline.watch.targets_of`). ``hold``: files still being written,
        left for a later call, as are those modified less than ``settle_s`` seconds ago
        (``report.held`` names them). The index's folders stay as they are."""
        from searchengine.pipeline.watch import targets_of

        self._check_writable()
        walk, gone = targets_of(changed, self.repo.roots(), exclude=self.layout.folder)
        if not walk and not gone:
            from searchengine.pipeline import IndexReport

            return IndexReport()
        with self.catalog.write_lock():
            self.catalog.sync(force=True)
            report = self._index_run(None).run(walk, progress=False, new_roots=False, hold=hold, gone=gone,
                                               settle_s=settle_s, read_text="now")
            self._ranker.refresh_calibration()  # each kind's score statistics, for the one scale
            return report

    def _index_run(self, ray: str | None) -> "IndexRun":
        from searchengine.pipeline import IndexRun

        if ray is None:
            return IndexRun(self.catalog, lambda: self.encoder, self.settings, exclude=[self.layout.folder],
                            transcriber=self._get_transcriber)
        from searchengine.pipeline.ray_runner import RayIndexRun

        return RayIndexRun(self.catalog, lambda: self.encoder, self.settings, address=ray,
                           worker_encoder=self._worker_encoder, exclude=[self.layout.folder],
                           transcriber=self._get_transcriber)

    def _worker_encoder(self, cluster_has_gpus: bool) -> "WorkerEncoder":
        """The encoder Ray workers load: this index's model at its concrete precision. A new
        index loads the model here once first, to write its manifest (dimension, precision);
        for a cluster with GPUs, ``auto`` precision means fp32 for a model that runs on them
        (torch on the workers' GPUs; fp16 cannot be loaded here without one, and int8 would
        leave them idle)."""
        from searchengine.pipeline.ray_worker import WorkerEncoder, runs_on_gpu

        if self._manifest is None:
            if cluster_has_gpus and self.settings.precision == "auto" and runs_on_gpu(self.model, "fp32"):
                self.settings = self.settings.with_(precision="fp32")
            self._dim()
        return WorkerEncoder(self.model, self.settings.device, self.precision, self.settings.cache_dir)

    def reindex(self, index_type: str | None = None, *, progress: bool = False) -> IndexKind:
        """Build the FAISS index again from the vectors in SQL - no re-embedding - as
        ``index_type`` (``auto``, ``flat``, ``ivf-flat``, ``ivf-sq8``, ``ivf-pq``; default:
        the index's own policy). The kind, its tuned search parameter and measured recall
        are in the manifest and :meth:`status`. The explicit step that saves a FAISS file
        that searches found missing or stale (they build it in memory and write nothing).
        SQL in a server, same policy: this machine's replica file alone, under its folder's
        lock (see :meth:`Catalog.rebuild_replica`; a shard's too); another policy takes the
        database's write lock, as it changes the index for every machine."""
        policy = check_policy(index_type) if index_type else None
        replica = self.repo.on_server and policy in (None, self.catalog.policy)
        if replica:
            self._make_folder()
        else:
            self._check_writable()
        if not self._manifest_saved:
            raise InvalidInputError(f"the index at {self.layout.folder} is empty; index some files first")
        if replica:
            kind = self.catalog.rebuild_replica(progress=progress)
        else:
            with self.catalog.write_lock():
                kind = self.catalog.rebuild(policy, progress=progress)
        self._kind_built(kind)
        return kind

    def forget(self, path: str | Path) -> int:
        """Remove an indexed folder (or file) and everything under it from the index, whether
        or not it still exists on disk. Returns the number of files removed."""
        self._check_writable()
        target = str(Path(path).expanduser().absolute())
        with self.catalog.write_lock():
            self.catalog.sync(force=True)
            removed_roots, removed_files = self.catalog.forget(target)
            if not removed_roots and not removed_files:
                raise InvalidInputError(f"nothing is indexed under {target}")
            self.catalog.save(final=True)
        return removed_files

    def _check_writable(self) -> None:
        """Before a writer step: not a shard, and the folder there (a replica of an index in
        a server database opened with ``create=False`` has none until its first write)."""
        if self.repo.shard is not None:
            raise InvalidInputError("this engine is a shard (a read-only replica); write with an engine "
                                    "opened without shard= on the same database")
        self._make_folder()

    def _make_folder(self) -> None:
        if not self.layout.folder.is_dir():
            try:
                self.layout.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise IndexUnavailableError(f"cannot create the index folder {self.layout.folder}: {exc}") from exc

    def _get_transcriber(self) -> WhisperTranscriber:
        """Speech recognition, loaded once, when the first recording needs it (decode
        threads may ask at the same moment)."""
        from searchengine.transcribe.whisper import WhisperTranscriber

        with self._load_lock:
            if self._transcriber is None:
                self._transcriber = WhisperTranscriber(
                    self.settings.asr_model, self.settings.cache_dir, self.settings.device, self.settings.language
                )
            return self._transcriber

    # -- searching ---------------------------------------------------------------------

    def search(
        self,
        text: str | None = None,
        *,
        image: str | Path | Image.Image | None = None,
        similar_to: int | None = None,
        k: int = 10,
        offset: int = 0,
        filters: SearchFilters | None = None,
        mode: str = "hybrid",
        modality: str | Sequence[str] | None = None,
        path_glob: str | None = None,
        modified_after: datetime | None = None,
        modified_before: datetime | None = None,
        group: str = "file",
    ) -> list[Hit]:
        """Search by exactly one of: ``text``, ``image`` (a path or a PIL image), or
        ``similar_to`` (the id of an indexed unit: "more like this"), narrowed by
        ``filters`` (a :class:`SearchFilters`). ``modality``, ``path_glob``,
        ``modified_after`` and ``modified_before`` are a shorthand for
        ``filters=SearchFilters.of(...)`` (give one or the other). ``mode`` (text queries):
        ``hybrid`` (default: meaning and keywords, fused), ``vector`` (meaning only) or
        ``keyword`` (words as written; loads no model). ``group``: ``file`` (default: one hit
        per file, its best unit leading, its other matching units as ``evidence``) or
        ``unit``. Every kind of unit comes back on one relevance scale (``Hit.score``, see
        :mod:`searchengine.query.calibration`); ``modality`` narrows."""
        given = [x is not None for x in (text, image, similar_to)]
        if sum(given) != 1:
            raise InvalidInputError("give exactly one query: text, an image, or the id of an indexed item")
        shorthand = (modality, path_glob, modified_after, modified_before)
        if filters is not None and any(x is not None for x in shorthand):
            raise InvalidInputError("give filters= or the filter keywords (modality=, path_glob=, ...), not both")
        if filters is None:
            filters = SearchFilters.of(modality, path_glob, modified_after, modified_before)
        if mode not in MODES:
            raise InvalidInputError(f"unknown search mode {mode!r} for --mode; choose {', '.join(MODES)}")
        if group not in GROUPS:
            raise InvalidInputError(f"unknown grouping {group!r} for --group; choose {', '.join(GROUPS)}")
        self._check_k(k, offset)
        exclude: list[int] = []
        vector: np.ndarray | None = None
        kind_vectors: dict[str, np.ndarray] = {}
        sound_classes: np.ndarray | None = None
        picture = image is not None  # a query from the image tower (see query.ranker.centred_query)
        if text is not None:
            if not text.strip():
                raise InvalidInputError("the query text is empty")
            text = text.strip()
            if mode != "keyword":
                vector = np.asarray(encode_queries(self.encoder, [text])[0], dtype=np.float32)
                kind_vectors, sound_classes = self._sound_query(text, vector)
        elif image is not None:
            img = image if isinstance(image, Image.Image) else load_query_image(Path(image))
            vector = np.asarray(encode_images(self.encoder, [img.convert("RGB")])[0], dtype=np.float32)
        else:
            assert similar_to is not None
            if not 0 < similar_to < 2**63:
                raise InvalidInputError(f"no indexed item has id {similar_to}")
            found = self.repo.vectors_of([similar_to], self._dim())
            if similar_to not in found:
                raise InvalidInputError(f"no indexed item has id {similar_to}")
            vector, exclude = found[similar_to], [similar_to]
            source = self.repo.units([similar_to]).get(similar_to)
            picture = source is not None and source.kind in PICTURE_KINDS
        return self._ranker.search(vector, text, k=k, offset=offset, filters=filters,
                                   mode=mode if text is not None else "vector", group=group, exclude_ids=exclude,
                                   picture=picture, kind_vectors=kind_vectors, sound_classes=sound_classes)

    def _sound_query(self, text: str, vector: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """What sound units read of a text query, where the index holds any: the query less
        its "the sound of" / "的声音" frame (it tells one sound from another no better than
        nothing: :mod:`searchengine.sounds.query`; one more text to encode, only where the
        query has the frame), and its weights over the 521 sound classes
        (:mod:`searchengine.sounds.class_space`)."""
        from searchengine.sounds.class_space import name_vectors, query_classes
        from searchengine.sounds.query import without_frame

        if not self._ranker.has_kind("sound"):
            return {}, None
        bare = without_frame(text)
        own = {} if bare is None else {"sound": np.asarray(encode_queries(self.encoder, [bare])[0], dtype=np.float32)}
        names, owners = name_vectors(self.encoder, self.settings.cache_dir)
        return own, query_classes(own.get("sound", vector), names, owners)

    @staticmethod
    def _check_k(k: int, offset: int) -> None:
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        if offset < 0:
            raise InvalidInputError(f"offset must be 0 or more, got {offset}")

    def search_vector(self, query: np.ndarray, *, k: int = 10, offset: int = 0,
                      filters: SearchFilters = SearchFilters(), exclude_ids: Sequence[int] = ()) -> list[Hit]:
        """Units nearest a ready query vector (L2-normalised, in this index's space), by raw
        cosine: the low-level search, unranked across kinds and ungrouped (``score`` is the
        cosine). :meth:`search` is the ranked one."""
        return self._ranker.searcher.search(np.asarray(query, dtype=np.float32), k, offset=offset,
                                            filters=filters, exclude_ids=exclude_ids)

    def refresh_calibration(self) -> bool:
        """Measure each kind's score statistics again where the index changed enough, and
        save them (the indexer does this at the end of a run). True when written."""
        self._check_writable()
        with self.catalog.write_lock():
            return self._ranker.refresh_calibration()

    def duplicates(self, threshold: float | None = None, *, kind: str = "all", limit: int | None = None,
                   filters: SearchFilters | None = None, progress: bool = False) -> DuplicatesReport:
        """Exact copies (the same content, any modality) and near-duplicate photos (cosine
        of their vectors at least ``threshold``, between 0.5 and 1; None: the finder's
        ``DEFAULT_THRESHOLD``, 0.95), in groups; ``kind``: ``all``, ``exact`` or ``near``; at
        most ``limit`` groups of each; only files that ``filters`` let through. Loads no model
        (see :mod:`searchengine.duplicates.finder`)."""
        from searchengine.duplicates.finder import DEFAULT_THRESHOLD, find_duplicates

        return find_duplicates(self.catalog, DEFAULT_THRESHOLD if threshold is None else threshold, kind=kind, limit=limit,
                               filters=filters or SearchFilters(), progress=progress)

    # -- public reads (what the CLI and the HTTP service show) --------------------------

    def item(self, item_id: int) -> UnitRow | None:
        """The indexed unit ``item_id`` with its file, or None."""
        if not 0 < item_id < 2**63:
            return None
        return self.repo.units([item_id]).get(item_id)

    def items(self, item_ids: Sequence[int]) -> dict[int, UnitRow]:
        """The indexed units among ``item_ids`` with their files (date taken, place, camera)."""
        return self.repo.units([i for i in item_ids if 0 < i < 2**63])

    def roots(self) -> list[str]:
        """The folders (and files) indexed, as given."""
        return self.repo.roots()

    def failures(self) -> list[FileRecord]:
        """Files that could not be indexed, with the reason."""
        return self.repo.failures()

    def transcript(self, item_id: int) -> dict | None:
        """The transcript of the recording that item ``item_id`` belongs to (source,
        language, duration, text, segments), or None."""
        row = self.item(item_id)
        if row is None or row.modality not in RECORDINGS:
            return None
        return self.repo.transcript_of_file(row.file_id)

    # -- status ------------------------------------------------------------------------

    def status(self) -> IndexStatus:
        m = self._manifest
        return IndexStatus(
            name=self.name,
            folder=str(self.layout.folder),
            model=self.model,
            precision=self.precision,
            dim=m.dim if m else None,
            metric=m.metric if m else METRIC,
            index_type=self.catalog.kind.describe() if m else "flat (exact)",
            index_policy=self.catalog.policy,
            schema_revision=head_revision(),
            vectors=self.catalog.count() if m else 0,
            size_bytes=self.layout.size_on_disk(),
            roots=self.repo.roots(),
            modalities=self.repo.stats(),
            text_to_read=self._text_to_read(),
            text_reader_pid=text_reader_pid(self.layout.text_reader_pid),
        )

    def _text_to_read(self) -> int | None:
        from searchengine.ocr import reader as ocr_reader

        if self.settings.ocr == "off" or not ocr_reader.available():
            return None
        return self.repo.count_images_without_text(ocr_reader.SOURCE)
