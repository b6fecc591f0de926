"""Opening the SQLite metadata file: pragmas, real transactions, migrations on open (atomic,
under a lock), schema version check.

Transactions: the sqlite3 module is put in autocommit mode and every SQLAlchemy
transaction emits its own ``BEGIN`` (``BEGIN IMMEDIATE`` for writers, see
:data:`WRITE_OPTION`). So DDL is transactional (a migration commits whole or not at all),
and ``SAVEPOINT`` works, which lets one file's write fail without losing its batch.

Creating and migrating: under an exclusive ``flock`` on the index folder (and on its write
lock file when an existing database is upgraded), a new database is built and migrated in
a temp file, then linked into place in one step; an existing one is upgraded in a single
transaction. A kill at any statement, or two processes opening a new index at once, leaves
one good database.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError

from searchengine.errors import IndexBusyError, IndexDamagedError, IndexIncompatibleError, IndexUnavailableError
from searchengine.store.revisions import MIGRATIONS_DIR, head_revision  # noqa: F401  (re-exported)
from searchengine.store.revisions import migrations_dir as _migrations_dir
from searchengine.store.sqlite_reads import CACHE_KIB

log = logging.getLogger(__name__)

WRITE_OPTION = "searchengine_write"  # execution option: transactions start with BEGIN IMMEDIATE
LOCK_TIMEOUT_S = 120.0
# New databases use 64 KiB pages: a unit row (a 2 KiB float32 vector at 512-d) fits 31 to a
# page instead of 1 to a 4 KiB page, which halves the file (benchmarks/bench_scale.py).
PAGE_SIZE = 65536
_CREATING = ".creating"


def _alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def alembic_head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def make_engine(path: Path | str, *, wal: bool = True, page_size: int | None = None) -> Engine:
    """An SQLAlchemy engine on the SQLite file ``path`` with our pragmas and real
    transactions (see the module's doc). ``page_size`` applies to a database not yet
    written."""
    engine = create_engine(f"sqlite:///{path}", future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # no implicit BEGIN/COMMIT: ours, below
        cur = dbapi_conn.cursor()
        if page_size:
            cur.execute(f"PRAGMA page_size={int(page_size)}")
        cur.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may wait for a lock
        cur.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
        cur.execute("PRAGMA synchronous=NORMAL" if wal else "PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, whose transactions take the write lock at once (``BEGIN
    IMMEDIATE``): a read-then-write transaction can never fail on a stale snapshot."""
    return engine.execution_options(**{WRITE_OPTION: True})


def open_database(path: Path, lock_path: Path | None = None) -> Engine:
    """Open (creating if needed) the SQLite file at ``path`` and bring its schema to head.

    ``lock_path`` is the index's write lock file (default ``write.lock`` next to ``path``),
    held while an existing database is upgraded."""
    path = Path(path)
    lock_path = lock_path or path.parent / "write.lock"
    if not path.exists():
        with _folder_lock(path.parent):
            _remove_stale_temps(path)
            if not path.exists():
                _create(path)
    engine = make_engine(path)
    current = _read_revision(engine, path)
    if current != head_revision():
        _check_known(current, path)
    if current != head_revision():
        with _folder_lock(path.parent), _file_lock(lock_path):
            current = _read_revision(engine, path)  # another process may have done it
            if current != head_revision():
                log.info("upgrading index schema %s -> %s", current or "(new)", head_revision())
                _retry_busy(lambda: _upgrade(engine), path)
    _check_tables(engine, path)
    return engine


def _read_revision(engine: Engine, path: Path) -> str | None:
    """The schema revision. SQLite answers "database is locked" at once, without waiting,
    in a few cases (recovering after a writer was killed, switching the journal mode while
    another process migrates): those are retried, then reported as busy, never as damage."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            with engine.connect() as conn:
                return _current_revision(conn)
        except OperationalError as exc:
            if not _is_busy(exc):
                engine.dispose()
                raise _damaged(path, exc) from exc
            engine.dispose()
            if time.monotonic() > deadline:
                raise IndexBusyError(
                    f"the metadata file {path} stayed locked for {LOCK_TIMEOUT_S:.0f} s; another "
                    "process is writing it; try again when it has finished"
                ) from exc
            time.sleep(0.05)
        except Exception as exc:
            engine.dispose()
            raise _damaged(path, exc) from exc


def _retry_busy(step: Callable[[], None], path: Path) -> None:
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            step()
            return
        except (OperationalError, IndexDamagedError) as exc:
            cause = exc if isinstance(exc, OperationalError) else exc.__cause__
            if not isinstance(cause, OperationalError) or not _is_busy(cause):
                raise
            if time.monotonic() > deadline:
                raise IndexBusyError(f"the metadata file {path} stayed locked for {LOCK_TIMEOUT_S:.0f} s; "
                                     "try again when the other process has finished") from exc
            time.sleep(0.05)


def _is_busy(exc: OperationalError) -> bool:
    text = str(exc.orig if exc.orig is not None else exc).lower()
    return "locked" in text or "busy" in text


def _damaged(path: Path, exc: Exception) -> IndexDamagedError:
    return IndexDamagedError(
        f"the metadata file {path} cannot be read ({exc}); restore it from a backup or "
        "delete the index folder and index again"
    )


def _upgrade(engine: Engine) -> None:
    """Every pending migration in one transaction (foreign keys off meanwhile, so that a
    batch migration that copies a table cannot cascade-delete rows)."""
    from alembic import command

    with writer(engine).connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=OFF")  # outside any transaction, where it applies
        try:
            with conn.begin():
                command.upgrade(_alembic_config(conn), "head")
        except Exception as exc:
            raise IndexDamagedError(
                f"cannot bring the metadata file {engine.url.database} to schema revision "
                f"{head_revision()} ({type(exc).__name__}: {exc}); nothing was changed. Restore it "
                "from a backup, or delete the index folder and index again"
            ) from exc
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def _create(path: Path) -> None:
    """Build a migrated database in a temp file in the same folder, then link it into
    place: ``path`` appears whole or not at all, and never replaces one that exists."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_CREATING, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        engine = make_engine(tmp, wal=False, page_size=PAGE_SIZE)
        try:
            _retry_busy(lambda: _upgrade(engine), path)
        finally:
            engine.dispose()
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            log.info("another process created %s first; using it", path)
        except OSError as exc:  # a file system without hard links: rename, under our lock
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            if not path.exists():
                os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise IndexUnavailableError(f"cannot create the metadata file {path}: {exc}") from exc
    finally:
        for leftover in (tmp, Path(f"{tmp}-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _remove_stale_temps(path: Path) -> None:
    """Temp files of a creation that was killed (we hold the folder lock: nobody else is
    creating)."""
    for p in path.parent.glob(f".{path.name}.*{_CREATING}*"):
        with contextlib.suppress(OSError):
            p.unlink()
            log.info("removed %s, left by an interrupted index creation", p)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive flock on the folder itself (no lock file, so a new index folder holds
    nothing but its database); released by the kernel if the process dies."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        _flock(fd, folder)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _file_lock(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _flock(fd, lock_path)
        yield
    finally:
        os.close(fd)


def _flock(fd: int, what: Path) -> None:
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise IndexBusyError(
                    f"another process has held {what} for {LOCK_TIMEOUT_S:.0f} s while creating, "
                    "upgrading or indexing this index; wait for it to finish"
                ) from None
            time.sleep(0.05)


def _check_tables(engine: Engine, path: Path) -> None:
    from searchengine.store.models import Base

    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
    missing = sorted(set(Base.metadata.tables) - present)
    if missing:
        engine.dispose()
        raise IndexDamagedError(
            f"the metadata file {path} lacks the table(s) {', '.join(missing)}; restore it from a "
            "backup or delete the index folder and index again"
        )


def _current_revision(conn: Any) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return row[0] if row else None


def _check_known(revision: str | None, path: Path | str) -> None:
    """``path``: the SQLite file, or (a server database) its URL."""
    if revision is None:
        return
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(_alembic_config())
    try:
        known = script.get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise IndexIncompatibleError(
            f"the index at {path.parent if isinstance(path, Path) else path} was written by a newer version of searchengine "
            f"(schema revision {revision}, this version knows up to {head_revision()}); "
            "upgrade searchengine to open it"
        )
