"""Stage 1, plan: walk the roots, stat, hash what changed, and decide for every file what to
do. No model, no decoding: a run where nothing changed ends here. A file now indexed as
another modality than it was (a video, once indexed by its sound alone) is changed."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection, Sequence

from tqdm import tqdm

from searchengine.media.discover import FoundFile, SkippedEntry, walk_media
from searchengine.media.hashing import content_hash
from searchengine.media.pathnames import display_path, is_under
from searchengine.media.regular import pinned
from searchengine.store.repository import FileRecord, Repository

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass
class Work:
    """A file to decode and embed."""

    found: FoundFile
    content_hash: str
    known: FileRecord | None  # its row before this run (a changed file), or None (new)


@dataclass
class Plan:
    found: list[FoundFile] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)
    unchanged: int = 0
    touch: list[tuple[FileRecord, FoundFile]] = field(default_factory=list)  # same content, new stat
    moves: list[tuple[FileRecord, FoundFile]] = field(default_factory=list)  # (vanished row, new place)
    copies: list[tuple[FileRecord, FoundFile]] = field(default_factory=list)  # (indexed source, copy)
    embed: list[Work] = field(default_factory=list)
    unreadable_new: list[tuple[FoundFile, str]] = field(default_factory=list)  # failed rows, retried next run
    kept: list[tuple[str, str]] = field(default_factory=list)  # indexed, unavailable now: kept as is
    deletions: list[FileRecord] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # still being written: left for a later run


def make_plan(repo: Repository, roots: Sequence[Path], *, exclude: Sequence[Path] = (),
              retry_failed: bool = False, follow_outside: bool = False, workers: int = 2, progress: bool = False,
              on_progress: Progress = lambda stage, done, total: None, redo: Collection[str] = (),
              hold: Collection[str] = (), gone: Sequence[Path] = (), settle_s: float = 0.0) -> Plan:
    """What an indexing run does with each file under ``roots``. ``redo``: paths embedded
    again even when unchanged (their units are made differently now). ``hold``: paths of
    files still being written (a watched folder): left as they are this time, neither read
    nor deleted. ``gone``: paths that no longer exist (a watched folder's deleted files and
    folders): not walked, their indexed files are missing. ``settle_s``: files modified less
    than this long ago are held too (``plan.held``)."""
    plan = Plan()
    plan.found = list(walk_media(roots, exclude=exclude, boundary=[Path(r) for r in repo.roots()],
                                 follow_outside=follow_outside, on_skip=plan.skipped.append))
    if hold or settle_s:
        newest = time.time_ns() - int(settle_s * 1e9)
        plan.held = sorted({str(f.path) for f in plan.found if str(f.path) in hold or f.mtime_ns > newest})
        plan.found = [f for f in plan.found if str(f.path) not in plan.held]
    known = repo.files()
    found_paths = {str(f.path) for f in plan.found} | set(hold) | set(plan.held)
    scope = {os.path.normpath(str(r)) for r in [*roots, *gone]}
    missing = {p: rec for p, rec in known.items() if p not in found_paths and under_any(p, scope)}
    _keep_unavailable(plan, missing)

    candidates: list[FoundFile] = []
    for f in plan.found:
        rec = known.get(str(f.path))
        if (rec and rec.size == f.size and rec.mtime_ns == f.mtime_ns and rec.modality == f.modality
                and not (retry_failed and rec.status == "failed") and str(f.path) not in redo):
            plan.unchanged += 1
        else:
            candidates.append(f)

    missing_by_hash: dict[str, FileRecord] = {}
    indexed_by_hash: dict[str, list[FileRecord]] = {}
    for rec in known.values():
        if rec.status == "indexed":
            indexed_by_hash.setdefault(rec.content_hash, []).append(rec)
            if rec.path in missing:
                missing_by_hash.setdefault(rec.content_hash, rec)

    for f, digest in _hash_all(candidates, workers, progress, on_progress):
        path = str(f.path)
        rec = known.get(path)
        if isinstance(digest, OSError):
            reason = f"{display_path(path)}: cannot read: {digest.strerror or digest}"
            if rec is not None and rec.status == "indexed":  # perhaps for a moment: keep, retry
                plan.kept.append((path, reason + "; its indexed version is kept and it is tried again next run"))
            else:
                plan.unreadable_new.append((f, reason))
        elif (rec and rec.content_hash == digest and rec.status == "indexed" and rec.modality == f.modality
              and path not in redo):
            plan.touch.append((rec, f))
            plan.unchanged += 1
        elif digest in missing_by_hash and rec is None and missing_by_hash[digest].modality == f.modality:
            old = missing_by_hash.pop(digest)
            missing.pop(old.path, None)
            plan.moves.append((old, f))
        elif (source := next((r for r in indexed_by_hash.get(digest, []) if r.path != path
                              and r.modality == f.modality), None)) is not None:
            plan.copies.append((source, f))
        else:
            plan.embed.append(Work(f, digest, rec))
    plan.copies, again = order_copies(plan.copies)
    plan.embed += [Work(f, digest, known.get(str(f.path))) for f, digest in again]
    plan.deletions = list(missing.values())
    return plan


def order_copies(copies: list[tuple[FileRecord, FoundFile]]) -> tuple[list[tuple[FileRecord, FoundFile]],
                                                                       list[tuple[FoundFile, str]]]:
    """``copies`` in an order in which none reads a row that an earlier one rewrote, and the
    copies left out to be embedded instead (with their content hash). Copies are written one
    after another, and a copy's source may itself be the target of another copy when files are
    renamed in a chain (a -> b -> c: c must take b's row before b takes a's) or a rotation (a
    and b swapped: no order works, so one of them is embedded again; embedding comes after
    every copy, so its old row is still there to be read)."""
    target_of = {str(f.path): n for n, (_, f) in enumerate(copies)}
    readers: dict[str, int] = {}  # path -> copies still to read that path's row
    for source, _ in copies:
        readers[source.path] = readers.get(source.path, 0) + 1
    waiting = {n: readers.get(str(f.path), 0) for n, (_, f) in enumerate(copies)}
    ready = deque(n for n, count in waiting.items() if count == 0)
    ordered: list[tuple[FileRecord, FoundFile]] = []
    again: list[tuple[FoundFile, str]] = []

    def done_reading(path: str) -> None:  # one reader of ``path``'s row is done (or gone)
        n = target_of.get(path)
        if n is not None and n in waiting:
            waiting[n] -= 1
            if waiting[n] == 0:
                ready.append(n)

    while waiting:
        if not ready:  # only rotations are left: embed one of them again, which frees the rest
            n = min(waiting)
            del waiting[n]
            source, f = copies[n]
            again.append((f, source.content_hash))
            done_reading(source.path)
            continue
        n = ready.popleft()
        if n not in waiting:
            continue
        del waiting[n]
        source, f = copies[n]
        ordered.append((source, f))
        done_reading(source.path)
    return ordered, again


def under_any(path: str, folders: set[str]) -> bool:
    """``path`` is one of ``folders`` (normalised) or inside one: a look-up per ancestor,
    so that thousands of watched paths cost no more than a few."""
    path = os.path.normpath(path)
    while True:
        if path in folders:
            return True
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


def _keep_unavailable(plan: Plan, missing: dict[str, FileRecord]) -> None:
    """Indexed files that are only unavailable are kept, not deleted: under an unreadable
    folder or a dangling folder link (perhaps a drive unplugged for a moment), or on a
    filesystem that is no longer mounted (its folder holds no files now, and the nearest
    folder that still exists is on another device than the file was)."""
    unavailable = [str(s.path) for s in plan.skipped if s.unavailable]
    device_of: dict[str, int | None] = {}
    holding = {os.path.dirname(str(f.path)) for f in plan.found}  # folders that still have files
    for path, rec in list(missing.items()):
        under = next((u for u in unavailable if is_under(path, u)), None)
        if under is not None:
            why = f"{display_path(path)}: {display_path(under)} cannot be read now; its items are kept"
        elif (rec.device and os.path.dirname(path) not in holding
              and _device_of_nearest_folder(path, device_of) not in (None, rec.device)):
            why = f"{display_path(path)}: its drive is not mounted (the folder is on another device now); kept"
        else:
            continue
        del missing[path]
        plan.kept.append((path, why))


def _device_of_nearest_folder(path: str, cache: dict[str, int | None]) -> int | None:
    folder = os.path.dirname(path)
    chain = []
    while folder not in cache:
        chain.append(folder)
        try:
            cache[folder] = os.stat(folder).st_dev
        except OSError:
            parent = os.path.dirname(folder)
            if parent == folder:
                cache[folder] = None
            else:
                folder = parent
                continue
        break
    device = cache[folder]
    for f in chain:
        cache[f] = device
    return device


def _hash_all(files: list[FoundFile], workers: int, progress: bool,
              on_progress: Progress) -> list[tuple[FoundFile, str | OSError]]:
    if not files:
        return []
    out: list[tuple[FoundFile, str | OSError]] = []
    with ThreadPoolExecutor(workers) as pool, tqdm(
        total=len(files), desc="hashing", unit="file", disable=not progress, leave=False
    ) as bar:
        for n, (f, digest) in enumerate(zip(files, pool.map(_safe_hash, files)), 1):
            bar.update(1)
            on_progress("hashing", n, len(files))
            out.append((f, digest))
    return out


def _safe_hash(f: FoundFile) -> str | OSError:
    try:
        with pinned(f.pins()):  # the file the walk found, inside the folders, or nothing
            return content_hash(f.path, f.sidecar)
    except OSError as exc:
        return exc
