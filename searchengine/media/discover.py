"""Walking folders: recursive, hidden folders and excluded folders skipped, symlink loops
survived, each real file reported once."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from searchengine.media.kinds import SIDECAR_EXTENSIONS, modality_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoundFile:
    path: Path  # absolute, as reached (symlinked folders keep their link path)
    modality: str
    size: int
    mtime_ns: int  # for a recording with a sidecar transcript: the later of the two
    sidecar: Path | None = None  # transcript next to a recording (.srt, .vtt, .txt)


def walk_media(roots: Iterable[Path], exclude: Iterable[Path] = ()) -> Iterator[FoundFile]:
    """Yield every indexable file under ``roots`` (files given directly are yielded too)."""
    excluded = {_real(p) for p in exclude}
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    for root in roots:
        root = Path(root).expanduser().absolute()
        if root.is_file():
            sidecar = _sidecars({p.name for p in root.parent.iterdir()}).get(root.name)
            found = _found(root, seen_files, sidecar)
            if found:
                yield found
            continue
        yield from _walk_dir(root, excluded, seen_dirs, seen_files)


def _walk_dir(
    folder: Path,
    excluded: set[str],
    seen_dirs: set[tuple[int, int]],
    seen_files: set[tuple[int, int]],
) -> Iterator[FoundFile]:
    try:
        st = folder.stat()
    except OSError as exc:
        log.warning("cannot read folder %s: %s", folder, exc)
        return
    key = (st.st_dev, st.st_ino)
    if key in seen_dirs or _real(folder) in excluded:
        return  # a symlink loop, a folder reached twice, or the index folder itself
    seen_dirs.add(key)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        log.warning("cannot list folder %s: %s", folder, exc)
        return
    names = {e.name for e in entries}
    sidecars = _sidecars(names)
    for entry in entries:
        if entry.name.startswith(".") or entry.name in sidecars.values():
            continue
        path = folder / entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            continue
        if is_dir:
            yield from _walk_dir(path, excluded, seen_dirs, seen_files)
        else:
            found = _found(path, seen_files, sidecars.get(entry.name))
            if found:
                yield found


def _sidecars(names: set[str]) -> dict[str, str]:
    """recording name -> its transcript's name, for recordings in one folder."""
    out: dict[str, str] = {}
    lowered = {n.lower(): n for n in names}
    for name in names:
        if modality_of(Path(name)) != "audio":
            continue
        stem = name.rsplit(".", 1)[0]
        for ext in SIDECAR_EXTENSIONS:
            match = lowered.get((stem + ext).lower())
            if match:
                out[name] = match
                break
    return out


def _found(path: Path, seen_files: set[tuple[int, int]], sidecar: str | None = None) -> FoundFile | None:
    modality = modality_of(path)
    if modality is None:
        return None
    try:
        st = path.stat()
    except OSError as exc:  # dangling symlink, permissions
        log.warning("cannot stat %s: %s", path, exc)
        return None
    key = (st.st_dev, st.st_ino)
    if key in seen_files:
        return None
    seen_files.add(key)
    mtime_ns, side = st.st_mtime_ns, None
    if sidecar is not None:
        side = path.parent / sidecar
        try:
            mtime_ns = max(mtime_ns, side.stat().st_mtime_ns)
        except OSError:
            side = None
    return FoundFile(path=path, modality=modality, size=st.st_size, mtime_ns=mtime_ns, sidecar=side)


def _real(path: Path) -> str:
    return os.path.realpath(path)
