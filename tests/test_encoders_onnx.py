"""ONNX Runtime encoders: the same vectors as torch (fp32) or close to them (int8), exported
once and reused, towers loaded lazily, and no torch in a query process that has its export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import SAMPLES, make_image

TEXTS = ["a dog running on a beach", "Ünïcode café naïve — «quotes»", "a " * 120, "",
         "3.14 numbers, 42 and &amp; html", "don't we'll they're", "一只狗 中文"]


def _images():
    rng = np.random.RandomState(0)
    shapes = [(40, 50), (50, 40), (32, 32), (300, 200), (17, 90)]
    return [Image.fromarray((rng.rand(h, w, 3) * 255).astype("uint8")) for h, w in shapes]


def _cos(a, b):
    return (np.asarray(a) * np.asarray(b)).sum(axis=1)


def test_clip_tokenizer_matches_open_clip(tmp_path):
    import open_clip

    from searchengine.encoders.clip_tokenizer import ClipTokenizer, write_tables

    theirs = open_clip.get_tokenizer("ViT-B-32")(TEXTS).numpy()
    assert np.array_equal(ClipTokenizer(Path(open_clip.tokenizer.default_bpe()))(TEXTS), theirs)
    write_tables(Path(open_clip.tokenizer.default_bpe()), tmp_path / "tables.json")
    assert np.array_equal(ClipTokenizer(tmp_path / "tables.json")(TEXTS), theirs)


def test_numpy_image_preparation_matches_torchvision(tiny_clip):
    import open_clip

    from searchengine.encoders.preprocess import ImagePrep

    _, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    prep = ImagePrep(224, 224, open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD)
    for img in _images():
        assert np.allclose(prep(img), preprocess(img).numpy(), atol=1e-4)


@pytest.fixture(scope="module")
def towers(tiny_clip, tmp_path_factory):
    from searchengine.encoders.open_clip_backend import OpenClipEncoder, _load_torch, load

    cache = tmp_path_factory.mktemp("onnx-cache")
    name = tiny_clip.split(":", 1)[1]
    model, preprocess, tokenizer = _load_torch(tiny_clip, name, "cpu")
    return {
        "torch": OpenClipEncoder(tiny_clip, model, preprocess, tokenizer, "cpu"),
        "fp32": load(tiny_clip, name, "cpu", "fp32", cache),
        "int8": load(tiny_clip, name, "cpu", "int8", cache),
        "cache": cache,
    }


def test_onnx_towers_give_torchs_vectors(towers):
    from searchengine.encoders.base import encode_images

    ref_t, ref_i = towers["torch"].encode_texts(TEXTS), encode_images(towers["torch"], _images())
    fp32, int8 = towers["fp32"], towers["int8"]
    assert type(fp32).__name__ == "OpenClipOnnxEncoder" and fp32.precision == "fp32" and int8.precision == "int8"
    assert _cos(fp32.encode_texts(TEXTS), ref_t).min() > 0.9999
    assert _cos(encode_images(fp32, _images()), ref_i).min() > 0.9999
    assert _cos(int8.encode_texts(TEXTS), ref_t).min() >= 0.98
    assert _cos(encode_images(int8, _images()), ref_i).min() >= 0.98


def test_export_happens_once_and_is_complete(towers, tiny_clip):
    from searchengine.encoders.open_clip_backend import load

    folders = list((towers["cache"] / "onnx").iterdir())
    folders = [f for f in folders if f.is_dir() and not f.name.startswith(".")]
    assert len(folders) == 1
    folder = folders[0]
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["dim"] == 32 and meta["onnx"] is True
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert {"text.fp32.onnx", "text.int8.onnx", "image.fp32.onnx", "image.int8.onnx",
            "bpe_tables.json"} <= set(stamps)
    again = load(tiny_clip, tiny_clip.split(":", 1)[1], "cpu", "int8", towers["cache"])
    assert again.dim == 32
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps


def test_new_weights_get_a_new_export(tmp_path):
    from tiny_clip import write_tiny_clip

    from searchengine.encoders.open_clip_backend import _weights_identity

    spec = write_tiny_clip(tmp_path / "m", seed=1)
    name = spec.split(":", 1)[1]
    before = _weights_identity(spec, name)
    os.utime(tmp_path / "m" / "open_clip_pytorch_model.bin", ns=(1, 1))
    assert _weights_identity(spec, name) != before


def test_towers_load_on_first_use(towers):
    from searchengine.encoders.open_clip_backend import load

    fresh = load(towers["torch"].spec, towers["torch"].spec.split(":", 1)[1], "cpu", "int8", towers["cache"])
    fresh = type(fresh)(fresh.spec, fresh._folder, json.loads((fresh._folder / "meta.json").read_text()), "int8")
    assert not fresh._text.loaded and not fresh._image.loaded
    fresh.encode_texts(["a cat"])
    assert fresh._text.loaded and not fresh._image.loaded


def test_precision_rules():
    from searchengine.encoders.precision import resolve_precision
    from searchengine.errors import InvalidInputError

    assert resolve_precision("auto", "cpu") == "int8"
    assert resolve_precision("auto", "cpu", cpu_auto="fp32") == "fp32"
    assert resolve_precision("auto", "cuda") == "fp16"
    assert resolve_precision("fp32", "cuda:0") == "fp32"
    for bad, device in (("int8", "cuda"), ("fp16", "cpu"), ("bf17", "cpu")):
        with pytest.raises(InvalidInputError):
            resolve_precision(bad, device)


def test_offline_int8_stays_close_to_fp32(offline_settings):
    from searchengine.encoders.base import encode_images
    from searchengine.encoders.registry import load_encoder
    from searchengine.media.images import load_image

    fp32 = load_encoder("offline:minilm-effnet", "cpu", "fp32", offline_settings.cache_dir)
    int8 = load_encoder("offline:minilm-effnet", "cpu", "int8", offline_settings.cache_dir)
    photos = [load_image(p) for p in sorted((SAMPLES / "images").iterdir())]
    assert _cos(encode_images(int8, photos), encode_images(fp32, photos)).min() >= 0.98
    notes = [p.read_text() for p in sorted((SAMPLES / "notes").glob("*.txt"))]
    texts = [t for t in TEXTS if t.strip()] + notes  # an empty text is never indexed or queried
    assert _cos(int8.encode_texts(texts), fp32.encode_texts(texts)).min() >= 0.98


def test_index_records_precision_and_refuses_another(open_engine, settings, tmp_path):
    from searchengine.errors import IndexIncompatibleError

    make_image(tmp_path / "m" / "a.png", seed=1)
    engine = open_engine("prec", settings=settings.with_(precision="fp32"))
    engine.index([tmp_path / "m"])
    assert engine.status().precision == "fp32"
    engine.close()
    assert open_engine("prec").precision == "fp32"  # auto: the index's own
    with pytest.raises(IndexIncompatibleError, match="precision fp32"):
        open_engine("prec", settings=settings.with_(precision="int8"))


def test_unchanged_reindex_loads_no_model(open_engine, tmp_path):
    media = tmp_path / "m"
    for i in range(3):
        make_image(media / f"{i}.png", seed=i)
    (media / "n.txt").write_text("a note about a dog")
    first = open_engine("lazy")
    assert first.index([media]).model_loaded
    first.close()
    again = open_engine("lazy")
    report = again.index([media])
    assert report.unchanged == 4 and not report.model_loaded and not again.model_loaded
    assert not again.catalog.loaded  # nor the FAISS index
    (media / "new.txt").write_text("a new note")
    report = again.index([media])
    assert report.added == 1 and report.model_loaded


def test_fresh_text_query_process_imports_no_torch(offline_settings, samples_engine):
    code = (
        "import sys\n"
        "from searchengine import SearchEngine, Settings\n"
        "from pathlib import Path\n"
        f"s = Settings(index_root=Path({str(offline_settings.index_root)!r}), cache_dir=Path({str(offline_settings.cache_dir)!r}))\n"
        "with SearchEngine.open('samples', settings=s, create=False) as e:\n"
        "    hits = e.search('a cat lying on a rug', k=3)\n"
        "print(hits[0].path)\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'sentence_transformers', 'transformers', 'open_clip') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    top, imported = out.stdout.strip().splitlines()
    assert top.endswith("cat.txt") or top.endswith("chelsea.png")
    assert imported == "[]"


def test_auto_precision_per_backend(offline_settings, tiny_clip):
    from searchengine.encoders.registry import load_encoder

    assert load_encoder("offline:minilm-effnet", "cpu", "auto", offline_settings.cache_dir).precision == "fp32"
    assert load_encoder(tiny_clip, "cpu", "auto", offline_settings.cache_dir).precision == "int8"
