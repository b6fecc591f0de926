"""Torture index creation and migration: many rounds of several processes creating the same
index at once, some SIGKILLed at random moments; after each round the database must be
one good index (integrity ok, schema at head, every table there, no temp files left once
reopened) holding only what finished processes wrote.

    python benchmarks/torture_create_index.py                 # 200 rounds, 4 processes
    python benchmarks/torture_create_index.py --rounds 1000 --procs 8 --upgrade

``--upgrade`` starts each round from a database at revision 0002 (an upgrade, not a
creation). The CI test (tests/test_store_atomic.py) kills at every statement once; this
script kills at random moments, many times.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from searchengine.store.database import head_revision, open_database  # noqa: E402
from searchengine.store.repository import Repository  # noqa: E402

FORK = multiprocessing.get_context("fork")


def _child(db: str, who: int, start: float) -> None:
    time.sleep(max(0.0, start - time.time()))
    engine = open_database(Path(db))
    Repository(engine).add_roots([f"/root{who}"])
    engine.dispose()
    os._exit(0)


def _old_database(db: Path) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.cmd_opts = type("Opts", (), {"x": [f"url=sqlite:///{db}"]})()  # type: ignore[assignment]
    command.upgrade(cfg, "0002")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--upgrade", action="store_true", help="start each round from revision 0002")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="torture-create-"))
    kills = finished = 0
    t0 = time.perf_counter()
    for r in range(args.rounds):
        folder = work / f"r{r}"
        folder.mkdir()
        db = folder / "metadata.sqlite"
        if args.upgrade:
            _old_database(db)
        start = time.time() + 0.2
        procs = [FORK.Process(target=_child, args=(str(db), i, start)) for i in range(args.procs)]
        for p in procs:
            p.start()
        victims = rng.sample(procs, rng.randint(0, args.procs))
        time.sleep(0.2 + rng.random() * 0.15)  # kill somewhere in creation / migration / write
        for p in victims:
            if p.pid is not None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in procs:
            p.join(120)
        killed = [p for p in procs if p.exitcode == -signal.SIGKILL]
        ok = [i for i, p in enumerate(procs) if p.exitcode == 0]
        kills += len(killed)
        finished += len(ok)
        bad = [p.exitcode for p in procs if p.exitcode not in (0, -signal.SIGKILL)]
        if bad:
            raise SystemExit(f"round {r}: processes failed with {bad} (see their stderr above)")
        engine = open_database(db)  # the next open must always work
        try:
            roots = set(Repository(engine).roots())
        finally:
            engine.dispose()
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", r
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision(), r
        assert {f"/root{i}" for i in ok} <= roots <= {f"/root{i}" for i in range(args.procs)}, (r, roots, ok)
        leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".creating")]
        assert not leftovers, (r, leftovers)
    print(f"{args.rounds} rounds x {args.procs} processes ({'upgrade' if args.upgrade else 'create'}): "
          f"{kills} SIGKILLs, {finished} finished, every round one good index "
          f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
