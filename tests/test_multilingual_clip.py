"""Multilingual open_clip models (``xlm-roberta-base-ViT-B-32``: a Hugging Face XLM-RoBERTa
text tower and a ViT image tower) load through ``open_clip:local-dir:PATH`` offline. A tiny
random model of that architecture is built at test time (tests/tiny_xlmr.py); random weights
allow no quality assertion, only shape, normalisation and determinism."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import CACHE_DIR, make_image
from tiny_xlmr import write_tiny_xlmr_clip

ZH = ["一只狗在公园里", "这是一条中文笔记，关于猫和狗。"]
EN = ["a dog runs near the tree", "a photo of the city"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def xlmr_spec(tmp_path_factory) -> str:
    return write_tiny_xlmr_clip(tmp_path_factory.mktemp("tiny_xlmr"))


@pytest.fixture
def encoder(xlmr_spec):
    from searchengine.encoders.registry import load_encoder

    return load_encoder(xlmr_spec, "cpu", "fp32", CACHE_DIR)


def test_hf_text_tower_model_loads_from_local_dir(encoder, xlmr_spec):
    from searchengine.encoders.registry import load_encoder

    assert encoder.dim == 32
    # an HF tokenizer has no torch-free port: on the CPU the model runs on torch, at fp32,
    # whatever precision was asked for
    assert encoder.precision == "fp32"
    assert load_encoder(xlmr_spec, "cpu", "auto", CACHE_DIR).precision == "fp32"


def test_tiny_tokenizer_is_xlmr_shaped(xlmr_spec):
    import open_clip

    tokenizer = open_clip.get_tokenizer(xlmr_spec[len("open_clip:"):])
    tokens = tokenizer(ZH + EN).numpy()
    assert tokens.shape == (4, 77)
    assert (tokens[:, 0] == 0).all()  # <s>
    assert not (tokens == 3).any()  # no <unk>: the corpus covers these texts
    for row in tokens:
        length = int((row != 1).sum())  # <pad> is 1
        assert row[length - 1] == 2 and (row[length:] == 1).all()  # </s> then padding


def test_encodes_chinese_and_english_to_unit_vectors(encoder):
    vectors = encoder.encode_texts(ZH + EN)
    assert vectors.shape == (4, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # deterministic: the same text twice gives the same vector, in or out of a batch
    again = encoder.encode_texts([ZH[0], ZH[0]])
    np.testing.assert_allclose(again[0], again[1], atol=1e-6)
    np.testing.assert_allclose(again[0], vectors[0], atol=1e-5)
    # different texts give different vectors
    for i in range(len(vectors)):
        for j in range(i + 1, len(vectors)):
            assert not np.allclose(vectors[i], vectors[j], atol=1e-4), (i, j)


def test_encodes_an_image(encoder, tmp_path):
    image = Image.open(make_image(tmp_path / "a.png", seed=1)).convert("RGB")
    vectors = encoder.encode_prepared_images([encoder.prepare_image(image)])
    assert vectors.shape == (1, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_engine_indexes_and_searches_with_a_chinese_query(xlmr_spec, tmp_path):
    from searchengine import SearchEngine, Settings

    media = tmp_path / "media"
    make_image(media / "photo0.png", seed=0)
    make_image(media / "photo1.png", seed=1)
    (media / "笔记.md").write_text("今天的天气很好。我们在公园里看到了一只狗和一只猫。", encoding="utf-8")
    settings = Settings(index_root=tmp_path / "indexes", model=xlmr_spec, batch_size=4,
                        device="cpu", cache_dir=CACHE_DIR)  # precision auto: int8 asked, fp32 run
    engine = SearchEngine.open("zh", settings=settings)
    try:
        engine.index([media])
        hits = engine.search("公园里的狗", k=10)
        assert {h.modality for h in hits} >= {"image", "text"}
        assert len({h.path for h in hits}) == 3
        vector_hits = engine.search("一只猫", k=10, mode="vector")
        assert len(vector_hits) == 3
        assert all(-1.0001 <= h.score <= 1.0001 for h in vector_hits)
    finally:
        engine.close()
