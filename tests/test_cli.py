"""The CLI through typer's runner: output shapes and exit codes."""

import json

import pytest
from typer.testing import CliRunner

from conftest import make_image
from searchengine.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path, tiny_clip, monkeypatch):
    monkeypatch.setenv("SEARCHENGINE_INDEX_ROOT", str(tmp_path / "idx"))
    monkeypatch.setenv("SEARCHENGINE_MODEL", tiny_clip)
    media = tmp_path / "my photos"
    for i in range(3):
        make_image(media / f"p{i}.jpg", seed=i)
    (media / "note.txt").write_text("a dog running on a beach")
    (media / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    return media


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_index_search_status(env):
    result = invoke("index", env, "--index", "photos")
    assert result.exit_code == 0, result.output
    assert "4 new" in result.output and "1 failed" in result.output and "broken.jpg" in result.output

    result = invoke("search", "a dog running on a beach", "--index", "photos", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert hits[0]["path"].endswith("note.txt") and hits[0]["modality"] == "text"
    assert {"id", "path", "modality", "score", "start", "end", "text"} <= set(hits[0])
    assert hits[0]["text"] == "a dog running on a beach"

    result = invoke("search", "--image", env / "p1.jpg", "--k", "2", "--index", "photos", "--modality", "image", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 2 and hits[0]["path"].endswith("p1.jpg")
    assert all(h["modality"] == "image" for h in hits) and "start" not in hits[0]

    table = invoke("search", "beach", "--index", "photos")
    assert table.exit_code == 0 and "score" in table.output and "note.txt" in table.output

    status = invoke("status", "--index", "photos", "--json")
    data = json.loads(status.output)
    assert data["modalities"]["image"] == {"files": 3, "failed": 1, "units": 3}
    assert data["vectors"] == 4 and data["index_type"] == "flat (exact)"
    assert "broken.jpg" in data["failures"][0]["path"]
    assert "vectors" in invoke("status", "--index", "photos").output


def test_no_matches_is_success(env, tmp_path):
    make_image(tmp_path / "only" / "a.png", 1)
    assert invoke("index", tmp_path / "only", "--index", "one").exit_code == 0
    result = invoke("search", "x", "--index", "one", "--modality", "text")
    assert result.exit_code == 0 and "No matches" in result.output
    assert json.loads(invoke("search", "x", "--index", "one", "--modality", "text", "--json").output) == []


def test_exit_codes(env, tmp_path):
    assert invoke("index", env, "--index", "photos").exit_code == 0
    missing = invoke("search", "dog", "--index", "nope")
    assert missing.exit_code == 3 and "no index" in missing.output
    assert invoke("status", "--index", "nope").exit_code == 3
    empty = invoke("search", "  ", "--index", "photos")
    assert empty.exit_code == 2 and "empty" in empty.output
    bad_image = invoke("search", "--image", env / "broken.jpg", "--index", "photos")
    assert bad_image.exit_code == 2 and "broken.jpg" in bad_image.output
    assert invoke("search", "--image", tmp_path / "absent.jpg", "--index", "photos").exit_code == 2
    assert invoke("search", "--index", "photos").exit_code == 2
    assert invoke("search", "dog", "--k", "0", "--index", "photos").exit_code == 2
    assert invoke("index", tmp_path / "does-not-exist", "--index", "photos").exit_code == 2
    assert invoke("index", env, "--index", "bad name!").exit_code == 2
    other_model = invoke("search", "dog", "--index", "photos", "--model", "open_clip:ViT-B-32/laion2b_s34b_b79k")
    assert other_model.exit_code == 3 and "was built with model" in other_model.output
    (tmp_path / "idx" / "photos" / "manifest.json").write_text("{")
    assert invoke("search", "dog", "--index", "photos").exit_code == 3


@pytest.mark.parametrize("command", ["index", "search", "status", "reindex", "serve", "eval", "forget"])
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_reindex_and_index_type(env):
    assert invoke("index", env, "--index", "photos").exit_code == 0
    # 4 vectors: far too few to train IVF lists, so the engine builds exact search and says so
    result = invoke("reindex", "--index", "photos", "--index-type", "ivf-flat")
    assert result.exit_code == 0, result.output
    assert "flat (exact), 4 vectors (index type: ivf-flat)" in result.output and "too few" in result.output
    data = json.loads(invoke("status", "--index", "photos", "--json").output)
    assert data["index_policy"] == "ivf-flat" and data["index_type"] == "flat (exact)"

    bogus = invoke("reindex", "--index", "photos", "--index-type", "bogus")
    assert bogus.exit_code == 2 and "--index-type" in bogus.output and "ivf-sq8" in bogus.output
    assert invoke("index", env, "--index", "photos", "--index-type", "bogus").exit_code == 2
    assert invoke("reindex", "--index", "nope").exit_code == 3

    # an existing index: --index-type other than its own rebuilds it after indexing
    again = invoke("index", env, "--index", "photos", "--index-type", "auto", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["reindexed"]["name"] == "flat"
    assert json.loads(invoke("status", "--index", "photos", "--json").output)["index_policy"] == "auto"
    same = invoke("index", env, "--index", "photos", "--index-type", "auto")
    assert same.exit_code == 0 and "index type:" not in same.output

    # a new index takes it as its policy
    assert invoke("index", env, "--index", "exact", "--index-type", "flat").exit_code == 0
    assert json.loads(invoke("status", "--index", "exact", "--json").output)["index_policy"] == "flat"


def test_serve_refuses_other_hosts_without_a_token(env):
    assert invoke("index", env, "--index", "photos").exit_code == 0
    result = invoke("serve", "--index", "photos", "--host", "0.0.0.0")
    assert result.exit_code == 2 and "--token" in result.output
    missing = invoke("serve", "--index", "nope")
    assert missing.exit_code == 3 and "no index" in missing.output


def test_more_bad_input_gets_clean_exit_codes(env, tmp_path):
    import sqlite3

    assert invoke("index", env, "--index", "photos").exit_code == 0
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "keep.txt").write_text("mine")
    not_an_index = invoke("index", env, "--index", tmp_path / "stuff")
    assert not_an_index.exit_code == 3 and "not a searchengine index" in not_an_index.output
    assert (tmp_path / "stuff").iterdir().__next__().name == "keep.txt"
    blocked = invoke("index", env, "--index", tmp_path / "idx" / "photos" / "metadata.sqlite" / "x")
    assert blocked.exit_code == 3 and "cannot create" in blocked.output
    (tmp_path / "data.bin").write_bytes(b"\x00")
    assert invoke("index", tmp_path / "data.bin", "--index", "photos").exit_code == 2

    bad_manifest = tmp_path / "m.jsonl"
    bad_manifest.write_bytes(b'{"path": "a.png", "modality": "image", "texts": ["a"]}\n\xff\xfe bad\n')
    result = invoke("eval", bad_manifest)
    assert result.exit_code == 2 and "m.jsonl:2" in result.output and "UTF-8" in result.output
    result = invoke("eval", bad_manifest, "--json", tmp_path / "no" / "such" / "r.json")
    assert result.exit_code == 2 and "does not exist" in result.output
    assert invoke("eval", tmp_path).exit_code == 2

    folder = tmp_path / "idx" / "photos"
    with sqlite3.connect(folder / "metadata.sqlite") as db:
        db.execute("DROP TABLE units")
    dropped = invoke("search", "dog", "--index", "photos")
    assert dropped.exit_code == 3 and "units" in dropped.output
    (folder / "manifest.json").write_text("[]")
    assert invoke("status", "--index", "photos").exit_code == 3
