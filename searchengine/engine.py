"""SearchEngine: opens an index folder and wires the parts together; the Python API."""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np
from PIL import Image

from searchengine.config import Settings
from searchengine.encoders.base import Encoder, encode_images
from searchengine.encoders.registry import AUTO, load_encoder, parse_spec, resolve_auto
from searchengine.encoders.torch_device import resolve_device
from searchengine.errors import (
    IndexBusyError,
    IndexDamagedError,
    IndexIncompatibleError,
    IndexUnavailableError,
    InvalidInputError,
)
from searchengine.hits import Hit
from searchengine.layout import IndexLayout, resolve_index
from searchengine.manifest import Manifest
from searchengine.media.images import load_query_image
from searchengine.media.kinds import modality_of
from searchengine.searcher import Searcher
from searchengine.store.database import head_revision, open_database
from searchengine.store.repository import Repository
from searchengine.transcribe.moment import best_moment
from searchengine.transcribe.whisper import WhisperTranscriber, check_asr_model

if TYPE_CHECKING:
    from searchengine.pipeline import IndexReport

from searchengine.vectors.faiss_index import (
    INDEX_TYPE,
    METRIC,
    VectorIndex,
    load_vector_index,
    save_vector_bytes,
    save_vector_index,
)

log = logging.getLogger(__name__)

SYNC_INTERVAL_S = 1.0


@dataclass(frozen=True)
class IndexStatus:
    name: str
    folder: str
    model: str | None
    precision: str
    dim: int | None
    metric: str
    index_type: str
    schema_revision: str
    vectors: int
    size_bytes: int
    roots: list[str]
    modalities: dict[str, dict[str, int]] = field(default_factory=dict)


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
        self.repo = repo
        self._encoder = encoder
        self._vectors: VectorIndex | None = None
        self._transcriber: WhisperTranscriber | None = None
        self._lock = threading.RLock()
        self._load_lock = threading.Lock()  # lazy loading of the model and speech recognition
        self._last_sync = 0.0
        self._saved_generation: int | None = None

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
    ) -> "SearchEngine":
        """Open the index ``name`` (a name under the index root, or a folder path).

        ``model`` defaults to the index's own model, or ``settings.model`` for a new index;
        naming another model than the index was built with is an error. ``encoder`` injects
        an already loaded encoder (its ``spec`` must match).
        """
        settings = settings or Settings.from_env()
        layout = resolve_index(name, settings.index_root)
        if not layout.exists():
            if not create:
                raise IndexUnavailableError(
                    f"no index at {layout.folder}; build one with "
                    f"`searchengine index --index {name} FOLDER...`"
                )
            if layout.folder.is_dir() and layout.foreign_entries():
                raise IndexUnavailableError(
                    f"{layout.folder} exists and is not a searchengine index; give a new or "
                    "empty folder (or a name) for --index"
                )
            try:
                layout.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise IndexUnavailableError(f"cannot create the index folder {layout.folder}: {exc}") from exc
        manifest = Manifest.load(layout.manifest)
        repo = Repository(open_database(layout.database))
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
        return cls(layout, settings, chosen, manifest, repo, encoder)

    def close(self) -> None:
        self.repo.engine.dispose()

    def __enter__(self) -> "SearchEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self.layout.folder.name

    @property
    def encoder(self) -> Encoder:
        """The model, loaded on first use and kept for the life of the engine."""
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
            self._manifest = Manifest(
                model=self.model, dim=self._encoder.dim, metric=METRIC,
                index_type=INDEX_TYPE, schema_revision=head_revision(), precision=self._encoder.precision,
            )
            self._manifest.save(self.layout.manifest)
        elif self._manifest.dim != self._encoder.dim:
            raise IndexIncompatibleError(
                f"model {self.model} gives {self._encoder.dim}-d vectors but the index at "
                f"{self.layout.folder} holds {self._manifest.dim}-d vectors"
            )
        return self._encoder

    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index; rebuilt from SQL on open when the saved file is stale."""
        with self._lock:
            if self._vectors is None:
                dim = self._manifest.dim if self._manifest else self.encoder.dim  # no model load when known
                generation, count = self.repo.generation(), self.repo.unit_count()
                index = load_vector_index(self.layout.vectors, dim, generation, count)
                if index is None:
                    index = self._rebuild_vectors(dim, generation)
                else:
                    self._saved_generation = generation
                index.generation = generation
                self._vectors = index
                self._last_sync = time.monotonic()
            return self._vectors

    def _rebuild_vectors(self, dim: int, generation: int) -> VectorIndex:
        index = VectorIndex(dim)
        for ids, vecs in self.repo.iter_vectors(dim):
            index.add(ids, vecs)
        if index.ntotal:
            log.warning("rebuilt the vector index of %s from SQL (%d vectors)", self.layout.folder, index.ntotal)
        try:
            with self._write_lock():
                if self.repo.generation() == generation:  # nobody wrote while we read
                    save_vector_index(index, self.layout.vectors, generation)
                    self._saved_generation = generation
        except IndexBusyError:
            pass  # the writer will save it
        return index

    def _sync_vectors(self, force: bool = False) -> None:
        """Reload the FAISS index when another writer (a process, or another engine on the
        same folder) changed SQL since it was loaded. Checked at most once a second for
        searches, always before indexing."""
        with self._lock:
            if self._vectors is None:
                return
            if not force and time.monotonic() - self._last_sync < SYNC_INTERVAL_S:
                return
            self._last_sync = time.monotonic()
            if self.repo.generation() != self._vectors.generation:
                log.info("the index changed on disk; reloading its vectors")
                self._vectors = None

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        handle = open(self.layout.write_lock, "a+")
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusyError(
                    f"another process is indexing {self.layout.folder}; wait for it to finish"
                ) from None
            yield
        finally:
            handle.close()

    # -- indexing ----------------------------------------------------------------------

    def index(self, paths: Sequence[str | Path] | None = None, *, progress: bool = False,
              on_progress: Callable[[str, int, int], None] | None = None,
              retry_failed: bool = False) -> "IndexReport":
        """Index ``paths`` (files or folders, recursively); with none, re-index the folders
        indexed before (a folder that is gone is skipped and kept: an unplugged drive must
        not empty the index; :meth:`forget` removes one). Unchanged files are skipped, moved
        ones keep their vectors, deleted ones are removed; files that failed are tried again
        when they change, or with ``retry_failed``. ``progress`` draws terminal bars;
        ``on_progress(stage, done, total)`` reports advancement to a caller."""
        check_asr_model(self.settings.asr_model)
        missing_roots: list[str] = []
        if paths:
            roots = [Path(p).expanduser().absolute() for p in paths]
            for root in roots:
                if not root.exists():
                    raise InvalidInputError(f"{root} does not exist")
                if not root.is_dir() and (not root.is_file() or modality_of(root) is None):
                    raise InvalidInputError(
                        f"{root} is not a folder or a file searchengine indexes (images, .txt/.md, "
                        "audio and video)"
                    )
        else:
            roots = [Path(p) for p in self.repo.roots() if Path(p).exists()]
            missing_roots = [p for p in self.repo.roots() if not Path(p).exists()]
            for gone in missing_roots:
                log.warning("indexed folder %s is missing; its items are kept (`searchengine forget` removes them)", gone)
            if not roots and not missing_roots:
                raise InvalidInputError("nothing to index: give at least one folder or file")
        with self._write_lock():
            self._sync_vectors(force=True)
            from searchengine.pipeline import IndexRun

            run = IndexRun(
                self.repo, lambda: self.vectors, lambda: self.encoder, self.settings, self._save_vectors,
                exclude=[self.layout.folder], transcriber=self._get_transcriber, lock=self._lock,
            )
            report = run.run(roots, progress=progress, on_progress=on_progress, retry_failed=retry_failed)
            report.missing_roots = missing_roots
            return report

    def forget(self, path: str | Path) -> int:
        """Remove an indexed folder (or file) and everything under it from the index, whether
        or not it still exists on disk. Returns the number of files removed."""
        target = str(Path(path).expanduser().absolute())
        with self._write_lock():
            self._sync_vectors(force=True)
            with self._lock:
                removed_roots, removed_files, removed_units = self.repo.forget(target)
                if not removed_roots and not removed_files:
                    raise InvalidInputError(f"nothing is indexed under {target}")
                self.vectors.remove(removed_units)
                self.vectors.generation = self.repo.generation()
                self._save_vectors()
        return removed_files

    def _get_transcriber(self) -> WhisperTranscriber:
        """Speech recognition, loaded once, when the first recording needs it (decode
        threads may ask at the same moment)."""
        with self._load_lock:
            if self._transcriber is None:
                self._transcriber = WhisperTranscriber(
                    self.settings.asr_model, self.settings.cache_dir, self.settings.device, self.settings.language
                )
            return self._transcriber

    def _save_vectors(self) -> None:
        """Save the FAISS index when it changed since the last save. The lock is held only
        to snapshot it, so searches do not wait for the disk."""
        with self._lock:
            if self._vectors is None:  # never loaded, so never changed
                return
            index = self._vectors
            if index.generation == self._saved_generation and self.layout.vectors.is_file():
                return
            data, generation, ntotal = index.to_bytes(), index.generation, index.ntotal
        save_vector_bytes(self.layout.vectors, data, generation, ntotal)
        self._saved_generation = generation

    # -- searching ---------------------------------------------------------------------

    def search(
        self,
        text: str | None = None,
        *,
        image: str | Path | Image.Image | None = None,
        similar_to: int | None = None,
        k: int = 10,
        offset: int = 0,
        modality: str | Sequence[str] | None = None,
        path_glob: str | None = None,
        modified_after: datetime | None = None,
        modified_before: datetime | None = None,
    ) -> list[Hit]:
        """Search by exactly one of: ``text``, ``image`` (a path or a PIL image), or
        ``similar_to`` (the id of an indexed unit: "more like this"). Filters: ``modality``
        (one or several of image, text, audio), ``path_glob`` (matched against the full path,
        or the file name when it has no slash), and the file's modification time."""
        given = [x is not None for x in (text, image, similar_to)]
        if sum(given) != 1:
            raise InvalidInputError("give exactly one query: text, an image, or the id of an indexed item")
        exclude: list[int] = []
        if text is not None:
            if not text.strip():
                raise InvalidInputError("the query text is empty")
            query = self.encoder.encode_texts([text.strip()])[0]
        elif image is not None:
            img = image if isinstance(image, Image.Image) else load_query_image(Path(image))
            query = encode_images(self.encoder, [img.convert("RGB")])[0]
        else:
            assert similar_to is not None
            if not 0 < similar_to < 2**63:
                raise InvalidInputError(f"no indexed item has id {similar_to}")
            found = self.repo.vectors_of([similar_to], self.vectors.dim)
            if similar_to not in found:
                raise InvalidInputError(f"no indexed item has id {similar_to}")
            query, exclude = found[similar_to], [similar_to]
        hits = self.search_vector(query, k=k, offset=offset, modality=modality, path_glob=path_glob,
                                  exclude_ids=exclude, modified_after=modified_after,
                                  modified_before=modified_before)
        return self._with_moments(hits, text) if text is not None else hits

    def _with_moments(self, hits: list[Hit], text: str) -> list[Hit]:
        """Audio hits of a text query: where in the window the query's words are spoken."""
        audio = [h.id for h in hits if h.modality == "audio" and h.start is not None and h.end is not None]
        if not audio:
            return hits
        segments = self.repo.segments_of_units(audio)
        out = []
        for hit in hits:
            if hit.id in segments and hit.start is not None and hit.end is not None:
                hit = replace(hit, moment=best_moment(text, segments[hit.id], hit.start, hit.end))
            out.append(hit)
        return out

    def search_vector(self, query: np.ndarray, *, k: int = 10, offset: int = 0,
                      modality: str | Sequence[str] | None = None, path_glob: str | None = None,
                      exclude_ids: Sequence[int] = (), modified_after: datetime | None = None,
                      modified_before: datetime | None = None) -> list[Hit]:
        """Search with a ready query vector (L2-normalised, in this index's space)."""
        self._sync_vectors()
        with self._lock:
            return Searcher(self.repo, self.vectors).search(
                np.asarray(query, dtype=np.float32), k, offset=offset, modality=modality,
                path_glob=path_glob, exclude_ids=exclude_ids, modified_after=modified_after,
                modified_before=modified_before,
            )

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
            index_type=m.index_type if m else INDEX_TYPE,
            schema_revision=head_revision(),
            vectors=(self._vectors.ntotal if self._vectors is not None else self.repo.unit_count()) if m else 0,
            size_bytes=self.layout.size_on_disk(),
            roots=self.repo.roots(),
            modalities=self.repo.stats(),
        )
