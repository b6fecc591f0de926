"""Opening only regular files, and only the file that was meant: a FIFO, socket or device
(also behind a symlink) is refused before anything could block on it, and a file swapped
for a symlink (or for another file) between the walk and the read is refused too. Every
reader of media goes through :func:`open_regular`.

What was opened is checked on the descriptor (``fstat``), never again by name: its type,
and, while a :class:`Pin` is in force for that path (:func:`pinned`; the indexer pins every
file it walked, the server every file it serves), its device and inode as the walk saw
them and its real path (read back from the descriptor) inside the allowed folders. Reads
stop at the size seen at open, so a growing file or a ``/proc`` file that reports 0 bytes
and never ends cannot hold a reader for ever."""

from __future__ import annotations

import contextlib
import io
import os
import stat
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from searchengine.errors import NotRegularFileError
from searchengine.media.pathnames import display_path, is_real_under

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class FileSwappedError(NotRegularFileError):
    """The path now leads to another file than the one walked (or outside the folders)."""


@dataclass(frozen=True)
class Pin:
    """What opening one path must give: that file (``device``/``inode``, None: any regular
    file), with its real path under one of ``real_roots`` (None: anywhere)."""

    device: int | None = None
    inode: int | None = None
    real_roots: frozenset[str] | None = None


_PINS: ContextVar[dict[str, Pin] | None] = ContextVar("searchengine_pins", default=None)


@contextlib.contextmanager
def pinned(pins: dict[str, Pin]) -> Iterator[None]:
    """While in the block (in this thread or task), :func:`open_regular` of any of these
    paths checks what it opened against its pin."""
    current = _PINS.get() or {}
    token = _PINS.set({**current, **{os.fspath(p): pin for p, pin in pins.items()}})
    try:
        yield
    finally:
        _PINS.reset(token)


def kind_of_mode(mode: int) -> str:
    """A word for what a non-regular file is, for skip and failure reasons."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def descriptor_path(fd: int) -> str | None:
    """The real path of what ``fd`` is open on (Linux: ``/proc/self/fd``), or None where
    the system cannot say (the device and inode check still holds there)."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return None if target.endswith(" (deleted)") or not target.startswith("/") else target


def check_opened(fd: int, path: str | os.PathLike[str], pin: Pin | None) -> os.stat_result:
    """``fstat`` of ``fd``, refusing anything but a regular file, and (with ``pin``) any
    other file than the pinned one or one outside its folders."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFileError(
            f"{display_path(path)}: {kind_of_mode(st.st_mode)}, not a regular file; not read"
        )
    if pin is None:
        return st
    if pin.inode is not None and (st.st_dev, st.st_ino) != (pin.device, pin.inode):
        raise FileSwappedError(
            f"{display_path(path)}: now another file than the one found (replaced or swapped for a "
            "link while being read); not read"
        )
    if pin.real_roots is not None:
        real = descriptor_path(fd)
        if real is not None and not is_real_under(real, pin.real_roots):
            raise FileSwappedError(
                f"{display_path(path)}: now leads outside the indexed folders (a link swapped in?); not read"
            )
    return st


class SizedFile(io.RawIOBase):
    """A read-only, seekable view of ``fd`` that ends at ``size`` (the size at open)."""

    def __init__(self, fd: int, size: int, name: str):
        super().__init__()
        self._fd, self._size, self._pos, self.name = fd, size, 0, name

    @property
    def size(self) -> int:
        return self._size

    def fileno(self) -> int:
        return self._fd

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._pos)
        n = len(data)
        memoryview(buffer)[:n] = data
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()


def open_fd(path: str | os.PathLike[str], *, nofollow: bool = False) -> tuple[int, os.stat_result]:
    """Open ``path`` (no blocking on a FIFO; ``nofollow``: not through a symlink as its last
    component) and check it against its pin; the caller closes the descriptor."""
    fd = os.open(path, _FLAGS | (getattr(os, "O_NOFOLLOW", 0) if nofollow else 0))
    try:
        st = check_opened(fd, path, (_PINS.get() or {}).get(os.fspath(path)))
        os.set_blocking(fd, True)
        return fd, st
    except BaseException:
        os.close(fd)
        raise


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for binary reading only if it is a regular file (symlinks followed),
    and, while it is pinned, only if it is the pinned file. The open itself is non-blocking
    (``O_NONBLOCK``: opening a FIFO with no writer would wait for ever) and everything is
    checked on the open descriptor; reads end at the size seen at open. Raises
    :class:`NotRegularFileError` (:class:`FileSwappedError`) or ``OSError``."""
    fd, st = open_fd(path)
    try:
        raw = SizedFile(fd, st.st_size, os.fspath(path))
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(raw)  # type: ignore[return-value]


def check_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """``os.stat`` of ``path`` (symlinks followed), refusing anything but a regular file."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFileError(
            f"{display_path(path)}: {kind_of_mode(st.st_mode)}, not a regular file; not read"
        )
    return st


def read_bounded(path: str | os.PathLike[str] | Path, limit: int) -> bytes:
    """The bytes of a regular file, refusing (``MediaTooLargeError``) more than ``limit``."""
    from searchengine.errors import MediaTooLargeError

    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise MediaTooLargeError(
            f"{display_path(path)}: larger than the limit of {limit:,} bytes for this kind of "
            "file; not indexed (split it, or raise the limit)"
        )
    return data
