"""A throw-away PostgreSQL server for tests and benchmarks: Debian's PostgreSQL 15 binaries
(``initdb``, ``pg_ctl``; ``SEARCHENGINE_PG_BIN`` overrides their folder), a data directory in
a temp folder owned by the ``postgres`` user (``initdb`` refuses to run as root), listening on
127.0.0.1 on a free port, stopped and deleted after."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path(os.environ.get("SEARCHENGINE_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"


def available() -> str | None:
    """None when a server can be started here, else why not."""
    if not (PG_BIN / "initdb").is_file() or not (PG_BIN / "pg_ctl").is_file():
        return f"no PostgreSQL binaries in {PG_BIN} (apt-get install postgresql-15, or set SEARCHENGINE_PG_BIN)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start initdb as the postgres user"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    folder: Path
    port: int
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' LOCALE \'C\'')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"],
                     check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_postgres(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", SUPERUSER, "--"] + cmd
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)


def start(durable: bool = False) -> PgServer:
    """Start a server. ``durable``: PostgreSQL's default fsync and commit settings (for
    benchmarks); else fsync off, as fits a throw-away test server."""
    folder = Path(tempfile.mkdtemp(prefix="searchengine-pg-"))
    os.chmod(folder, 0o755)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, SUPERUSER, SUPERUSER)
    try:
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                      "--locale=C", "--no-sync"])
        port = _free_port()
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c max_connections=200"
        if not durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "server.log"),
                      "-w", "-t", "60", "start"])
    except subprocess.CalledProcessError as exc:
        log = (folder / "server.log").read_text() if (folder / "server.log").is_file() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr}\n{log}") from exc
    return PgServer(folder, port)
