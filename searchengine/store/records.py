"""The plain records the store reads and writes: files, units, what a write did, and the
changes since a generation. No SQL here, and no SQLAlchemy (see store.sqlite_reads)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import numpy as np

from searchengine.media.pathnames import display_path
from searchengine.store import keywords

if TYPE_CHECKING:  # no SQLAlchemy at run time: a search imports these records without it
    from searchengine.store.models import MediaFile
    from searchengine.transcribe.segments import Segment

KIND_OF_MODALITY = {"image": "image", "text": "chunk", "audio": "window", "video": "window"}
"""The kind of a file's units when not given (and of every unit before 0006); a video's key
frames are written as "frame", its transcript windows take this default."""

GENERATION_KEY = "generation"
STATS_KEY = "stats"  # counts per modality, with the generation they are of
LOG_FLOOR_KEY = "change_log_floor"  # the change log holds every removal after this generation
SQL_BATCH = 500  # rows per IN (...) list


@dataclass(frozen=True)
class FileRecord:
    id: int
    path: str
    modality: str
    content_hash: str
    size: int
    mtime_ns: int
    status: str
    error: str | None
    device: int | None = None
    inode: int | None = None


@dataclass(frozen=True)
class NewUnit:
    start: float | None
    end: float | None
    text: str | None
    vector: np.ndarray
    kind: str = ""  # one of models.UNIT_KINDS; "" = the file's modality's one kind
    box: tuple[float, float, float, float] | None = None  # text in an image: x0, y0, x1, y1 (fractions)
    page: int | None = None  # a document's page, slide or chapter (1-based)
    scores: np.ndarray | None = None  # a sound event's 521 class scores (revision 0009)

    def kind_in(self, modality: str) -> str:
        return self.kind or KIND_OF_MODALITY.get(modality, "image")

    def box_json(self) -> str | None:
        return None if self.box is None else json.dumps([round(float(v), 4) for v in self.box])

    def scores_bytes(self) -> bytes | None:
        return None if self.scores is None else scores_to_bytes(self.scores)


@dataclass(frozen=True)
class FileFacts:
    """When, where and with what a photo (or video: when) was taken; see revision 0008."""

    taken_ns: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    place: str | None = None
    camera: str | None = None

    def columns(self) -> dict[str, Any]:
        return dict(taken_ns=self.taken_ns, latitude=self.latitude, longitude=self.longitude,
                    place=self.place, camera=self.camera, facts=True)



NO_FACTS: dict[str, Any] = dict(taken_ns=None, latitude=None, longitude=None, place=None, camera=None, facts=False)


@dataclass(frozen=True)
class FileWrite:
    """One file to store: its units, or its failure."""

    path: str
    modality: str
    content_hash: str
    size: int
    mtime_ns: int
    units: Sequence[NewUnit]
    status: str = "indexed"  # or "failed"
    error: str | None = None
    device: int | None = None  # st_dev / st_ino of the file (FoundFile.device / .inode)
    inode: int | None = None
    facts: FileFacts | None = None  # photos and videos: when, where, what camera (None: not read)

    def fact_columns(self) -> dict[str, Any]:
        return self.facts.columns() if self.facts is not None else dict(NO_FACTS)


@dataclass(frozen=True)
class StoredFile:
    """What :meth:`Repository.store_files` did with one :class:`FileWrite`.

    ``error`` is None when the write was stored as given. Otherwise the write could not be
    stored (its SQL was rolled back to a savepoint; the rest of the batch is unaffected) and
    ``error`` says why; ``recorded_failed`` tells whether a "failed" row with that reason
    could be stored in its place (then ``removed`` holds the old unit ids it replaced)."""

    path: str
    removed: list[int]
    new_ids: list[int]
    error: str | None = None
    recorded_failed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class UnitRow:
    id: int
    file_id: int
    path: str
    modality: str
    start: float | None
    end: float | None
    text: str | None
    kind: str = "image"
    box: str | None = None  # JSON [x0, y0, x1, y1] in fractions of the picture
    page: int | None = None  # a document's page, slide or chapter (1-based)
    mtime_ns: int = 0
    size: int = 0
    content_hash: str = ""
    device: int | None = None
    inode: int | None = None
    taken_ns: int | None = None  # the file's date taken (photos, videos), UTC ns
    place: str | None = None
    camera: str | None = None


@dataclass(frozen=True)
class Changes:
    """SQL's changes since a generation (see :meth:`Repository.changes_since`)."""

    generation: int  # the current one
    count: int  # units now
    removed: list[int]  # unit ids removed since
    added: Iterator[tuple[np.ndarray, np.ndarray]]  # (ids, vectors) of the units added since



def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def record(row: MediaFile) -> FileRecord:
    return FileRecord(
        row.id, row.path, row.modality, row.content_hash, row.size, row.mtime_ns, row.status, row.error,
        row.device, row.inode,
    )


def keyword_name(path: str) -> str:
    """A file's name for the keyword index (undecodable bytes escaped, as shown to people)."""
    return display_path(keywords.file_name(path))


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


SCORES_DTYPE = "<f2"  # a sound unit's class scores: probabilities in [0, 1], float16 keeps 3 digits


def scores_to_bytes(scores: np.ndarray) -> bytes:
    return np.asarray(scores, dtype=SCORES_DTYPE).tobytes()


def scores_from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=SCORES_DTYPE).astype(np.float32)


def scores_matrix(rows: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, (n, classes) float32) from rows of (unit id, scores blob); a blob of another
    length than the first (a damaged row) is left out."""
    ids = np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=len(rows))
    if not len(rows):
        return ids, np.zeros((0, 0), dtype=np.float32)
    width = len(rows[0][1])
    keep = np.asarray([len(r[1]) == width for r in rows], dtype=bool)
    blob = b"".join(bytes(r[1]) for r, k in zip(rows, keep) if k)
    return ids[keep], np.frombuffer(blob, dtype=SCORES_DTYPE).reshape(int(keep.sum()), -1).astype(np.float32)


def segments_by_unit(rows: Iterable[tuple[int, int, str]]) -> "dict[int, list[Segment]]":
    """``unit id -> transcript segments`` from rows of (unit id, transcript id, segments as
    JSON) ordered by transcript id: the newest transcript of a recording wins, and each
    transcript is parsed once however many of its units are asked for."""
    from searchengine.transcribe.segments import Segment

    parsed: dict[int, list[Segment]] = {}
    out: dict[int, list[Segment]] = {}
    for unit_id, transcript_id, segments in rows:
        if transcript_id not in parsed:
            parsed[transcript_id] = [Segment(a, b, t) for a, b, t in json.loads(segments)]
        out[unit_id] = parsed[transcript_id]
    return out
