"""Every entry found is accounted for: indexed, or listed with its reason by the run's
summary and by `status` (empty files, FIFOs, a second link to an indexed file, binary bytes
in a file named as text); binary data is never indexed as text."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from conftest import make_image
from searchengine.cli import app
from searchengine.media.text import binary_reason

runner = CliRunner()


def test_random_bytes_are_not_text_and_text_is():
    rng = __import__("random").Random(5)
    assert all(binary_reason(bytes(rng.randrange(256) for _ in range(n))) for n in (100, 1000, 10_000) for _ in range(50))
    assert binary_reason("plain words\twith tabs\r\nand lines, café, 日本語 \x1b[1mbold\x1b[0m".encode()) is None
    assert binary_reason("café résumé naïve".encode("cp1252")) is None


@pytest.fixture
def hostile(tmp_path, tiny_clip, monkeypatch):
    monkeypatch.setenv("SEARCHENGINE_INDEX_ROOT", str(tmp_path / "idx"))
    monkeypatch.setenv("SEARCHENGINE_MODEL", tiny_clip)
    media = tmp_path / "media"
    make_image(media / "photo.png", seed=1)
    (media / "note.md").write_text("a note about gardens")
    (media / "empty.md").write_bytes(b"")
    os.mkfifo(media / "pipe.md")
    os.symlink(media / "photo.png", media / "again.png")  # a second way to an indexed file
    rng = __import__("random").Random(1)
    for i in range(5):
        (media / f"junk{i}.txt").write_bytes(bytes(rng.randrange(256) for _ in range(300 + i)))
    return media


def test_every_entry_is_indexed_or_listed_with_its_reason(hostile):
    result = runner.invoke(app, ["index", str(hostile), "--index", "acc"])
    assert result.exit_code == 0, result.output
    out = result.output
    # the walk is in name order: again.png (the link) is indexed, photo.png is its second name
    for name, words in (("empty.md", "empty"), ("pipe.md", "FIFO"), ("photo.png", "same file"),
                        ("junk0.txt", "binary content")):
        line = next((line for line in out.splitlines() if name in line), None)
        assert line is not None and words in line, (name, out)
    status = runner.invoke(app, ["status", "--index", "acc"])
    for name in ("empty.md", "pipe.md", "photo.png", "junk4.txt"):
        assert name in status.output, (name, status.output)
    data = json.loads(runner.invoke(app, ["status", "--index", "acc", "--json"]).output)
    skipped = {e["path"].rsplit("/", 1)[1]: e for e in data["skipped"]["entries"]}
    assert set(skipped) == {"pipe.md", "photo.png", "empty.md"}  # an empty file is skipped, not failed
    assert "empty" in skipped["empty.md"]["reason"] and "FIFO" in skipped["pipe.md"]["reason"]
    assert "same file" in skipped["photo.png"]["reason"]
    assert data["skipped"]["counts"]["empty"] == 1
    failed = {f["path"].rsplit("/", 1)[1]: f["error"] for f in data["failures"]}
    assert "empty.md" not in failed and all("binary content" in failed[f"junk{i}.txt"] for i in range(5))
    search = runner.invoke(app, ["search", "gardens", "--index", "acc", "--mode", "keyword", "--json"])
    assert all(not h["path"].endswith(".txt") for h in json.loads(search.output))  # no junk units
