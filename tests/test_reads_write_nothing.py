"""Reading never writes (on real SQLite and a real PostgreSQL server): the engine's getters,
a search, ``status`` and the HTTP service leave an index folder as they found it - a
missing FAISS file is built in memory - and creation is an explicit step: an index run
writes the manifest and the FAISS file (and saves a file that readers found missing)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import assert_consistent, make_image
from searchengine import SearchEngine
from searchengine.cli import app
from searchengine.http.app import create_app
from searchengine.vectors.faiss_index import read_stamp

LOCAL = "http://127.0.0.1:8000"
BUILT_IN_MEMORY = "built the vector index in memory"


@pytest.fixture
def settings(settings, database_url):
    return settings.with_(database_url=database_url)


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "media"
    for i in range(5):
        make_image(root / f"photo{i}.png", seed=i)
    (root / "note.txt").write_text("The harbour crane lifted container MSKU-4471 at dawn.")
    return root


def folder_state(folder: Path) -> dict[str, int]:
    """The index folder's files with their modification times (SQLite's own files left out:
    a reader's connection may touch its WAL companions)."""
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())
            if not p.name.startswith("metadata.sqlite")}


def test_a_search_without_the_faiss_file_builds_it_in_memory_and_writes_nothing(settings, media, caplog):
    with SearchEngine.open("lib", settings=settings) as writer:
        writer.index([media])
        expected = [(h.id, round(h.score, 5)) for h in writer.search("container", k=6)]
        folder = writer.layout.folder
    for name in ("vectors.faiss", "vectors.faiss.stamp.json"):
        (folder / name).unlink()
    before = folder_state(folder)

    with caplog.at_level(logging.INFO, logger="searchengine.catalog.catalog"):
        with SearchEngine.open("lib", settings=settings, create=False) as reader:
            assert [(h.id, round(h.score, 5)) for h in reader.search("container", k=6)] == expected
            assert reader.search(image=media / "photo2.png", k=1)[0].path == str(media / "photo2.png")
            assert reader.vectors.ntotal == reader.repo.unit_count() and reader.catalog.last_build is not None
            assert_consistent(reader)
            assert reader.status().vectors == reader.repo.unit_count()
            assert reader.catalog.kind.name == "flat"
            assert reader.duplicates(kind="near").photos == 5
            client = TestClient(create_app(reader), base_url=LOCAL)  # a long-running reader
            response = client.get("/api/search", params={"q": "container", "k": 6})
            assert response.status_code == 200, response.text
            assert [(h["id"], round(h["score"], 5)) for h in response.json()["hits"]] == expected
    assert folder_state(folder) == before  # no FAISS file, no manifest rewritten, no lock file touched
    told = [r for r in caplog.records if BUILT_IN_MEMORY in r.getMessage()]
    assert len(told) == 1 and told[0].levelno == logging.INFO  # once, naming the command that saves it
    assert "searchengine index" in told[0].getMessage()

    # the writer's next run - even one with nothing to do - saves it; readers then map it
    with SearchEngine.open("lib", settings=settings) as writer:
        assert writer.index([media]).added == 0
        assert read_stamp(writer.layout.vectors)["generation"] == writer.repo.generation()
    with SearchEngine.open("lib", settings=settings, create=False) as reader:
        assert [(h.id, round(h.score, 5)) for h in reader.search("container", k=6)] == expected
        assert reader.catalog.last_build is None and reader.vectors.read_only


def test_a_new_index_is_made_by_its_first_run_not_by_its_getters(settings, media, tmp_path):
    fresh = SearchEngine.open("fresh", settings=settings)  # create=True: the folder and database
    folder = fresh.layout.folder
    assert fresh.encoder.dim > 0 and fresh.model_loaded
    assert fresh.search("container", k=3) == [] and fresh.vectors.ntotal == 0
    assert fresh.status().vectors == 0
    assert not fresh.layout.manifest.exists() and not fresh.layout.vectors.exists()
    if fresh.repo.on_server:
        assert fresh.repo.stored_manifest() is None
    fresh.close()
    if settings.database_url is None:
        assert not folder.exists()  # nothing left behind

    with SearchEngine.open("fresh", settings=settings) as engine:
        engine.index([media])
        assert engine.layout.manifest.is_file() and engine.layout.vectors.is_file()
        assert read_stamp(engine.layout.vectors)["generation"] == engine.repo.generation()
    with SearchEngine.open("fresh", settings=settings, create=False) as again:
        assert again.search("container", k=1)[0].path == str(media / "note.txt")


def test_the_cli_on_a_missing_index_leaves_nothing(tmp_path, tiny_clip, monkeypatch):
    root = tmp_path / "indexes"
    monkeypatch.setenv("SEARCHENGINE_INDEX_ROOT", str(root))
    monkeypatch.setenv("SEARCHENGINE_MODEL", tiny_clip)
    for args in (["search", "dog", "--index", "nope"], ["status", "--index", "nope"],
                 ["reindex", "--index", "nope"], ["duplicates", "--index", "nope"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 3 and "no index" in result.output, (args, result.output)
    assert not root.exists()
