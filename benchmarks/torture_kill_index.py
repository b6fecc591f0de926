"""Hundreds of SIGKILLs at random moments of real indexing runs; after each, the files alone
must show SQL and FAISS in agreement, and a final run must complete the index.

    python benchmarks/torture_kill_index.py [--kills 200] [--photos 200] [--model SPEC]

The model defaults to the offline profile (packaged weights); each run re-embeds a third of
the photos and adds and removes notes, so every kill lands in real work. Prints the kills,
the runs that finished first, any disagreement found, and the final check.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from kill_loop import kill_loop  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--model", default="offline:minilm-effnet")
    args = ap.parse_args()

    import numpy as np
    from PIL import Image

    from searchengine.catalog.consistency import read_disk_state

    work = Path(tempfile.mkdtemp(prefix="se-torture-"))
    media = work / "media"
    media.mkdir()

    def photo(i: int, seed: int) -> None:
        rng = np.random.RandomState(seed)
        Image.fromarray((rng.rand(12, 16, 3) * 255).astype("uint8")).resize((320, 240)).save(media / f"p{i:04d}.png")

    def change(n: int) -> None:
        for i in range(n % 3, args.photos, 3):
            photo(i, 100_000 * n + i)
        (media / f"note-{n}.txt").write_text(f"note {n}: a dog on a beach\n" * (n % 5 + 1))
        (media / f"note-{n - 2}.txt").unlink(missing_ok=True)

    for i in range(args.photos):
        photo(i, i)
    env = dict(os.environ, SEARCHENGINE_READ_TEXT="now", SEARCHENGINE_MODEL=args.model, SEARCHENGINE_BATCH_SIZE="8",
               SEARCHENGINE_CHECKPOINT_SECONDS="0.5")
    cmd = [sys.executable, "-m", "searchengine.cli", "index", str(media), "--index"]
    try:
        subprocess.run(cmd + [str(work / "timing")], env=env, check=True, capture_output=True)  # export, once
        change(1)
        t0 = time.monotonic()
        subprocess.run(cmd + [str(work / "timing")], env=env, check=True, capture_output=True)
        run_s = time.monotonic() - t0
        t0 = time.monotonic()
        result = kill_loop(media, work / "killed", env, rounds=args.kills * 3, kills=args.kills, seed=7,
                           min_delay=0.2 * run_s, max_delay=0.95 * run_s, change=change)
        loop_s = time.monotonic() - t0
        final = subprocess.run(cmd + [str(work / "killed")], env=env, capture_output=True, text=True)
        state = read_disk_state(work / "killed")
        files = len(list(media.iterdir()))
        print(f"one run with a round's changes     {run_s:.1f} s")
        print(f"SIGKILLs                           {result.kills} (runs that finished first: {result.finished_before_kill})"
              f" in {loop_s:.0f} s")
        print(f"disagreements between SQL and FAISS {len(result.inconsistent)}")
        for line in result.inconsistent[:10]:
            print("  " + line)
        print(f"final run                          exit {final.returncode}; {final.stdout.strip()}")
        print(f"final state                        {len(state.sql_ids)} units for {files} files; "
              f"FAISS current {state.faiss_current}, consistent {state.consistent}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
