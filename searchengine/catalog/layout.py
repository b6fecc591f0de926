"""Where an index lives: one folder holding its SQLite file, FAISS file and manifest."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from searchengine.errors import InvalidInputError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# what an index folder may hold: its files, SQLite's companions, and the temp files of an
# atomic write or of a database being created (see searchengine.store.database)
_OWN = ("metadata.sqlite", "metadata.sqlite-wal", "metadata.sqlite-shm", "metadata.sqlite-journal",
        "vectors.faiss", "vectors.faiss.stamp.json", "manifest.json", "calibration.npz", "write.lock", "thumbnails",
        "skipped.json", "text-reader.pid", "text-reader.stop", "text-reader.log",
        ".metadata.sqlite.*.creating*", ".*.tmp")


@dataclass(frozen=True)
class IndexLayout:
    folder: Path

    @property
    def database(self) -> Path:
        return self.folder / "metadata.sqlite"

    @property
    def vectors(self) -> Path:
        return self.folder / "vectors.faiss"

    @property
    def skipped(self) -> Path:
        """The last run's skipped entries that a person should hear of, with their reasons."""
        return self.folder / "skipped.json"

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.json"

    @property
    def calibration(self) -> Path:
        """Each kind's score statistics (see :mod:`searchengine.query.calibration`)."""
        return self.folder / "calibration.npz"

    @property
    def write_lock(self) -> Path:
        return self.folder / "write.lock"

    @property
    def text_reader_pid(self) -> Path:
        """Locked (flock) by the background text reader while it runs; holds its pid."""
        return self.folder / "text-reader.pid"

    @property
    def text_reader_stop(self) -> Path:
        """Made by a writer that waits for the write lock the text reader holds: it stops."""
        return self.folder / "text-reader.stop"

    @property
    def text_reader_log(self) -> Path:
        """What the background text reader logs (see :mod:`searchengine.pipeline.text_reader`)."""
        return self.folder / "text-reader.log"

    def exists(self) -> bool:
        return self.database.is_file()

    def foreign_entries(self) -> list[str]:
        """Names in the folder that no index puts there (empty for a new folder, an index,
        or one that another process is creating right now). Use this, not "the folder is
        not empty", to refuse a folder that is not an index."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir()
                      if not any(fnmatch.fnmatchcase(p.name, pattern) for pattern in _OWN))

    def size_on_disk(self) -> int:
        if not self.folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())


def resolve_index(name_or_path: str | Path, index_root: Path) -> IndexLayout:
    """A bare name lives under ``index_root``; anything with a slash is a folder path."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text:
        return IndexLayout(Path(text).expanduser().absolute())
    if not _NAME.match(text):
        raise InvalidInputError(
            f"--index {text!r} is not a valid index name: use letters, digits, '.', '_' and '-' "
            "(or give a folder path)"
        )
    return IndexLayout((index_root / text).absolute())
