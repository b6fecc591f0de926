"""A file flipped between the indexed file and a symlink out of the folder, as fast as the
OS allows, while it is served, thumbnailed and indexed: nothing outside is ever served,
cached or indexed, and nothing answers 5xx. Short (about two seconds a loop) for CI; the
20-second versions are benchmarks/torture_swap.py."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import make_image
from searchengine.http.app import create_app

SECONDS = 2.0
SECRET = "zanzibar launch codes under the mattress"


SWAP_LOOP = """
import os, signal, sys
path, keep, outside = sys.argv[1:4]
folder, name = os.path.split(path)
link, copy = (os.path.join(folder, "." + name + ext) for ext in (".swap-link", ".swap-file"))
flips = 0
def done(*_):
    print(flips, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
print("ready", flush=True)
while True:
    for tmp in (link, copy):
        if os.path.lexists(tmp):
            os.unlink(tmp)
    os.symlink(outside, link)
    os.replace(link, path)
    os.link(keep, copy)
    os.replace(copy, path)
    flips += 1
"""


class Swapper:
    """Flips ``path`` between its own inode (kept through a hidden hard link, so size, mtime
    and inode are those indexed) and a symlink to ``outside``, from another process (as an
    attacker would, at full speed)."""

    def __init__(self, path: Path, outside: Path):
        self.path, self.outside = path, outside
        self.keep = path.with_name("." + path.name + ".keep")
        if not self.keep.exists():
            os.link(path, self.keep)
        self.flips = 0

    def __enter__(self) -> "Swapper":
        self.proc = subprocess.Popen([sys.executable, "-c", SWAP_LOOP, str(self.path), str(self.keep), str(self.outside)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        self.flips = int(out.strip() or 0)
        if os.path.islink(self.path):  # leave the indexed file in place
            os.replace(self.keep, self.path)
            os.link(self.path, self.keep)


@pytest.fixture
def tree(tmp_path):
    root, outside = tmp_path / "media", tmp_path / "outside"
    make_image(root / "photo.png", seed=1, size=(64, 64))
    (root / "note.md").write_text("a note about gardens and tomatoes")
    outside.mkdir()
    make_image(outside / "other.png", seed=99, size=(64, 64))
    (outside / "secret.md").write_text(SECRET)
    return root, outside


def _item(engine, name: str):
    return next(r for r in engine.repo.units(list(range(1, 50))).values() if r.path.endswith(name))


def test_media_and_thumbnails_never_serve_or_cache_an_outside_file(open_engine, tree):
    root, outside = tree
    engine = open_engine()
    engine.index([root])
    client = TestClient(create_app(engine), base_url="http://127.0.0.1:8000")
    note, photo = _item(engine, "note.md"), _item(engine, "photo.png")
    note_bytes = (root / "note.md").read_bytes()
    good_thumb = client.get(f"/api/items/{photo.id}/thumbnail", params={"size": 128})
    assert good_thumb.status_code == 200
    expected = np.asarray(Image.open(io.BytesIO(good_thumb.content)).convert("RGB"), dtype=np.int16)
    thumbs = engine.layout.folder / "thumbnails"

    statuses: dict[int, int] = {}
    outside_bytes = 0
    with Swapper(root / "note.md", outside / "secret.md") as swap:
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            r = client.get(f"/api/items/{note.id}/media")
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 200 and r.content != note_bytes:
                outside_bytes += len(r.content)
    assert outside_bytes == 0 and SECRET.encode() not in r.content
    assert all(s in (200, 404) for s in statuses), statuses
    assert statuses.get(200, 0) > 0 and statuses.get(404, 0) > 0, statuses  # the race was run

    poisoned, statuses = 0, {}
    with Swapper(root / "photo.png", outside / "other.png") as swap:
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            for cached in thumbs.glob("*.jpg"):
                cached.unlink()  # every request makes it again from the (swapping) file
            r = client.get(f"/api/items/{photo.id}/thumbnail", params={"size": 128})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 200:
                got = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), dtype=np.int16)
                poisoned += int(np.abs(got - expected).mean() > 8)
    assert all(s in (200, 404) for s in statuses), statuses
    assert poisoned == 0 and statuses.get(200, 0) > 0
    assert swap.flips > 50
    after = client.get(f"/api/items/{photo.id}/thumbnail", params={"size": 128})  # from the cache
    got = np.asarray(Image.open(io.BytesIO(after.content)).convert("RGB"), dtype=np.int16)
    assert np.abs(got - expected).mean() <= 8


def test_indexing_never_stores_an_outside_file(open_engine, tree):
    root, outside = tree
    leaks = 0
    with Swapper(root / "note.md", outside / "secret.md") as swap:
        for run in range(6):
            engine = open_engine(f"run{run}")
            engine.index([root])
            texts = " ".join(r.text or "" for r in engine.repo.units(list(range(1, 50))).values())
            leaks += "zanzibar" in texts
            engine.close()
    assert leaks == 0 and swap.flips > 50
