"""The background text reader (pipeline.text_reader), in real processes with real OCR on
rendered signs: `searchengine index` returns with every photo searchable and a detached
reader reads the text after it; `status --wait` waits for it; another writer makes it stop
and save (no IndexBusyError); a reader killed with SIGKILL loses and doubles nothing;
``--read-text next-run`` leaves the text and starts nothing; the child gets the same settings.

The waits are bounded polls of the index's state (never sleeps that assume a speed)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searchengine import Settings
from searchengine.catalog.write_locks import FileWriteLock, YieldingWriteLock, text_reader_pid
from searchengine.errors import IndexBusyError, InvalidInputError
from searchengine.evaluation.rendered_text import background, find_fonts, render
from searchengine.ocr import reader as ocr_reader

needs_ocr = pytest.mark.skipif(not ocr_reader.available() or not find_fonts(),
                               reason="rapidocr-onnxruntime or a Latin font is missing")

WORDS = ("Harbour", "Bakery", "Luggage", "Platform", "Reading", "Northern", "Garden", "Museum", "Theatre",
         "Library", "Station", "Market", "Bridge", "Castle", "River", "Pharmacy", "Hospital", "Airport",
         "Cinema", "Stadium")
SIGNS = 40  # enough that the reader is still reading when a test acts on it
ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 300.0  # every wait is bounded by this (the reader reads a sign in well under a second)


@pytest.fixture
def media(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    font = find_fonts()[0]
    for n in range(SIGNS):
        picture, _ = render(background(n + 1), f"{WORDS[n % len(WORDS)]} {n + 10} Exit", font, 44, at=(0.1, 0.3))
        picture.save(folder / f"sign{n:02d}.jpg", quality=92)
    background(99).save(folder / "plain.jpg", quality=92)
    return folder


@pytest.fixture
def cli(tmp_path, tiny_clip):
    """Runs `searchengine ARGS` on the index folder tmp/index, as a user would (the CLI's
    default --read-text: background)."""
    env = {k: v for k, v in os.environ.items() if k != "SEARCHENGINE_READ_TEXT"}
    env.update(SEARCHENGINE_MODEL=tiny_clip, SEARCHENGINE_BATCH_SIZE="4", SEARCHENGINE_OCR="on",
               SEARCHENGINE_CHECKPOINT_SECONDS="1", PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    index = tmp_path / "index"

    def run(*args: str, timeout: float = WAIT_S) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "searchengine.cli", *args, "--index", str(index)], env=env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"searchengine {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    run.index = index  # type: ignore[attr-defined]
    yield run
    pid = text_reader_pid(index / "text-reader.pid")
    if pid and pid > 0:  # a test that failed half-way: its reader does not outlive it
        os.kill(pid, signal.SIGKILL)


def _state(index: Path) -> dict:
    """What SQL says now: files, ocr units per sign, photos left to read, cached readings."""
    with sqlite3.connect(f"file:{index / 'metadata.sqlite'}?mode=ro", uri=True, timeout=10) as conn:
        files = dict(conn.execute("SELECT path, id FROM media_files WHERE status = 'indexed'").fetchall())
        ocr: dict[str, int] = {Path(p).name: 0 for p in files}
        for path, n in conn.execute("SELECT f.path, count(*) FROM units u JOIN media_files f ON f.id = u.file_id "
                                    "WHERE u.kind = 'ocr' GROUP BY f.path"):
            ocr[Path(path).name] = n
        left = conn.execute("SELECT count(*) FROM media_files f WHERE f.modality = 'image' AND "
                            "f.status = 'indexed' AND NOT EXISTS (SELECT 1 FROM image_texts t WHERE "
                            "t.content_hash = f.content_hash AND t.source = ?)", (ocr_reader.SOURCE,)).fetchone()[0]
        readings = conn.execute("SELECT count(*), count(DISTINCT content_hash) FROM image_texts").fetchone()
        units = conn.execute("SELECT count(*) FROM units").fetchone()[0]
        picture_units = conn.execute("SELECT count(DISTINCT file_id) FROM units WHERE kind != 'ocr'").fetchone()[0]
    return {"files": len(files), "ocr": ocr, "left": left, "readings": readings, "units": units,
            "searchable": picture_units}


def _wait_until(check, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def _complete(cli, index: Path) -> None:
    """Every sign read once: one text unit each (none on the plain photo), one cached reading
    per picture, nothing left, no reader running, FAISS holding every unit."""
    state = _state(index)
    assert state["left"] == 0
    assert {name: n for name, n in state["ocr"].items() if n != 1} == {"plain.jpg": 0}, state["ocr"]
    assert state["readings"][0] == state["readings"][1] >= SIGNS + 1  # one reading a picture (kept by content)
    status = json.loads(cli("status", "--json").stdout)
    assert status["text_to_read"] == 0 and status["text_reader_pid"] is None
    assert status["vectors"] == state["units"] == 2 * SIGNS + 1
    found = json.loads(cli("search", "Harbour 10", "--mode", "keyword", "--json").stdout)
    assert found and Path(found[0]["path"]).name == "sign00.jpg" and found[0]["kind"] == "ocr"


@needs_ocr
def test_index_returns_searchable_and_status_wait_sees_the_text_read(cli, media):
    out = cli("index", str(media)).stdout
    index = cli.index
    state = _state(index)
    # returned: every photo searchable by its picture, the text (mostly) still to read
    assert state["files"] == SIGNS + 1 and state["searchable"] == SIGNS + 1
    pid = text_reader_pid(index / "text-reader.pid")
    assert state["left"] > 0 or pid is not None
    assert "being read in the background" in out and "status --wait" in out
    waited = cli("status", "--wait")
    assert "still to read" not in waited.stdout
    _complete(cli, index)
    log = (index / "text-reader.log").read_text()
    assert f"read text in {SIGNS + 1} photos" in log or "read text in" in log


@needs_ocr
def test_another_index_while_the_reader_reads_makes_it_yield(cli, media):
    cli("index", str(media))
    index = cli.index
    pid = _wait_until(lambda: text_reader_pid(index / "text-reader.pid"), "the reader")
    # the reader is mid-way: some signs read, most still to read
    _wait_until(lambda: 0 < _state(index)["left"] < SIGNS + 1, "the first readings")
    assert text_reader_pid(index / "text-reader.pid") == pid, "the reader finished before the test could act"
    more = background(98)
    more.save(media / "plain2.jpg", quality=92)
    second = cli("index")  # not busy: the reader stops, saves, and this run takes over
    assert "1 new" in second.stdout
    cli("status", "--wait")
    (media / "plain2.jpg").unlink()
    cli("index", "--read-text", "now")
    _complete(cli, index)
    assert "stopped" in (index / "text-reader.log").read_text()


@needs_ocr
def test_a_reader_killed_mid_way_loses_and_doubles_nothing(cli, media):
    cli("index", str(media))
    index = cli.index
    pid = _wait_until(lambda: text_reader_pid(index / "text-reader.pid"), "the reader")
    _wait_until(lambda: 0 < _state(index)["left"] < SIGNS - 5, "some readings")
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: text_reader_pid(index / "text-reader.pid") is None, "the reader's end")
    assert 0 < _state(index)["left"]
    cli("index", "--read-text", "now")
    _complete(cli, index)


@needs_ocr
def test_next_run_leaves_the_text_and_starts_no_reader(cli, media):
    out = cli("index", str(media), "--read-text", "next-run").stdout
    index = cli.index
    assert "Text still to read in" in out
    assert not (index / "text-reader.pid").exists() and not (index / "text-reader.log").exists()
    assert _state(index)["left"] == SIGNS + 1
    status = json.loads(cli("status", "--json").stdout)
    assert status["text_to_read"] == SIGNS + 1 and status["text_reader_pid"] is None
    cli("status", "--wait")  # no reader: returns at once
    cli("index", "--read-text", "now")
    _complete(cli, index)


def test_settings_travel_to_the_reader_through_the_environment(monkeypatch, tmp_path):
    settings = Settings(index_root=tmp_path / "idx", model="offline:e5-effnet", batch_size=7, decode_workers=1,
                        chunk_chars=300, chunk_overlap=20, checkpoint_seconds=2.5, follow_symlinks_outside=True,
                        precision="int8", ocr="on", sounds="off", cache_dir=tmp_path / "cache", language=None,
                        video_scene_threshold=0.25, read_text="background")
    for name in list(os.environ):
        if name.startswith("SEARCHENGINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SEARCHENGINE_LANGUAGE", "fr")  # the parent's: a None setting removes it
    for key, value in settings.to_env().items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    assert Settings.from_env() == settings
    assert Settings().read_text == "now"  # the Python API reads the text before index() returns
    assert Settings.from_env().with_(read_text="next-run").to_env()["SEARCHENGINE_READ_TEXT"] == "next-run"
    with pytest.raises(InvalidInputError, match="read_text"):
        Settings(read_text="later")


def _hold(path: Path, text: str = "") -> subprocess.Popen:
    """Another process holding an flock on ``path`` until killed."""
    code = ("import fcntl, sys, time; h = open(sys.argv[1], 'a+'); fcntl.flock(h, fcntl.LOCK_EX); "
            "h.seek(0); h.truncate(); h.write(sys.argv[2]); h.flush(); print('held', flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), text], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_writer_waits_only_for_the_reader_and_not_for_ever(tmp_path):
    pid_file, stop_file = tmp_path / "text-reader.pid", tmp_path / "text-reader.stop"
    lock = YieldingWriteLock(FileWriteLock(tmp_path / "write.lock"), pid_file, stop_file, wait_s=1.0)
    writer = _hold(tmp_path / "write.lock")
    try:  # another writer (no reader runs): busy at once, no stop file
        t0 = time.monotonic()
        with pytest.raises(IndexBusyError, match="another process is indexing"):
            lock.acquire()
        assert time.monotonic() - t0 < 0.9 and not stop_file.exists()
        reader = _hold(pid_file, "4242")  # a "reader" that never stops: asked, waited for, then busy
        try:
            assert text_reader_pid(pid_file) == 4242
            with pytest.raises(IndexBusyError, match="did not stop within 1 s"):
                lock.acquire()
        finally:
            reader.kill()
            reader.wait()
        assert not stop_file.exists() and text_reader_pid(pid_file) is None
    finally:
        writer.kill()
        writer.wait()
    lock.acquire()  # free: taken at once
    lock.release()
    with open(pid_file) as handle:  # text_reader_pid left the file unlocked
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


@needs_ocr
def test_on_postgresql_the_reader_yields_the_advisory_lock(media, pg_url, settings):
    """SQL in PostgreSQL: the reader holds the advisory lock and the folder's; a writer on
    this machine makes it stop, through the Python API (``read_text="background"``)."""
    from dataclasses import replace

    from sqlalchemy import text

    from searchengine import SearchEngine

    settings = replace(settings, database_url=pg_url, ocr="on", checkpoint_seconds=1.0, read_text="background")
    with SearchEngine.open("pg", settings=settings) as engine:
        report = engine.index([media])
        assert report.text_pending == SIGNS + 1 and report.text_reader is not None
        pid_file = engine.layout.text_reader_pid

        def left() -> int:
            return engine.status().text_to_read or 0

        _wait_until(lambda: 0 < left() < SIGNS + 1, "the first readings")
        assert text_reader_pid(pid_file) == report.text_reader, "the reader finished before the test could act"
        again = engine.index(read_text="now")  # the reader stops; this run reads the rest
        assert again.text_pending == 0 and left() == 0
        _wait_until(lambda: text_reader_pid(pid_file) is None, "the reader's end")
        with engine.repo.engine.connect() as conn:
            per_file = dict(conn.execute(text(
                "SELECT f.path, count(u.id) FROM media_files f LEFT JOIN units u ON u.file_id = f.id "
                "AND u.kind = 'ocr' GROUP BY f.path")).all())
        assert {Path(p).name: n for p, n in per_file.items() if n != 1} == {"plain.jpg": 0}
        assert engine.status().vectors == SIGNS * 2 + 1
    assert "stopped" in (settings.index_root / "pg" / "text-reader.log").read_text()


def test_a_text_search_while_the_reader_runs_says_words_in_photos_may_be_missing(cli, media):
    """The reader is "running" while its pid file is locked (as the reader holds it); a text
    search then says so on stderr, a picture search and a search after it ends do not."""
    cli("index", str(media), "--read-text", "next-run")
    pid_file = cli.index / "text-reader.pid"
    with open(pid_file, "w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write(str(os.getpid()))
        held.flush()
        assert "still being read" in cli("search", "Harbour").stderr
        assert "still being read" not in cli("search", "--image", str(media / "plain.jpg")).stderr
    assert "still being read" not in cli("search", "Harbour").stderr
