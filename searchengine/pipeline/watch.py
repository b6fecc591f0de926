"""Watching the indexed folders: file system events (watchfiles, MIT: inotify on Linux,
FSEvents on macOS, ReadDirectoryChangesW on Windows) gathered into batches with a short
debounce, each batch one run of the same incremental plan as ``searchengine index``
(:meth:`searchengine.engine.SearchEngine.refresh`), over the changed paths alone: a file
added to a folder of 10,000 costs a stat and a hash of that file, not a walk of the folder.

- a burst (a copy of 10,000 files) becomes a few batches: a batch closes after ``STEP_MS``
  without a new event, or ``DEBOUNCE_MS`` after its first;
- moves keep their vectors (a rename's two events land in one batch); deletions are removed;
  a watched folder that vanishes (an unplugged drive) keeps its items, and is caught up when
  it comes back;
- a file changed less than ``SETTLE_S`` ago is still being written: it is held (neither read
  nor deleted) and tried again a moment later;
- searches go on while a batch is written (the catalog's readers-writer lock); another
  process writing the index (``searchengine index``) makes a batch wait and retry;
- idle, the watcher waits on the operating system's events; it wakes once a second only to
  see whether a vanished folder is back.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from searchengine.errors import IndexBusyError, InvalidInputError, SearchEngineError
from searchengine.media.kinds import AUDIO_EXTENSIONS, SIDECAR_EXTENSIONS, VIDEO_EXTENSIONS, modality_of
from searchengine.media.pathnames import display_path, is_under
from searchengine.pipeline.plan import under_any

if TYPE_CHECKING:
    from searchengine.engine import SearchEngine
    from searchengine.pipeline.report import IndexReport

log = logging.getLogger(__name__)

RECORDING_EXTENSIONS = [e for x in sorted(AUDIO_EXTENSIONS | VIDEO_EXTENSIONS) for e in (x, x.upper())]

DEBOUNCE_MS = 1000  # the longest a burst of events is gathered before it is indexed
STEP_MS = 100  # this long without a new event closes a batch
SETTLE_S = 1.0  # a file modified more recently than this is still being written: held
TICK_MS = 1000  # idle wake-up: held files are retried, vanished folders looked for


def targets_of(changed: Iterable[str | Path], roots: Sequence[str],
               exclude: Path | None = None) -> tuple[list[Path], list[Path]]:
    """What to plan over for ``changed`` paths: (paths to walk, paths gone). A changed file
    or folder that exists is walked (a transcript beside a recording brings the recording);
    one that no longer exists is gone (its indexed files, or those under it, are missing).
    Only paths inside an indexed root count, and not when the root itself is gone (its
    items are kept until forgotten); hidden paths and the index folder are left out; paths
    inside another target are folded into it."""
    walk: set[str] = set()
    gone: set[str] = set()
    for raw in changed:
        path = os.path.abspath(os.fspath(raw))
        if exclude is not None and is_under(path, str(exclude)):
            continue
        root = max((r for r in roots if is_under(path, r)), key=len, default=None)
        if root is None or not os.path.exists(root):
            continue
        rel = os.path.relpath(path, root)
        if rel != "." and any(part.startswith(".") for part in rel.split(os.sep)):
            continue
        stem, ext = os.path.splitext(path)
        if ext.lower() in SIDECAR_EXTENSIONS:  # a recording's transcript: that recording
            owners = [stem + e for e in RECORDING_EXTENSIONS if os.path.exists(stem + e)]
            if owners:
                walk.update(owners)
                continue
        (walk if os.path.lexists(path) else gone).add(path)
    every = walk | gone
    outer = {p for p in every if not under_any(os.path.dirname(p), every)}
    return [Path(p) for p in sorted(outer) if p in walk], [Path(p) for p in sorted(outer) if p in gone]


def still_written(paths: Iterable[str], settle_s: float = SETTLE_S, now: float | None = None) -> set[str]:
    """The regular files among ``paths`` modified less than ``settle_s`` seconds ago."""
    now = time.time() if now is None else now
    held = set()
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and now - st.st_mtime < settle_s:
            held.add(p)
    return held


@dataclass
class WatchBatch:
    """One batch the watcher indexed: the changed paths it saw, those held back, the run."""

    paths: int
    held: int
    seconds: float
    report: "IndexReport"
    finished_at: float = field(default_factory=time.time)


class FolderWatcher:
    """Keeps ``engine``'s index current with ``folders`` (default: the folders it indexes).

    :meth:`run` blocks until ``stop`` is set (or Ctrl-C); :meth:`start` runs it in a
    daemon thread. Both begin by catching up with what changed while nothing watched.
    ``on_batch`` hears of the catch-up and of every batch written."""

    def __init__(self, engine: "SearchEngine", folders: Sequence[str | Path] | None = None, *,
                 debounce_ms: int = DEBOUNCE_MS, step_ms: int = STEP_MS, settle_s: float = SETTLE_S,
                 on_batch: Callable[[WatchBatch], None] | None = None):
        self.engine = engine
        self.folders = [str(Path(f).expanduser().absolute()) for f in folders or ()]
        for f in self.folders:
            if not os.path.exists(f):
                raise InvalidInputError(f"{f} does not exist; give folders to watch that exist")
        self.debounce_ms, self.step_ms, self.settle_s = debounce_ms, step_ms, settle_s
        self.on_batch = on_batch or (lambda batch: None)
        self.stop_event = threading.Event()
        self.batches = 0
        self.caught_up = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: dict[str, None] = {}  # paths to index, in order seen

    # -- what is watched ------------------------------------------------------------------

    def roots(self) -> list[str]:
        """The folders watched: those given, else every folder the index holds."""
        return self.folders or list(self.engine.roots())

    def _watchable(self) -> list[str]:
        return [r for r in self.roots() if os.path.exists(r)]

    def _wanted(self, path: str) -> bool:
        """An event worth a plan: a file of a kind indexed (or a transcript beside one), a
        folder, or a path gone (a deleted file or folder); not the index's own files."""
        if is_under(path, str(self.engine.layout.folder)):
            return False
        p = Path(path)
        if modality_of(p) is not None or p.suffix.lower() in SIDECAR_EXTENSIONS:
            return True
        try:
            return not stat.S_ISREG(os.stat(path).st_mode)
        except OSError:
            return True

    # -- running ----------------------------------------------------------------------------

    def catch_up(self) -> "IndexReport":
        """Index what changed while nothing watched (the same run as ``searchengine index``)."""
        t0 = time.perf_counter()
        report = self.engine.index(self.folders or None, read_text="now")
        self.caught_up.set()
        self.on_batch(WatchBatch(0, 0, time.perf_counter() - t0, report))
        log.info("caught up: %d new, %d changed, %d moved, %d deleted", report.added, report.updated,
                 report.moved, report.deleted)
        return report

    def start(self) -> threading.Thread:
        """Catch up and watch in a daemon thread (stop it with :meth:`stop`)."""
        self._thread = threading.Thread(target=self._run_logged, name="searchengine-watch", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 5.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run_logged(self) -> None:
        try:
            self.run()
        except Exception:  # a background thread: say why it ended
            log.exception("the folder watcher stopped")

    def run(self) -> None:
        """Watch, catch up, then index each batch of events until :attr:`stop_event` is set.
        The catch-up runs at the watch's first wake-up (a tick after it is in place), so
        that nothing changed in between is missed."""
        import watchfiles

        behind = True
        while not self.stop_event.is_set():
            watched = self._watchable()
            missing = [r for r in self.roots() if r not in watched]
            if not watched:  # every folder gone: wait for one to come back
                if self.stop_event.wait(TICK_MS / 1000):
                    return
                self._pending.update((r, None) for r in self._watchable())
                continue
            log.info("watching %s", ", ".join(display_path(w) for w in watched))
            for changes in watchfiles.watch(
                *watched, watch_filter=lambda change, path: self._wanted(path), debounce=self.debounce_ms,
                step=self.step_ms, stop_event=self.stop_event, rust_timeout=TICK_MS,
                yield_on_timeout=True, ignore_permission_denied=True,
            ):
                if behind:
                    behind = not self._catch_up_or_wait()
                self._pending.update((path, None) for _, path in changes)
                if self._pending and not behind:
                    self._flush()
                back = [r for r in missing if os.path.exists(r)]
                gone = [r for r in watched if not os.path.exists(r)]
                if back or gone:  # watch the new set of folders; catch up on those back
                    for r in back:
                        log.info("%s is back; catching up", display_path(r))
                    self._pending.update((r, None) for r in back)
                    break

    def _catch_up_or_wait(self) -> bool:
        try:
            self.catch_up()
            return True
        except IndexBusyError as exc:
            log.warning("%s; catching up again in a moment", exc)
            self.stop_event.wait(TICK_MS / 1000)
            return False

    def _flush(self) -> None:
        paths = list(self._pending)
        held = still_written(paths, self.settle_s)
        t0 = time.perf_counter()
        try:
            report = self.engine.refresh(paths, hold=held, settle_s=self.settle_s)
        except IndexBusyError as exc:  # another process is writing the index: try again later
            log.info("%s; the watcher tries again in a moment", exc)
            return
        except SearchEngineError as exc:
            log.error("indexing %d changed paths failed: %s", len(paths), exc)
            self._pending = {}
            return
        held |= set(report.held)  # found in a changed folder while still being written
        self._pending = dict.fromkeys(sorted(held))
        self.batches += 1
        batch = WatchBatch(len(paths), len(held), time.perf_counter() - t0, report)
        if report.added or report.updated or report.moved or report.deleted or report.reused or report.failed:
            log.info("watch: %d new, %d changed, %d moved, %d deleted, %d failed in %.2fs (%d held)",
                     report.added, report.updated, report.moved, report.deleted, report.failed,
                     batch.seconds, batch.held)
        self.on_batch(batch)

