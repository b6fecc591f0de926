"""The index's inter-process write lock: one writer at a time, busy is an error (never a
wait). On SQLite an ``flock`` on ``write.lock`` in the index folder; on PostgreSQL an
advisory lock (:class:`searchengine.store.server_database.AdvisoryWriteLock`), which also
keeps indexers on different machines apart."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO, Protocol

from searchengine.errors import IndexBusyError


class WriteLock(Protocol):
    def acquire(self) -> None:
        """Take the lock, or raise :class:`IndexBusyError` at once."""

    def release(self) -> None: ...


class FileWriteLock:
    """An exclusive ``flock`` on a file (released by the kernel if the process dies)."""

    def __init__(self, path: Path):
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise IndexBusyError(f"another process is indexing {self.path.parent}; wait for it to finish") from None
        self._handle = handle

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()


class BothLocks:
    """``first``, then ``second``, as one lock (released in reverse order)."""

    def __init__(self, first: WriteLock, second: WriteLock):
        self.first, self.second = first, second

    def acquire(self) -> None:
        self.first.acquire()
        try:
            self.second.acquire()
        except BaseException:
            self.first.release()
            raise

    def release(self) -> None:
        try:
            self.second.release()
        finally:
            self.first.release()
