"""Twenty SIGKILLs at random moments of real indexing runs: after each, SQL and FAISS agree
(read from the files), and a final run completes the index without redoing finished files."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from conftest import assert_consistent, make_image
from kill_loop import kill_loop
from searchengine import SearchEngine


def test_twenty_random_sigkills_never_leave_sql_and_faiss_apart(tmp_path, settings):
    media = tmp_path / "media"
    for i in range(120):
        make_image(media / f"img{i:03d}.png", seed=i, size=(96, 80))
    index_dir = tmp_path / "killed"
    env = dict(os.environ, SEARCHENGINE_MODEL=settings.model, SEARCHENGINE_CACHE_DIR=str(settings.cache_dir), SEARCHENGINE_BATCH_SIZE="4",
               SEARCHENGINE_CHECKPOINT_SECONDS="0.3")
    from searchengine.encoders.registry import load_encoder

    load_encoder(settings.model, "cpu", "auto", settings.cache_dir)  # the one-time export, unkilled

    def change(n: int) -> None:  # a third of the photos get new content, a note comes and goes
        for i in range(n % 3, 120, 3):
            make_image(media / f"img{i:03d}.png", seed=1000 * n + i, size=(96, 80))
        (media / f"note-{n}.txt").write_text(f"note number {n} about a dog on a beach\n" * (n % 5 + 1))
        (media / f"note-{n - 2}.txt").unlink(missing_ok=True)

    # how long a run with one round's changes takes here, unkilled: kills fall within it
    timing = [sys.executable, "-m", "searchengine.cli", "index", str(media), "--index", str(tmp_path / "timing")]
    subprocess.run(timing, env=env, check=True, capture_output=True)
    change(1)
    t0 = time.monotonic()
    subprocess.run(timing, env=env, check=True, capture_output=True)
    run_s = time.monotonic() - t0
    def opens_consistent(folder) -> None:  # stale FAISS files are rebuilt, then must match SQL
        with SearchEngine.open(folder, settings=settings, create=False) as engine:
            assert_consistent(engine)

    result = kill_loop(media, index_dir, env, rounds=45, kills=22, seed=1, min_delay=0.3 * run_s,
                       max_delay=0.9 * run_s, change=change, verify=opens_consistent)
    assert result.kills >= 20, result
    assert not result.inconsistent, result.inconsistent
    assert max(result.progress) > 0  # kills landed after work had been committed

    with SearchEngine.open(index_dir, settings=settings) as engine:
        assert_consistent(engine)
        before = engine.repo.unit_count()
        report = engine.index([media])
        assert report.failed == 0, report.failures
        expected = 120 + len(list(media.glob("*.txt")))
        assert report.unchanged + report.embedded_files + report.reused + report.moved == expected
        assert before > 0
        assert report.scanned == expected and len(engine.repo.files()) == expected
        assert_consistent(engine)
