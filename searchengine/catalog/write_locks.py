"""The index's inter-process write lock: one writer at a time, busy is an error (never a
wait). On SQLite an ``flock`` on ``write.lock`` in the index folder; on PostgreSQL an
advisory lock (:class:`searchengine.store.server_database.AdvisoryWriteLock`), which also
keeps indexers on different machines apart.

One holder gives way: the background text reader (:mod:`searchengine.pipeline.text_reader`).
A writer that finds the lock busy while that reader runs asks it to stop (a stop file in
the index folder), and waits for the lock (:class:`YieldingWriteLock`)."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import IO, Protocol

from searchengine.errors import IndexBusyError

log = logging.getLogger(__name__)

YIELD_WAIT_S = 30.0  # how long a writer waits for the text reader to save and stop


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


def text_reader_pid(pid_file: Path) -> int | None:
    """The pid of the background text reader of this index while it runs (it holds an
    ``flock`` on ``pid_file``), else None. Writes nothing."""
    try:
        handle = open(pid_file, "r")
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a reader runs; its pid is written right after locking
            for _ in range(50):
                handle.seek(0)
                text = handle.read().strip()
                if text.isdigit():
                    return int(text)
                time.sleep(0.01)
            return -1  # alive, its pid not written yet
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return None


class YieldingWriteLock:
    """``inner`` (the index's write lock), taken from the background text reader when it
    holds it: the reader is asked to stop (``stop_file``); it stops between two photos,
    saves and exits, and this writer takes the lock - waiting at most ``wait_s`` seconds,
    then :class:`IndexBusyError`. Any other holder: busy at once, as ``inner``."""

    def __init__(self, inner: WriteLock, pid_file: Path, stop_file: Path, wait_s: float = YIELD_WAIT_S):
        self.inner, self.pid_file, self.stop_file, self.wait_s = inner, pid_file, stop_file, wait_s

    def acquire(self) -> None:
        try:
            self.inner.acquire()
            return
        except IndexBusyError:
            pid = text_reader_pid(self.pid_file)
            if pid is None or pid == os.getpid():  # not the reader's (or this is the reader)
                raise
        log.info("the background text reader (pid %s) holds the index; asking it to stop", pid)
        deadline = time.monotonic() + self.wait_s
        gone_since: float | None = None
        alive = True
        try:
            while True:
                if alive:  # again each time: a reader that starts now clears an old stop file
                    self._ask_stop()
                time.sleep(0.05)
                try:
                    self.inner.acquire()
                    return
                except IndexBusyError:
                    now = time.monotonic()
                    alive = text_reader_pid(self.pid_file) is not None
                    if not alive:
                        gone_since = gone_since or now
                        if now - gone_since > 1.0:
                            raise  # the reader is gone and another writer holds the lock
                    if now > deadline:
                        raise IndexBusyError(
                            f"the background text reader (pid {pid}) of {self.pid_file.parent} did not stop "
                            f"within {self.wait_s:.0f} s; try again, or see {self.pid_file.parent / 'text-reader.log'}"
                        ) from None
        finally:
            try:
                self.stop_file.unlink(missing_ok=True)
            except OSError:
                pass

    def _ask_stop(self) -> None:
        try:
            self.stop_file.touch()
        except OSError as exc:
            raise IndexBusyError(f"the background text reader holds the index and {self.stop_file} "
                                 f"cannot be written to ask it to stop: {exc}") from exc

    def release(self) -> None:
        self.inner.release()
