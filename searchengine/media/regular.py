"""Opening only regular files: a FIFO, socket or device (also behind a symlink) is refused
before anything could block on it. Every reader of media goes through :func:`open_regular`."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from searchengine.errors import NotRegularFileError
from searchengine.media.pathnames import display_path


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


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for binary reading only if it is a regular file (symlinks followed).

    The open itself is non-blocking (``O_NONBLOCK``: opening a FIFO with no writer would
    wait for ever) and the type is checked on the open descriptor, so a file swapped for a
    FIFO between a stat and the open is refused too. Raises :class:`NotRegularFileError` or
    ``OSError``."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFileError(
                f"{display_path(path)}: {kind_of_mode(st.st_mode)}, not a regular file; not read"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
