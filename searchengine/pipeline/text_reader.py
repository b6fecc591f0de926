"""The background text reader: reads the text in photos after `searchengine index` returned.

`searchengine index` (``--read-text background``, the CLI's default) makes every file
searchable, saves, and then - when photos are left whose text is not read - starts this
module as a detached process (:func:`spawn`: a new session, no terminal, its output in
``text-reader.log`` in the index folder, like `git gc --auto`) and returns. The reader:

1. holds ``text-reader.pid`` (an ``flock``; the file says its pid): at most one reader per
   index; a second one exits at once, quietly;
2. takes the index's write lock (waiting a little for it when another writer has it) and
   reads what is still to read (:meth:`SearchEngine.read_text`: the text phase of an index
   run, saving every ``checkpoint_seconds``), then saves and exits;
3. gives way to any other writer: one that finds the lock held by the reader makes
   ``text-reader.stop`` (:class:`searchengine.catalog.write_locks.YieldingWriteLock`); the
   reader stops between two photos, saves, releases the lock and exits. That writer's own
   run then handles the text left, as its ``--read-text`` says.

What is to read is never kept anywhere but in the index (photos whose content has no cached
reading), so a reader killed at any point (kill -9) loses nothing and doubles nothing: the
next run or reader reads the rest. The settings (model, OCR, chunk sizes, cache folder,
database) come from the environment, :meth:`Settings.to_env` of the index run that started it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from searchengine.catalog.layout import IndexLayout
from searchengine.catalog.write_locks import text_reader_pid
from searchengine.config import Settings

log = logging.getLogger(__name__)

LOG_LIMIT = 1_000_000  # bytes: text-reader.log is started afresh above this
START_WAIT_S = 20.0  # spawn() waits for the reader to hold its pid file (or to exit)
LOCK_WAIT_S = 60.0  # the reader waits this long for a write lock another writer holds


def spawn(layout: IndexLayout, settings: Settings) -> int | None:
    """Start the background reader of the index in ``layout`` with ``settings``; its pid
    once it holds the pid file (None when it exited at once: another reader runs, or it
    failed - see ``text-reader.log``)."""
    env = dict(os.environ)
    for key, value in settings.with_(read_text="now").to_env().items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["MALLOC_ARENA_MAX"] = "1"  # one malloc arena: the reader's threads need no more
    log_path = layout.text_reader_log
    try:
        if log_path.stat().st_size > LOG_LIMIT:
            log_path.unlink()
    except OSError:
        pass
    with open(log_path, "ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "searchengine.pipeline.text_reader", str(layout.folder.absolute())],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, close_fds=True,
        )
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        pid = text_reader_pid(layout.text_reader_pid)
        if pid == child.pid:
            return pid
        if child.poll() is not None:  # exited: another reader holds the file (or it failed)
            return text_reader_pid(layout.text_reader_pid)
        time.sleep(0.02)
    return child.pid


def hold_pid_file(path: Path, wait_s: float = 2.0) -> IO[str] | None:
    """``path`` locked (flock) with this process's pid in it, or None when another reader
    holds it (tried again for ``wait_s``: a reader that is exiting, a status read)."""
    handle = open(path, "a+")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                return None
            time.sleep(0.05)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def read_in_background(folder: Path, settings: Settings) -> int:
    """The reader's work (see the module's doc); the exit status."""
    from searchengine.engine import SearchEngine
    from searchengine.errors import IndexBusyError, SearchEngineError

    layout = IndexLayout(folder)
    stopping = False

    def on_term(signum: int, frame: object) -> None:  # SIGTERM: stop between two photos, saved
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)

    def stop() -> bool:
        return stopping or layout.text_reader_stop.exists()

    try:
        with SearchEngine.open(folder, settings=settings, create=False) as engine:
            deadline = time.monotonic() + LOCK_WAIT_S
            while True:
                try:
                    with engine.catalog.write_lock():
                        layout.text_reader_stop.unlink(missing_ok=True)  # an old one (its writer was killed)
                        t0 = time.perf_counter()
                        report = engine.read_text(stop=stop)
                    break
                except IndexBusyError:
                    if stop() or time.monotonic() > deadline:
                        log.info("another writer holds the index; it reads the text left")
                        return 0
                    time.sleep(0.5)
    except SearchEngineError as exc:
        log.error("reading the text in %s failed: %s", folder, exc)
        return 1
    log.info("read text in %d photos in %.1fs; %d left%s", report.ocr_images, time.perf_counter() - t0,
             report.text_pending, " (stopped: another writer needs the index)" if report.text_pending else "")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s text-reader[{os.getpid()}] %(levelname)s %(name)s: %(message)s")
    if len(args) != 1:
        log.error("usage: python -m searchengine.pipeline.text_reader INDEX_FOLDER")
        return 2
    folder = Path(args[0])
    logging.getLogger("faiss").setLevel(logging.WARNING)  # which CPU build it loads, line by line
    held = hold_pid_file(IndexLayout(folder).text_reader_pid)
    if held is None:
        return 0  # another reader reads this index
    try:
        return read_in_background(folder, Settings.from_env())
    finally:
        held.close()  # the write lock is released already (read_in_background returned)


if __name__ == "__main__":
    sys.exit(main())
