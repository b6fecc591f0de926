"""The index's SQL in a PostgreSQL server, named by ``--database-url``
(``postgresql+psycopg://user@host:port/db``; SQLite in the index folder stays the default).

One database (or one schema, via ``?options=-csearch_path=NAME``) holds one index. The same
Alembic migrations as SQLite's run on open, in one transaction, under a transaction-level
advisory lock, so that two machines opening a new database at once migrate it once. Writers
serialise on a session-level advisory lock (:class:`AdvisoryWriteLock`) held on a connection
of its own for the length of a write run: indexers on several machines cannot interleave.

Reads that must see one snapshot (the generation with the change log, see
:meth:`Repository.changes_since`) run at REPEATABLE READ; everything else at PostgreSQL's
default READ COMMITTED (writers are serialised by the lock anyway).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from searchengine.errors import IndexBusyError, IndexDamagedError, IndexUnavailableError, InvalidInputError

log = logging.getLogger(__name__)

DRIVER = "postgresql+psycopg"
CONNECT_TIMEOUT_S = 10
MIGRATE_LOCK_TIMEOUT_S = 120
SOURCE_KEY = "database_id"  # index_state: this database's identity, written into FAISS stamps
MANIFEST_KEY = "manifest"  # index_state: the manifest, for a replica whose folder has none


def check_database_url(url: str | None) -> str | None:
    """The URL to use (a bare ``postgresql://`` gets the psycopg 3 driver), or None for the
    folder's own SQLite file (no URL, or an empty one). Anything else: an error naming
    ``--database-url``."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInputError(
            f"--database-url {_safe(url)!r} is not a database URL; give "
            "postgresql+psycopg://USER@HOST:PORT/DATABASE (or none for the index folder's SQLite file)"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername=DRIVER)
    if parsed.drivername != DRIVER:
        raise InvalidInputError(
            f"--database-url: {parsed.drivername!r} is not supported; give "
            "postgresql+psycopg://USER@HOST:PORT/DATABASE (SQLite needs no URL: it is the "
            "index folder's own file)"
        )
    if not parsed.database:
        raise InvalidInputError(f"--database-url {_safe(url)!r} names no database (…/DATABASE at the end)")
    return parsed.render_as_string(hide_password=False)


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def make_server_engine(url: str) -> Engine:
    return create_engine(url, future=True, pool_pre_ping=True,
                         connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def _unreachable(engine: Engine, exc: Exception) -> IndexUnavailableError:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return IndexUnavailableError(
        f"cannot use the database at --database-url {engine.url.render_as_string(hide_password=True)} "
        f"({reason}); check that the server runs and the URL's user, password, host, port and "
        "database are right"
    )


def lock_key(conn: Connection, purpose: str = "write") -> int:
    """A signed 64-bit advisory-lock key for this index: its database and schema (advisory
    locks are per database already; the schema separates indexes sharing one)."""
    schema = conn.execute(text("SELECT current_database() || '.' || current_schema()")).scalar()
    digest = hashlib.blake2b(f"searchengine:{purpose}:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def has_schema(url: str) -> bool:
    """The database at ``url`` holds an index (any schema revision)."""
    engine = make_server_engine(url)
    try:
        with engine.connect() as conn:
            return bool(inspect(conn).has_table("alembic_version"))
    except DBAPIError as exc:
        raise _unreachable(engine, exc) from exc
    finally:
        engine.dispose()


def open_server_database(url: str) -> Engine:
    """Connect to ``url`` and bring its schema to head (see the module's doc)."""
    from searchengine.store.database import _check_known, _current_revision, head_revision

    engine = make_server_engine(url)
    try:
        with engine.connect() as conn:
            current = _current_revision(conn)
        if current != head_revision():
            _check_known(current, engine.url.render_as_string(hide_password=True))
            _upgrade(engine)
        _check_tables(engine)
        _ensure_source_id(engine)
    except DBAPIError as exc:
        engine.dispose()
        raise _unreachable(engine, exc) from exc
    except Exception:
        engine.dispose()
        raise
    return engine


def _upgrade(engine: Engine) -> None:
    from alembic import command

    from searchengine.store.database import _alembic_config, _current_revision, head_revision

    with engine.connect() as conn:
        with conn.begin():
            conn.execute(text(f"SET LOCAL lock_timeout = '{MIGRATE_LOCK_TIMEOUT_S}s'"))
            try:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(conn)})
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                    raise IndexBusyError(
                        f"another process has been writing the index at {engine.url.render_as_string(hide_password=True)} "
                        f"for {MIGRATE_LOCK_TIMEOUT_S} s; its schema can be upgraded when it has finished"
                    ) from None
                raise
            current = _current_revision(conn)  # another machine may have done it meanwhile
            if current == head_revision():
                return
            log.info("upgrading index schema %s -> %s", current or "(new)", head_revision())
            try:
                command.upgrade(_alembic_config(conn), "head")
            except SQLAlchemyError as exc:
                raise IndexDamagedError(
                    f"cannot bring the database {engine.url.render_as_string(hide_password=True)} to schema "
                    f"revision {head_revision()} ({type(exc).__name__}: {exc}); nothing was changed"
                ) from exc


def _check_tables(engine: Engine) -> None:
    from searchengine.store.models import Base

    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
    missing = sorted(set(Base.metadata.tables) - present)
    if missing:
        raise IndexDamagedError(
            f"the database {engine.url.render_as_string(hide_password=True)} lacks the table(s) "
            f"{', '.join(missing)}; restore it from a backup or index into a new database"
        )


def _ensure_source_id(engine: Engine) -> None:
    if read_state(engine, SOURCE_KEY) is not None:  # no write: a replica may have SELECT rights only
        return
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO index_state (key, value) VALUES (:k, :v) ON CONFLICT (key) DO NOTHING"),
                     {"k": SOURCE_KEY, "v": uuid.uuid4().hex})


class AdvisoryWriteLock:
    """The index's write lock on PostgreSQL: ``pg_try_advisory_lock`` on a connection kept
    for as long as the lock is held (the server releases it if this process or its
    connection dies). Not blocking, like the flock it replaces: busy is an error."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._conn: Connection | None = None
        self._mutex = threading.Lock()

    def acquire(self) -> None:
        with self._mutex:
            if self._conn is not None:
                raise IndexBusyError("another thread of this process is writing the index; wait for it to finish")
            try:
                conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            except DBAPIError as exc:
                raise _unreachable(self._engine, exc) from exc
            try:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(conn)}).scalar())
            except Exception:
                conn.close()
                raise
            if not got:
                conn.close()
                raise IndexBusyError(
                    f"another process (on this or another machine) is indexing "
                    f"{self._engine.url.render_as_string(hide_password=True)}; wait for it to finish"
                )
            self._conn = conn

    def release(self) -> None:
        with self._mutex:
            conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(conn)})
        except DBAPIError as exc:  # the connection is gone: so is the lock
            log.warning("releasing the write lock: %s", exc)
        finally:
            conn.close()


def read_state(engine: Engine, key: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text("SELECT value FROM index_state WHERE key = :k"), {"k": key}).scalar()
