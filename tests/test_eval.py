"""`searchengine eval`: metrics on known rankings, and whole runs through the engine."""

import json
import math
import shutil

import pytest
from typer.testing import CliRunner

from conftest import SAMPLES, make_image
from searchengine.cli import app
from searchengine.errors import InvalidInputError
from searchengine.evaluation.manifest import read_manifest
from searchengine.evaluation.metrics import rank_in_list, rank_of_correct, recall_at, unique_targets
from searchengine.evaluation.runner import run_eval

runner = CliRunner()


def test_rank_counts_ties_against_the_model():
    assert rank_of_correct([("a", 0.9), ("b", 0.8)], {"a"}) == 1
    assert rank_of_correct([("b", 0.9), ("a", 0.8)], {"a"}) == 2
    assert rank_of_correct([("b", 0.8), ("a", 0.8)], {"a"}) == 2
    assert rank_of_correct([("a", 0.8), ("b", 0.8), ("c", 0.8)], {"a"}) == 3
    assert rank_of_correct([("b", 0.9)], {"a"}) == math.inf


def test_any_of_several_correct_texts_counts():
    results = [("x", 0.9), ("cap2", 0.8), ("cap1", 0.7)]
    assert rank_of_correct(results, {"cap1", "cap2"}) == 2


def test_rank_in_list_is_the_order_shown_with_ties_against_the_model():
    assert rank_in_list([("b", 0.9), ("a", 0.95)], {"a"}) == 2  # shown second, whatever its score
    assert rank_in_list([("a", 0.8), ("b", 0.8), ("c", 0.7)], {"a"}) == 2
    assert rank_in_list([("b", 0.9)], {"a"}) == math.inf


def test_recall_and_unique_targets():
    assert recall_at([1, 2, 6, math.inf], [1, 5, 10]) == {"R@1": 0.25, "R@5": 0.5, "R@10": 0.75}
    assert unique_targets([("f", 0.9), ("g", 0.8), ("f", 0.7)]) == [("f", 0.9), ("g", 0.8)]


@pytest.mark.parametrize("line,problem", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "JSON object"),
    ('{"modality": "image", "texts": ["x"]}', "'path'"),
    ('{"path": "a.jpg", "modality": "video", "texts": ["x"]}', "'modality'"),
    ('{"path": "a.jpg", "modality": "image", "texts": []}', "'texts'"),
    ('{"path": "a.jpg", "modality": "image", "texts": ["ok", ""]}', "'texts'"),
])
def test_malformed_manifest_names_the_line(tmp_path, line, problem):
    good = '{"path": "a.jpg", "modality": "image", "texts": ["a"]}'
    path = tmp_path / "m.jsonl"
    path.write_text(f"{good}\n\n{line}\n")
    with pytest.raises(InvalidInputError, match=rf"m.jsonl:3: .*{problem}"):
        read_manifest(path)
    result = runner.invoke(app, ["eval", str(path)])
    assert result.exit_code == 2 and "m.jsonl:3" in result.output


def _manifest(folder, rows):
    path = folder / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_identical_images_tie_and_missing_files_are_skipped(tmp_path, settings):
    make_image(tmp_path / "a.png", 1)
    shutil.copy(tmp_path / "a.png", tmp_path / "b.png")
    make_image(tmp_path / "c.png", 2)
    manifest = _manifest(tmp_path, [
        {"path": "a.png", "modality": "image", "texts": ["alpha"]},
        {"path": "b.png", "modality": "image", "texts": ["beta"]},
        {"path": "c.png", "modality": "image", "texts": ["gamma", "delta"]},
        {"path": "gone.png", "modality": "image", "texts": ["lost"]},
    ])
    report = run_eval(manifest, ks=[1, 3], settings=settings)
    assert report["missing"] == [str(tmp_path / "gone.png")]
    t2i = report["paths"]["vector"]["text_to_image"]
    assert t2i["queries"] == 4  # four captions of present images
    # alpha and beta each tie with the other image: never rank 1; so at most gamma and delta do
    assert t2i["R@1"] <= 0.5 and t2i["R@3"] == 1.0
    assert report["directions"]["image_to_text"]["R@3"] >= 0.5
    assert report["model"] == settings.model and report["items"]["texts"] == 4


def test_known_answers_with_real_weights_in_every_direction(tmp_path, offline_settings):
    rows = [
        {"path": "images/chelsea.png", "modality": "image", "texts": ["a cat"]},
        {"path": "images/coffee.png", "modality": "image", "texts": ["a cup of coffee"]},
        {"path": "images/rocket.jpg", "modality": "image", "texts": ["a space rocket"]},
        {"path": "images/coins.png", "modality": "image", "texts": ["old coins"], "label": "coin"},
        {"path": "images/horse.png", "modality": "image", "texts": ["a horse"], "label": "horse"},
        {"path": "audio/LJ001-0007.wav", "modality": "audio",
         "texts": ["the earliest book printed with movable types, the Gutenberg, or forty-two line Bible"]},
        {"path": "audio/LJ001-0031.wav", "modality": "audio",
         "texts": ["In fourteen sixty-five Sweynheim and Pannartz began printing in the monastery of Subiaco"]},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    shutil.copytree(SAMPLES / "images", tmp_path / "images")
    shutil.copytree(SAMPLES / "audio", tmp_path / "audio")
    report = run_eval(manifest, ks=[1, 5], settings=offline_settings)
    d = report["paths"]["vector"]
    assert d["text_to_image"]["R@1"] >= 0.8 and d["text_to_image"]["R@5"] == 1.0
    assert d["text_to_audio"] == {"queries": 2, "R@1": 1.0, "R@5": 1.0, "median_rank": 1.0}
    assert d["zero_shot"]["queries"] == 2 and d["zero_shot"]["classes"] == 2
    # the default path: hybrid, every kind competing (the texts of the manifest are not in
    # the library while text queries run)
    default = report["directions"]
    assert report["paths"]["default"] is default and report["default_path"]["mode"] == "hybrid"
    assert default["text_to_audio"]["R@1"] == 1.0 and default["text_to_image"]["R@5"] == 1.0
    assert default["image_to_text"] == d["image_to_text"]  # an image query has one path
    assert report["timing"]["queries"] == 2 * (5 + 2) + 5 and report["timing"]["query_p50_ms"] > 0

    a = tmp_path / "a.json"
    a.write_text(json.dumps(report))
    worse = json.loads(json.dumps(report))
    worse["paths"]["default"]["text_to_image"]["R@1"] = 0.2
    b = tmp_path / "b.json"
    b.write_text(json.dumps(worse))
    result = runner.invoke(app, ["eval", "--compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("default.text_to_image.R@1"))
    assert f"{0.2 - default['text_to_image']['R@1']:+.3f}" in line
    assert runner.invoke(app, ["eval", "--compare", str(a), str(tmp_path / "nope.json")]).exit_code == 2


def test_cli_writes_json_and_prints_a_table(tmp_path, tiny_clip, monkeypatch):
    monkeypatch.setenv("SEARCHENGINE_MODEL", tiny_clip)
    make_image(tmp_path / "a.png", 1)
    make_image(tmp_path / "b.png", 2)
    manifest = _manifest(tmp_path, [{"path": "a.png", "modality": "image", "texts": ["x"]},
                                    {"path": "b.png", "modality": "image", "texts": ["y"]}])
    result = runner.invoke(app, ["eval", str(manifest), "--k", "1,2", "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "text→image" in result.output and "R@2" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["directions"]["text_to_image"]["R@2"] == 1.0 and report["ks"] == [1, 2]
    assert runner.invoke(app, ["eval", str(manifest), "--k", "0"]).exit_code == 2


def test_word_error_rate():
    from searchengine.evaluation.wer import word_error_rate

    assert word_error_rate("the cat sat", "the cat sat") == 0
    assert word_error_rate("The cat, sat!", "the cat sat") == 0
    assert word_error_rate("the cat sat", "the dog sat down") == pytest.approx(2 / 3)
    assert word_error_rate("forty-two lines", "forty two lines") == 0


def test_a_corrupt_image_is_counted_and_not_queried(tmp_path, settings):
    make_image(tmp_path / "a.png", 1)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    manifest = _manifest(tmp_path, [{"path": "a.png", "modality": "image", "texts": ["x"]},
                                    {"path": "bad.png", "modality": "image", "texts": ["y"]}])
    report = run_eval(manifest, ks=[1], settings=settings)
    assert report["items"]["failed"] == 1 and "bad.png" in report["failures"][0]["path"]
    assert report["directions"]["text_to_image"]["queries"] == 1
    assert report["directions"]["image_to_text"]["queries"] == 1


def test_distractors_compete_on_the_default_path_only(tmp_path, offline_settings):
    """A note that says what a photo's caption says wins the default path (every kind
    competes) and is not seen by vector search narrowed to photos; a kept index is the
    library alone and is reused by the next run."""
    shutil.copytree(SAMPLES / "images", tmp_path / "images")
    manifest = _manifest(tmp_path, [
        {"path": "images/chelsea.png", "modality": "image", "texts": ["a cat"]},
        {"path": "images/rocket.jpg", "modality": "image", "texts": ["a space rocket"]},
    ])
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n1.txt").write_text("a cat", encoding="utf-8")
    keep = tmp_path / "kept"
    report = run_eval(manifest, ks=[1, 5], settings=offline_settings.with_(ocr="off"), distractors=notes, keep=keep)
    assert report["items"]["distractors"] == 1 and report["default_path"]["distractors"] == str(notes)
    assert report["paths"]["vector"]["text_to_image"]["R@1"] == 1.0
    t2i = report["directions"]["text_to_image"]
    assert t2i["R@1"] == 0.5 and t2i["R@5"] == 1.0  # "a cat": the note first, then the photo
    assert t2i["files_twice_in_top10"] >= 0 and "queries_with_a_file_twice" in t2i

    from searchengine import SearchEngine

    with SearchEngine.open(keep / "index", settings=offline_settings) as engine:  # the library alone
        assert {h.path for h in engine.search("a cat", k=10, mode="keyword")} == {str(notes / "n1.txt")}
    again = run_eval(manifest, ks=[1, 5], settings=offline_settings.with_(ocr="off"), distractors=notes, keep=keep)
    assert again["paths"] == report["paths"]
    # without the distractors the kept index drops them: it is this run's library
    alone = run_eval(manifest, ks=[1, 5], settings=offline_settings.with_(ocr="off"), keep=keep)
    assert alone["directions"]["text_to_image"]["R@1"] == 1.0 and alone["items"]["distractors"] == 0

    result = runner.invoke(app, ["eval", str(manifest), "--distractors", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "--distractors" in result.output
