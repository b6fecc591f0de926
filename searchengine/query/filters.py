"""What a search is narrowed to: kinds of item, a path glob, a modification-time window.
One value, made once where a request comes in (CLI, HTTP, Python) and handed down to the
searcher, which resolves it in SQL when it is selective."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from searchengine.errors import InvalidInputError
from searchengine.media.kinds import MODALITIES


@dataclass(frozen=True)
class SearchFilters:
    """``modality``: one or several of image, text, audio, video (empty: all). ``path_glob``:
    matched against the full path, or the file name when it has no slash. ``modified_after``
    / ``modified_before``: bounds on the item's date (naive means UTC) - when a photo or
    video was taken where the file says so (EXIF, container), else the file's modification
    time. ``place``: words of the place a photo was taken (any language the names are
    stored in: "Kyoto", "京都", "Japan"), case-insensitive. ``camera``: words of its camera's
    make and model."""

    modality: frozenset[str] = frozenset()
    path_glob: str | None = None
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    place: str | None = None
    camera: str | None = None

    @classmethod
    def of(cls, modality: str | Sequence[str] | None = None, path_glob: str | None = None,
           modified_after: datetime | None = None, modified_before: datetime | None = None,
           place: str | None = None, camera: str | None = None) -> "SearchFilters":
        """Checked construction: unknown modalities are an error naming the choices."""
        values = frozenset() if modality is None else frozenset(
            [modality] if isinstance(modality, str) else modality)
        unknown = values - set(MODALITIES)
        if unknown:
            raise InvalidInputError(
                f"unknown modality {', '.join(sorted(unknown))}; choose from {', '.join(MODALITIES)}"
            )
        if modified_after and modified_before and _ns(modified_after) > _ns(modified_before):  # type: ignore[operator]
            raise InvalidInputError("the date window is empty: --after is later than --before")
        return cls(values, path_glob or None, modified_after, modified_before,
                   (place or "").strip() or None, (camera or "").strip() or None)

    def __bool__(self) -> bool:
        return bool(self.modality or self.path_glob or self.modified_after or self.modified_before
                    or self.place or self.camera)

    @property
    def window_ns(self) -> tuple[int | None, int | None]:
        return _ns(self.modified_after), _ns(self.modified_before)

    def matches(self, path: str, modality: str, mtime_ns: int, *, taken_ns: int | None = None,
                place: str | None = None, camera: str | None = None) -> bool:
        """The exact test, in Python (applied to every hit)."""
        if self.modality and modality not in self.modality:
            return False
        after, before = self.window_ns
        date = taken_ns if taken_ns is not None else mtime_ns
        if (after is not None and date < after) or (before is not None and date > before):
            return False
        if self.place and not _has_words(place, self.place):
            return False
        if self.camera and not _has_words(camera, self.camera):
            return False
        if self.path_glob:
            glob = self.path_glob
            name = path.rsplit("/", 1)[-1]
            if not (fnmatch.fnmatchcase(path, glob) or ("/" not in glob and fnmatch.fnmatchcase(name, glob))):
                return False
        return True

    def sql_conditions(self) -> list[Any]:
        """SQL conditions on ``media_files`` that every match meets (the glob's is a
        superset: the exact test is :meth:`matches`). Uses the indexes on modality and
        modification time, and on path for a glob with a literal prefix."""
        from searchengine.store.models import MediaFile
        from searchengine.store.path_match import PathGlob, PathRange

        from sqlalchemy import and_, func, or_

        out: list[Any] = []
        if self.modality:
            out.append(MediaFile.modality.in_(sorted(self.modality)))
        after, before = self.window_ns
        # the date taken where known, else the mtime: each side on its own index
        if after is not None or before is not None:
            def within(column: Any) -> Any:
                return and_(*([column >= after] if after is not None else []),
                            *([column <= before] if before is not None else []))
            out.append(or_(within(MediaFile.taken_ns),
                           and_(MediaFile.taken_ns.is_(None), within(MediaFile.mtime_ns))))
        for column, words in ((MediaFile.place, self.place), (MediaFile.camera, self.camera)):
            for word in (words or "").split():
                out.append(func.lower(column).contains(word.lower(), autoescape=True))
        if self.path_glob:
            glob = self.path_glob
            if "/" in glob:
                pattern = sqlite_glob(glob)
                prefix = literal_prefix(glob)
                if prefix:  # a range on the path index; GLOB alone may not use it
                    out.append(PathRange(MediaFile.path, prefix))
            else:
                pattern = "*/" + sqlite_glob(glob)
            out.append(PathGlob(MediaFile.path, pattern))
        return out


def _has_words(value: str | None, words: str) -> bool:
    """Every word of ``words`` occurs in ``value`` (case-insensitive substrings: "japan",
    "京都", "canon eos")."""
    if not value:
        return False
    low = value.lower()
    return all(w.lower() in low for w in words.split())


def _ns(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    ns = int(moment.timestamp() * 1_000_000_000)
    return max(-(2**63), min(2**63 - 1, ns))  # dates far out still compare, as SQL integers


def sqlite_glob(glob: str) -> str:
    """An SQLite GLOB pattern matching at least what ``fnmatch`` matches: a character class
    becomes ``?`` (any one character); a ``[`` that opens no class is matched literally."""
    out, i, n = [], 0, len(glob)
    while i < n:
        if glob[i] != "[":
            out.append(glob[i])
            i += 1
            continue
        j = i + 1  # find the class's end the way fnmatch.translate does
        if j < n and glob[j] == "!":
            j += 1
        if j < n and glob[j] == "]":
            j += 1
        while j < n and glob[j] != "]":
            j += 1
        if j >= n:
            out.append("[[]")
            i += 1
        else:
            out.append("?")
            i = j + 1
    return "".join(out)


def literal_prefix(glob: str) -> str:
    """The part of ``glob`` before its first wildcard."""
    cut = min((i for i in (glob.find("*"), glob.find("?"), glob.find("[")) if i >= 0), default=len(glob))
    return glob[:cut]
