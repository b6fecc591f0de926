"""The front doors work as written: every fenced python example in README.md and docs/*.md
runs (each file's blocks in order, in one fresh process, in a sandbox home with a few real
photos, notes and a recording); --version; help shows real defaults; Settings takes strings;
a failed first index leaves nothing behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import CACHE_DIR, make_image
from searchengine.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


def python_blocks(path: Path) -> list[str]:
    return FENCE.findall(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, tiny_clip):
    """A home with ~/Pictures, ~/Notes (a 2024 invoice), ~/Podcasts, and query.jpg in the
    working folder; the tiny model stands in for `auto`."""
    home = tmp_path_factory.mktemp("home")
    for i in range(3):
        make_image(home / "Pictures" / f"beach{i}.png", seed=i)
    make_image(home / "work" / "query.jpg", seed=1, fmt="JPEG")
    (home / "Notes" / "2024").mkdir(parents=True)
    (home / "Notes" / "2024" / "invoice.txt").write_text("Invoice 2024-117: a dog walker, 12 walks on the beach.")
    (home / "Notes" / "todo.md").write_text("# To do\n\nbuy milk and bread")
    (home / "Podcasts").mkdir()
    with wave.open(str(home / "Podcasts" / "episode.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((np.sin(np.arange(16000 * 3) / 15) * 2000).astype("<i2").tobytes())
    (home / "Podcasts" / "episode.srt").write_text("1\n00:00:00,000 --> 00:00:02,500\na dog on the beach\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHENGINE_")}
    env.update(HOME=str(home), SEARCHENGINE_MODEL=tiny_clip, SEARCHENGINE_OCR="off",
               SEARCHENGINE_CACHE_DIR=str(CACHE_DIR), PYTHONPATH=str(ROOT))
    return home, env


@pytest.mark.parametrize("doc", [d for d in DOCS if python_blocks(d)], ids=lambda d: d.name)
def test_every_python_example_runs(doc, sandbox):
    home, env = sandbox
    blocks = python_blocks(doc)
    script = "\n\n".join(f"# --- example {n} of {doc.name}\n{b}" for n, b in enumerate(blocks, 1))
    out = subprocess.run([sys.executable, "-c", script], cwd=home / "work", env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, f"{doc.name}'s examples fail as written:\n{out.stderr[-3000:]}"


def test_docs_have_examples_to_run():
    assert sum(len(python_blocks(d)) for d in DOCS) >= 5


runner = CliRunner()


def test_version():
    from searchengine import __version__

    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == f"searchengine {__version__}"


@pytest.mark.parametrize("command", ["index", "search", "status", "serve", "watch", "mcp", "reindex",
                                     "duplicates", "forget", "eval"])
def test_help_shows_real_defaults(command):
    out = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    assert "default: None" not in out.output
    if command == "index":
        assert "(base)" in out.output and "(./indexes)" in out.output and "(32)" in out.output


def test_settings_take_strings_for_paths(tmp_path):
    from searchengine import InvalidInputError, Settings

    s = Settings(index_root=str(tmp_path / "idx"), cache_dir="~/cache-x")
    assert s.index_root == tmp_path / "idx" and s.cache_dir == Path("~/cache-x").expanduser()
    with pytest.raises(InvalidInputError, match="index_root"):
        Settings(index_root=3)  # type: ignore[arg-type]


def test_a_failed_first_index_leaves_nothing_behind(tmp_path, tiny_clip, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEARCHENGINE_INDEX_ROOT", raising=False)
    monkeypatch.setenv("SEARCHENGINE_MODEL", tiny_clip)
    out = runner.invoke(app, ["index", "/no/such/folder", "--index", "x"])
    assert out.exit_code == 2 and "does not exist" in out.output
    assert list(tmp_path.iterdir()) == []  # neither indexes/x nor indexes/
    assert runner.invoke(app, ["status", "--index", "x"]).exit_code == 3
    # an index that got its folder stays
    make_image(tmp_path / "pics" / "a.png", seed=1)
    assert runner.invoke(app, ["index", str(tmp_path / "pics"), "--index", "x"]).exit_code == 0
    assert (tmp_path / "indexes" / "x" / "manifest.json").is_file()
    assert runner.invoke(app, ["index", "/no/such/folder", "--index", "x"]).exit_code == 2
    assert (tmp_path / "indexes" / "x" / "manifest.json").is_file()
