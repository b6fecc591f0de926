"""Walking folders: recursive (any depth, no recursion), each real file reported once, and
every entry that is not yielded reported with a reason.

Rules:
- only regular files are yielded; FIFOs, sockets and devices (also behind symlinks) are
  skipped with the reason and never opened;
- the folder is the boundary: a symlink (to a file or a folder) is followed only while its
  real target stays inside the real path of an indexed root (``follow_outside`` allows
  more); loops, dangling links and files reached twice are skipped with the reason;
- empty files (0 bytes) are skipped with the reason "empty" (nothing to index; a file
  emptied since the last run loses its units);
- hidden entries, unknown extensions, sidecar transcripts and the index folder itself are
  skipped (reported too, with their own codes, so that every entry is accounted for).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from searchengine.media.kinds import RECORDINGS, SIDECAR_EXTENSIONS, modality_of
from searchengine.media.regular import Pin, kind_of_mode
from searchengine.media.pathnames import display_path, is_real_under

log = logging.getLogger(__name__)

# Codes of skipped entries. UNAVAILABLE ones may be a passing state (a folder unreadable for
# a moment, a link whose drive is unplugged): items indexed under them should be kept.
HIDDEN = "hidden"
UNSUPPORTED = "unsupported"  # an extension that is not indexed
SIDECAR = "sidecar"  # the transcript of a recording next to it
EXCLUDED = "excluded"  # the index folder itself
SPECIAL = "special"  # FIFO, socket, device
OUTSIDE = "outside"  # a symlink whose target is outside the indexed folders
LOOP = "loop"  # a symlink loop, or a folder reached a second time
DUPLICATE = "duplicate"  # a file reached a second time (hard link, symlink to an indexed file)
DANGLING = "dangling"  # a symlink whose target does not exist
UNREADABLE = "unreadable"  # permission denied, name too long, I/O error
EMPTY = "empty"  # a regular file of 0 bytes: nothing to index
UNAVAILABLE = frozenset({DANGLING, UNREADABLE})
# skipped entries listed one by one with their reason (in the run's summary and `status`);
# the others (hidden, unknown extensions, sidecars, the index folder) are only counted
NOTED = frozenset({SPECIAL, OUTSIDE, LOOP, DUPLICATE, DANGLING, UNREADABLE, EMPTY})


@dataclass(frozen=True)
class FoundFile:
    path: Path  # absolute, as reached (symlinked folders keep their link path)
    modality: str
    size: int
    mtime_ns: int  # for a recording with a sidecar transcript: the later of the two
    sidecar: Path | None = None  # transcript next to a recording (.srt, .vtt, .txt)
    device: int = 0  # st_dev and st_ino of the file itself (its target, for a symlink)
    inode: int = 0
    # real paths of the folders it may be read from (None: anywhere, symlinks followed outside)
    real_roots: frozenset[str] | None = None

    def pins(self) -> dict[str, Pin]:
        """What reading it (and its sidecar) must open: this file, inside the folders."""
        pins = {os.fspath(self.path): Pin(self.device, self.inode, self.real_roots) if self.inode
                else Pin(real_roots=self.real_roots)}
        if self.sidecar is not None:
            pins[os.fspath(self.sidecar)] = Pin(real_roots=self.real_roots)
        return pins


@dataclass(frozen=True)
class SkippedEntry:
    path: Path
    code: str  # one of the codes above
    reason: str  # for people; names the path (escaped for display) and why

    @property
    def unavailable(self) -> bool:
        """Perhaps only for now: keep what was indexed under it."""
        return self.code in UNAVAILABLE


@dataclass
class Discovery:
    found: list[FoundFile] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)


def discover(roots: Iterable[Path], exclude: Iterable[Path] = (), *, follow_outside: bool = False,
             boundary: Iterable[Path] = ()) -> Discovery:
    """Everything :func:`walk_media` finds and skips, as two lists."""
    out = Discovery()
    out.found.extend(walk_media(roots, exclude, follow_outside=follow_outside, boundary=boundary,
                                on_skip=out.skipped.append))
    return out


def walk_media(
    roots: Iterable[Path],
    exclude: Iterable[Path] = (),
    *,
    follow_outside: bool = False,
    boundary: Iterable[Path] = (),
    on_skip: Callable[[SkippedEntry], None] | None = None,
) -> Iterator[FoundFile]:
    """Yield every indexable regular file under ``roots`` (files given directly are yielded
    too); ``on_skip(entry)`` hears of every entry not yielded, with its reason.

    Symlinks are followed only when their real target lies inside the real path of one of
    ``roots`` or of ``boundary`` (other indexed roots), or anywhere with ``follow_outside``."""
    roots = [Path(r).expanduser().absolute() for r in roots]
    walker = _Walker(
        excluded={os.path.realpath(p) for p in exclude},
        real_roots={os.path.realpath(r) for r in [*roots, *(Path(b).expanduser().absolute() for b in boundary)]},
        follow_outside=follow_outside,
        on_skip=on_skip or (lambda entry: None),
    )
    for root in roots:
        yield from walker.root(root)


class _Walker:
    def __init__(self, excluded: set[str], real_roots: set[str], follow_outside: bool,
                 on_skip: Callable[[SkippedEntry], None]):
        self.excluded, self.real_roots, self.follow_outside = excluded, real_roots, follow_outside
        self.pin_roots = None if follow_outside else frozenset(real_roots)
        self._on_skip = on_skip
        self.seen_dirs: set[tuple[int, int]] = set()
        self.seen_files: dict[tuple[int, int], Path] = {}

    def skip(self, path: Path, code: str, why: str) -> None:
        entry = SkippedEntry(path, code, f"{display_path(path)}: {why}")
        if code in (SPECIAL, OUTSIDE, LOOP, DANGLING, UNREADABLE):
            log.warning("skipped %s", entry.reason)
        else:
            log.debug("skipped %s", entry.reason)
        self._on_skip(entry)

    # -- roots ------------------------------------------------------------------------

    def root(self, root: Path) -> Iterator[FoundFile]:
        try:
            st = os.stat(root)
        except OSError as exc:
            self._stat_failed(root, exc)
            return
        if stat.S_ISDIR(st.st_mode):
            yield from self.tree(root, st)
            return
        if not stat.S_ISREG(st.st_mode):
            self.skip(root, SPECIAL, f"{kind_of_mode(st.st_mode)}, not a regular file; not read")
            return
        names: set[str] = set()
        if modality_of(root) in RECORDINGS:  # its transcript may lie beside it
            try:
                names = {e.name for e in os.scandir(root.parent)}
            except OSError:
                pass
        found = self.file(root, st, _sidecars(names).get(root.name))
        if found:
            yield found

    # -- folders, depth first, without recursion -------------------------------------------

    def tree(self, top: Path, top_st: os.stat_result) -> Iterator[FoundFile]:
        stack: list[Iterator[FoundFile | tuple[Path, os.stat_result]]] = []
        opened = self.folder(top, top_st)
        if opened is not None:
            stack.append(opened)
        while stack:
            try:
                item = next(stack[-1])
            except StopIteration:
                stack.pop()
                continue
            if isinstance(item, FoundFile):
                yield item
            else:
                sub = self.folder(*item)
                if sub is not None:
                    stack.append(sub)

    def folder(self, folder: Path, st: os.stat_result) -> Iterator[FoundFile | tuple[Path, os.stat_result]] | None:
        key = (st.st_dev, st.st_ino)
        try:
            real = os.path.realpath(folder)
        except OSError as exc:  # a link in its path swapped while it is read
            self.skip(folder, UNREADABLE, f"cannot resolve the folder: {exc.strerror or exc}")
            return None
        if real in self.excluded:
            self.skip(folder, EXCLUDED, "the index's own folder; not indexed")
            return None
        if key in self.seen_dirs:
            self.skip(folder, LOOP, "a folder already walked (a symlink loop or a second link to it)")
            return None
        self.seen_dirs.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self.skip(folder, UNREADABLE, f"cannot list the folder: {exc.strerror or exc}")
            return None
        return self.entries(folder, entries)

    def entries(self, folder: Path, entries: list[os.DirEntry[str]]) -> Iterator[FoundFile | tuple[Path, os.stat_result]]:
        sidecars = _sidecars({e.name for e in entries})
        owners = {side: rec for rec, side in sidecars.items()}
        for entry in entries:
            path = folder / entry.name
            if entry.name.startswith("."):
                self.skip(path, HIDDEN, "hidden (its name starts with '.'); not indexed")
                continue
            if entry.name in owners:
                self.skip(path, SIDECAR, f"the transcript of {display_path(owners[entry.name])}; indexed with it")
                continue
            st = self.target_stat(path, entry)
            if st is None:
                continue
            if stat.S_ISDIR(st.st_mode):
                yield path, st
            elif stat.S_ISREG(st.st_mode):
                found = self.file(path, st, sidecars.get(entry.name))
                if found:
                    yield found
            else:
                self.skip(path, SPECIAL, f"{kind_of_mode(st.st_mode)}, not a regular file; not read")

    def target_stat(self, path: Path, entry: os.DirEntry[str] | None = None) -> os.stat_result | None:
        """The stat of what ``path`` leads to, or None (reported) when it must not be
        followed: a dangling link, a loop, a target outside the indexed folders."""
        try:
            is_link = entry.is_symlink() if entry is not None else os.path.islink(path)
            if not is_link:
                return entry.stat(follow_symlinks=False) if entry is not None else os.lstat(path)
            st = os.stat(path)
            real = os.path.realpath(path)  # raises too when a link is swapped while it is read
        except OSError as exc:
            self._stat_failed(path, exc)
            return None
        if not self.follow_outside and not is_real_under(real, self.real_roots):
            self.skip(path, OUTSIDE, f"a symlink to {display_path(real)}, outside the indexed folders; "
                                     "not followed")
            return None
        return st

    def _stat_failed(self, path: Path, exc: OSError) -> None:
        if exc.errno == errno.ENOENT and os.path.islink(path):
            self.skip(path, DANGLING, f"a symlink to {display_path(os.readlink(path))}, which does not exist")
        elif exc.errno == errno.ELOOP:
            self.skip(path, LOOP, "a symlink loop")
        else:
            self.skip(path, UNREADABLE, f"cannot read: {exc.strerror or exc}")

    # -- files ------------------------------------------------------------------------------

    def file(self, path: Path, st: os.stat_result, sidecar: str | None) -> FoundFile | None:
        modality = modality_of(path)
        if modality is None:
            self.skip(path, UNSUPPORTED, f"the extension {display_path(path.suffix or '(none)')!s} is not indexed")
            return None
        if st.st_size == 0:
            self.skip(path, EMPTY, "empty (0 bytes); nothing to index")
            return None
        key = (st.st_dev, st.st_ino)
        if key in self.seen_files:
            self.skip(path, DUPLICATE, f"the same file as {display_path(self.seen_files[key])}; indexed once")
            return None
        self.seen_files[key] = path
        mtime_ns, side = st.st_mtime_ns, None
        if sidecar is not None:
            candidate = path.parent / sidecar
            side_st = self.target_stat(candidate)
            if side_st is not None and stat.S_ISREG(side_st.st_mode):
                side, mtime_ns = candidate, max(mtime_ns, side_st.st_mtime_ns)
        return FoundFile(path=path, modality=modality, size=st.st_size, mtime_ns=mtime_ns, sidecar=side,
                         device=st.st_dev, inode=st.st_ino, real_roots=self.pin_roots)


def _sidecars(names: set[str]) -> dict[str, str]:
    """recording name -> its transcript's name, for recordings in one folder."""
    out: dict[str, str] = {}
    lowered = {n.lower(): n for n in names}
    for name in names:
        if modality_of(Path(name)) not in RECORDINGS:
            continue
        stem = name.rsplit(".", 1)[0]
        for ext in SIDECAR_EXTENSIONS:
            match = lowered.get((stem + ext).lower())
            if match:
                out[name] = match
                break
    return out
