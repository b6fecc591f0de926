"""SIGKILL real indexing processes at random moments, and after each kill check from the
files alone that SQL and FAISS agree, then that the next run resumes. Shared by
tests/test_kill_loop.py (a short loop in CI) and benchmarks/torture_kill_index.py (long)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from searchengine.catalog.consistency import read_disk_state


@dataclass
class KillLoopResult:
    kills: int = 0
    finished_before_kill: int = 0
    inconsistent: list[str] = field(default_factory=list)
    progress: list[int] = field(default_factory=list)  # units on disk after each kill
    faiss_current: int = 0  # kills after which the FAISS file claimed to be current (ids compared)


def kill_loop(media: Path, index_dir: Path, env: dict[str, str], rounds: int, kills: int | None = None, seed: int = 0,
              min_delay: float = 0.05, max_delay: float = 4.0,
              change: Callable[[int], None] | None = None,
              verify: Callable[[Path], None] | None = None) -> KillLoopResult:
    """``change(round)`` edits the media before each run (new, changed, deleted files), so
    that every run has work for the kill to interrupt; ``verify(index_dir)`` checks the index
    after each kill beyond what the files show (e.g. opened through the engine). Stops after
    ``rounds`` runs, or once ``kills`` of them were killed."""
    rng = random.Random(seed)
    result = KillLoopResult()
    cmd = [sys.executable, "-m", "searchengine.cli", "index", str(media), "--index", str(index_dir)]
    for n in range(rounds):
        if kills is not None and result.kills >= kills:
            break
        if change is not None and n:
            change(n)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(min_delay, max_delay))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            result.kills += 1
        else:
            result.finished_before_kill += 1
        proc.wait()
        if not (index_dir / "metadata.sqlite").is_file():
            continue  # killed before the database was in place: nothing to check yet
        state = read_disk_state(index_dir)
        result.progress.append(len(state.sql_ids))
        result.faiss_current += state.faiss_current
        if verify is not None:
            verify(index_dir)
        if not state.consistent:
            result.inconsistent.append(
                f"round {n}: FAISS stamp says generation {state.faiss_generation} (current) but holds "
                f"{len(state.faiss_ids or ())} ids against {len(state.sql_ids)} in SQL"
            )
    return result
