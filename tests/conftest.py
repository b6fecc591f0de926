from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from tiny_clip import write_tiny_clip  # noqa: E402

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Sound events are off unless a test turns them on (tests/test_sounds.py): the other tests'
# tones and noises would otherwise add units of kind "sound" to what they count, depending
# on whether the model file happens to be installed.
os.environ.setdefault("SEARCHENGINE_SOUNDS", "off")
os.environ.setdefault("SEARCHENGINE_READ_TEXT", "now")  # the suite reads text in-process (test_background_text: the reader)
# Exported ONNX graphs go to one throw-away cache per test session, not the user's cache.
if "SEARCHENGINE_CACHE_DIR" not in os.environ:
    os.environ["SEARCHENGINE_CACHE_DIR"] = tempfile.mkdtemp(prefix="searchengine-test-cache-")
    atexit.register(shutil.rmtree, os.environ["SEARCHENGINE_CACHE_DIR"], ignore_errors=True)
CACHE_DIR = Path(os.environ["SEARCHENGINE_CACHE_DIR"])



@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> str:
    """Spec of a tiny random open_clip model, loaded through the production loader."""
    return write_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture
def settings(tmp_path, tiny_clip):
    from searchengine import Settings

    return Settings(index_root=tmp_path / "indexes", model=tiny_clip, batch_size=4, cache_dir=CACHE_DIR,
                    sounds="off")  # on in tests/test_sounds.py (see SEARCHENGINE_SOUNDS above)


REQUIRE_POSTGRES = os.environ.get("SEARCHENGINE_REQUIRE_POSTGRES") == "1"  # set by .ci/run


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL 15 server for the session (see tests/pg_server.py). Without one the
    PostgreSQL tests skip, saying why - or fail, under CI (SEARCHENGINE_REQUIRE_POSTGRES=1)."""
    import pg_server as pg

    why = pg.available()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        why = why or "psycopg is not installed (pip install 'psycopg[binary]')"
    if why:
        (pytest.fail if REQUIRE_POSTGRES else pytest.skip)(f"PostgreSQL tests need a server: {why}")
    server = pg.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    """The URL of a new, empty database on the session's server, dropped after the test."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """Both backends: None (the folder's SQLite file), then a PostgreSQL database URL."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_url")


def run_sql(engine, *statements: str) -> None:
    """Raw SQL on an index's database, whichever backend (an engine that may be closed)."""
    from sqlalchemy import create_engine, text

    url = engine.settings.database_url or f"sqlite:///{engine.layout.database}"
    db = create_engine(url)
    try:
        with db.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        db.dispose()


@pytest.fixture
def open_engine(settings):
    from searchengine import SearchEngine

    opened = []

    def _open(name: str = "test", **kw):
        engine = SearchEngine.open(name, settings=kw.pop("settings", settings), **kw)
        opened.append(engine)
        return engine

    yield _open
    for engine in opened:
        engine.close()


def make_image(path: Path, seed: int, size=(48, 40), fmt: str | None = None) -> Path:
    """A distinct picture: random blocks of colour, deterministic in ``seed``."""
    rng = np.random.RandomState(seed)
    small = (rng.rand(4, 4, 3) * 255).astype("uint8")
    img = Image.fromarray(small).resize(size, Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt)
    return path


def assert_error(response, status, code):
    """The one JSON error shape of the HTTP API, with this status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status and body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def assert_consistent(engine) -> None:
    """SQL and FAISS hold exactly the same ids."""
    sql_ids = sorted(int(i) for ids, _ in engine.repo.iter_vectors(engine.vectors.dim) for i in ids)
    faiss_ids = sorted(int(i) for i in engine.vectors.ids())
    assert engine.repo.unit_count() == engine.vectors.ntotal
    assert sql_ids == faiss_ids


SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="session")
def offline_settings(tmp_path_factory):
    """The offline profile with real packaged weights; Whisper tiny.en for speed."""
    from searchengine import Settings

    return Settings(index_root=tmp_path_factory.mktemp("offline-indexes"), model="offline:minilm-effnet",
                    asr_model="tiny.en", cache_dir=CACHE_DIR, sounds="off")


@pytest.fixture(scope="session")
def samples_engine(offline_settings):
    """The project's sample media indexed once with the offline profile."""
    from searchengine import SearchEngine

    engine = SearchEngine.open("samples", settings=offline_settings)
    report = engine.index([SAMPLES])
    assert report.failed == 0, report.failures
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium (tests/browser_kit.py), 1280 x 900, one per test module."""
    import browser_kit

    browser_kit.require_browser()
    driver = browser_kit.start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()
