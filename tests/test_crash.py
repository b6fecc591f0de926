"""A real crash: the indexing process is killed with SIGKILL mid-run. The index must open
consistent, and the next run must finish without redoing the files that were done."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import assert_consistent, make_image
from searchengine import SearchEngine


def _units(db):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM units").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_during_indexing_leaves_a_consistent_resumable_index(tmp_path, settings):
    media = tmp_path / "media"
    for i in range(400):
        make_image(media / f"img{i:03d}.png", seed=i, size=(160, 120))
    env = dict(os.environ, SEARCHENGINE_INDEX_ROOT=str(settings.index_root), SEARCHENGINE_MODEL=settings.model,
               SEARCHENGINE_BATCH_SIZE="4", SEARCHENGINE_CHECKPOINT_SECONDS="0.2")
    proc = subprocess.Popen([sys.executable, "-m", "searchengine.cli", "index", str(media), "--index", "crash"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = settings.index_root / "crash" / "metadata.sqlite"
    deadline = time.time() + 120
    while _units(db) < 40 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "indexing finished before it could be killed: " + proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _units(db)
    assert 0 < done < 400

    with SearchEngine.open("crash", settings=settings) as engine:
        assert_consistent(engine)
        assert engine.repo.unit_count() == done
        assert len(engine.search("x", k=5)) == 5
        report = engine.index([media])
        assert report.unchanged >= done and report.added == 400 - report.unchanged
        assert report.failed == 0
        assert engine.repo.unit_count() == 400
        assert_consistent(engine)
