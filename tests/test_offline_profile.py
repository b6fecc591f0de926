"""The offline profile (MiniLM + EfficientNet-Lite0 via ConSE) with its real packaged weights,
on the project's real sample photos."""

import numpy as np
import pytest

from conftest import SAMPLES
from searchengine.encoders.registry import load_encoder, resolve_auto


def _top_image(engine, query):
    return engine.search(query, k=1, modality="image")[0].path


@pytest.mark.parametrize("query,photo", [
    ("a cat", "chelsea.png"),
    ("a cup of coffee", "coffee.png"),
    ("a space rocket", "rocket.jpg"),
    ("old coins", "coins.png"),
])
def test_text_query_ranks_the_right_real_photo_first(samples_engine, query, photo):
    assert _top_image(samples_engine, query) == str(SAMPLES / "images" / photo)


def test_image_query_finds_the_note_about_it(samples_engine):
    hits = samples_engine.search(image=SAMPLES / "images" / "chelsea.png", k=1, modality="text")
    assert hits[0].path == str(SAMPLES / "notes" / "cat.txt")


def test_conse_is_a_normalised_convex_combination():
    enc = load_encoder("offline:minilm-effnet")
    probs = np.zeros((1, 1000), dtype=np.float32)
    probs[0, [281, 285]] = [0.75, 0.25]  # tabby, Egyptian cat
    from searchengine.encoders.offline_backend import conse

    classes = enc.class_vectors()
    vec = conse(probs, classes, top_t=2)[0]
    expected = 0.75 * classes[281] + 0.25 * classes[285]
    assert np.allclose(vec, expected / np.linalg.norm(expected), atol=1e-5)
    assert enc.dim == 384 and np.isclose(np.linalg.norm(vec), 1.0)


def test_auto_picks_the_offline_profile_without_network_or_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    spec, why = resolve_auto("auto")
    assert spec == "offline:e5-effnet" and "offline" in why
    assert resolve_auto("open_clip:local-dir:/x") == ("open_clip:local-dir:/x", "")


def test_auto_index_records_the_concrete_model(monkeypatch, tmp_path, offline_settings):
    from searchengine import SearchEngine

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    settings = offline_settings.with_(index_root=tmp_path, model="auto")
    with SearchEngine.open("auto", settings=settings) as engine:
        engine.index([SAMPLES / "notes"])
        assert engine.status().model == "offline:e5-effnet"
    with SearchEngine.open("auto", settings=settings, model="auto") as again:  # auto = no preference
        assert again.search("espresso", k=1)[0].path.endswith("espresso.md")


@pytest.fixture(scope="module")
def e5_samples(offline_settings, tmp_path_factory):
    """The sample photos and notes (English and Chinese) indexed with offline:e5-effnet."""
    from searchengine import SearchEngine

    settings = offline_settings.with_(index_root=tmp_path_factory.mktemp("e5"), model="offline:e5-effnet")
    extra = tmp_path_factory.mktemp("e5-extra")
    # shares one word with the questions about tea, in its name: "history"
    (extra / "railway-history.md").write_text(
        "The first steam locomotives pulled coal wagons in the north of England; passenger "
        "lines followed in 1830, and within twenty years rails joined most large towns.\n")
    engine = SearchEngine.open("e5", settings=settings)
    report = engine.index([SAMPLES / "images", SAMPLES / "notes", extra])
    assert report.failed == 0, report.failures
    yield engine
    engine.close()


@pytest.mark.parametrize("query", [
    "the history of tea drinking in China",
    "water temperature for green tea",
    "a book about tea from the Tang dynasty",
    "中国人喝茶的历史",
])
def test_english_and_chinese_queries_find_the_chinese_note_above_every_photo(e5_samples, query):
    # photos are blends of class vectors: without taking e5's common direction out of every
    # vector they sat in the middle of the space and outranked text in another language
    top = e5_samples.search(query, k=1, mode="vector")[0]
    assert top.path == str(SAMPLES / "notes" / "茶.md"), top


@pytest.mark.parametrize("query", ["the history of tea drinking in China", "water temperature for green tea"])
def test_hybrid_does_not_let_one_common_word_outrank_the_answer(e5_samples, query):
    # "history" is in railway-history.md's name: a keyword hit holding one of the question's
    # four words adds nothing to the fusion (MIN_COVERAGE), so the Chinese note stays first
    top = e5_samples.search(query, k=1)[0]
    assert top.path == str(SAMPLES / "notes" / "茶.md"), top


@pytest.mark.parametrize("query,photo", [("a cat", "chelsea.png"), ("一只猫", "chelsea.png"),
                                         ("一杯咖啡", "coffee.png"), ("a space rocket", "rocket.jpg")])
def test_e5_text_query_ranks_the_right_photo_first(e5_samples, query, photo):
    assert _top_image(e5_samples, query) == str(SAMPLES / "images" / photo)
