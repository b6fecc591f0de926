"""Hard to break (issue 11): a tree of 300+ hostile entries of 30+ kinds, walked, decoded and
indexed for real. No hang, no traceback, and every entry accounted for: indexed, failed
with a reason, or skipped with a reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hostile_tree import Entry, build
from searchengine.errors import MediaDecodeError
from searchengine.media import discover as disc
from searchengine.media.audio import decode_audio
from searchengine.media.hashing import content_hash
from searchengine.media.images import load_image
from searchengine.media.regular import open_regular, read_bounded
from searchengine.media.formats.base import Budget
from searchengine.media.kinds import format_of
from searchengine.media.text import read_text
from searchengine.media.pathnames import display_path, is_under

INDEX_TIMEOUT_S = 900  # far above what it takes (~1-2 min on 2 cores): only a hang reaches it


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, list[Entry]]:
    root = tmp_path_factory.mktemp("hostile") / "tree"
    entries = build(root)
    yield root, entries
    for dirpath, dirnames, _ in os.walk(root):  # let pytest clean up the folders we locked
        for d in dirnames:
            try:
                os.chmod(os.path.join(dirpath, d), 0o755, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass
    os.chmod(root / "locked_dir", 0o755)


def _accounted_skip(entry: Entry, skipped: dict[str, disc.SkippedEntry]) -> disc.SkippedEntry | None:
    """The skip of this entry, or of the folder it is in."""
    path = entry.path
    while True:
        if path in skipped:
            return skipped[path]
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def test_the_tree_is_hostile_enough(hostile):
    _, entries = hostile
    assert len(entries) >= 300
    assert len({e.kind for e in entries}) >= 30
    assert len({e.path for e in entries}) == len(entries)


def test_discovery_accounts_for_every_entry_and_never_leaves_the_folder(hostile):
    root, entries = hostile
    found = _run_with_timeout(lambda: disc.discover([root]), 120)
    by_path = {str(f.path): f for f in found.found}
    skipped = {str(s.path): s for s in found.skipped}
    problems = []
    for e in entries:
        skip = _accounted_skip(e, skipped)
        if e.expect.startswith("skipped:"):
            code = e.expect.split(":", 1)[1]
            if e.path in by_path or skip is None or skip.code != code:
                problems.append(f"{display_path(e.path)} ({e.kind}): expected {e.expect}, got "
                                f"{'found' if e.path in by_path else skip and skip.code}")
        elif e.path not in by_path:
            problems.append(f"{display_path(e.path)} ({e.kind}): expected to be found, "
                            f"skipped: {skip and skip.reason}")
    assert not problems, "\n".join(problems)
    real_root = os.path.realpath(root)
    for f in found.found:
        assert is_under(os.path.realpath(f.path), real_root), f.path
    for s in found.skipped:  # every reason names the entry, printably
        assert s.reason.startswith(display_path(s.path)) and s.reason.isprintable()
    assert {s.code for s in found.skipped} >= {disc.SPECIAL, disc.OUTSIDE, disc.LOOP, disc.DANGLING,
                                               disc.DUPLICATE, disc.HIDDEN, disc.UNSUPPORTED, disc.UNREADABLE}


def test_special_files_are_refused_without_blocking(hostile):
    root, entries = hostile
    fifo = next(e.path for e in entries if e.kind == "fifo")
    for call in (lambda: open_regular(fifo), lambda: content_hash(Path(fifo)), lambda: read_text(Path(fifo)),
                 lambda: load_image(Path(fifo)), lambda: decode_audio(Path(fifo)),
                 lambda: read_bounded("/dev/zero", 10), lambda: content_hash(Path("/dev/zero"))):
        with pytest.raises(MediaDecodeError, match="not a regular file"):
            _run_with_timeout(call, 10)


def test_every_found_file_decodes_or_fails_with_a_reason_naming_it(hostile):
    root, entries = hostile
    expect = {e.path: e for e in entries}
    found = disc.discover([root]).found
    wrong = []
    for f in found:
        e = expect.get(str(f.path))
        decode = {"image": lambda p: load_image(p), "text": _read_document,
                  "audio": lambda p: decode_audio(p, max_decode_seconds=30), "video": _decode_video}[f.modality]
        try:
            _run_with_timeout(lambda: decode(f.path), 60)
            outcome = "decoded"
        except MediaDecodeError as exc:
            outcome = "failed"
            if not str(exc).startswith(display_path(f.path)):
                wrong.append(f"{display_path(f.path)}: the reason does not name the file: {exc}")
        if e is not None and e.expect == "failed" and outcome != "failed" and f.size > 0:
            wrong.append(f"{display_path(f.path)} ({e.kind}) decoded, expected a failure")
        if e is not None and e.expect == "indexed" and outcome != "decoded":
            wrong.append(f"{display_path(f.path)} ({e.kind}) failed, expected to decode")
    assert not wrong, "\n".join(wrong)


def _read_document(path: Path) -> object:
    """As the pipeline reads a note or document: its format's handler, within its limits."""
    fmt = format_of(path)
    assert fmt is not None and fmt.read is not None
    sections = fmt.read(path, Budget(path))
    if not any(s.text.strip() or s.image is not None for s in sections):
        raise MediaDecodeError(f"{display_path(path)}: no text in file")
    return sections


def _decode_video(path: Path) -> object:
    """As the pipeline reads a video: its key frames, or the sound of one without pictures."""
    from searchengine.media.video import key_frames, probe_video

    if probe_video(path).has_video:
        return key_frames(path, max_decode_seconds=30)
    return decode_audio(path, max_decode_seconds=30)


_CHILD = r"""
import json, sys, dataclasses
from pathlib import Path
from searchengine import SearchEngine, Settings
settings = Settings(index_root=Path(sys.argv[2]), model="offline:minilm-effnet", asr_model="tiny.en",
                    cache_dir=Path(sys.argv[3]), batch_size=16)
with SearchEngine.open("hostile", settings=settings) as engine:
    runs = []
    for _ in range(2):
        report = engine.index([Path(sys.argv[1])])
        runs.append({k: v for k, v in dataclasses.asdict(report).items()
                     if k in ("scanned", "added", "failed", "unchanged", "deleted", "skipped")})
print(json.dumps(runs, default=str))
"""


@pytest.fixture(scope="module")
def indexed_hostile(hostile, tmp_path_factory, offline_settings):
    root, entries = hostile
    index_root = tmp_path_factory.mktemp("hostile-index")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONIOENCODING="utf-8")
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, os.fsencode(root), str(index_root),
                               str(offline_settings.cache_dir)],
                              env=env, capture_output=True, timeout=INDEX_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"indexing the hostile tree hung (> {INDEX_TIMEOUT_S} s); stderr:\n"
                    f"{(exc.stderr or b'').decode(errors='replace')[-3000:]}")
    stderr = proc.stderr.decode("utf-8", errors="replace")
    return root, entries, index_root, proc, stderr


def test_indexing_the_hostile_tree_neither_hangs_nor_crashes(indexed_hostile):
    root, entries, index_root, proc, stderr = indexed_hostile
    assert proc.returncode == 0, stderr[-5000:]
    assert "Traceback" not in stderr, stderr[-5000:]
    first, second = json.loads(proc.stdout)
    assert second["added"] == 0 and second["deleted"] == 0  # a second run finds nothing to do
    assert second["unchanged"] + second["failed"] == second["scanned"]


def test_indexing_accounts_for_every_stored_entry(indexed_hostile):
    import sqlite3

    root, entries, index_root, proc, stderr = indexed_hostile
    assert proc.returncode == 0, stderr[-3000:]
    with sqlite3.connect(index_root / "hostile" / "metadata.sqlite") as db:
        rows = db.execute("SELECT path, status, error FROM media_files").fetchall()
    files = {os.fsdecode(p) if isinstance(p, bytes) else p: (status, error) for p, status, error in rows}
    problems = []
    for e in entries:
        got = files.get(e.path)
        if e.expect.startswith("skipped:"):
            if got is not None:
                problems.append(f"{display_path(e.path)} ({e.kind}): must be skipped, stored as {got[0]}")
        elif got is None:
            problems.append(f"{display_path(e.path)} ({e.kind}): not in the index")
        elif e.expect in ("indexed", "failed") and got[0] != e.expect:
            problems.append(f"{display_path(e.path)} ({e.kind}): {got[0]} ({got[1]}), expected {e.expect}")
        elif got[0] == "failed" and not got[1]:
            problems.append(f"{display_path(e.path)} ({e.kind}): failed without a reason")
    real_root = os.path.realpath(root)
    for path in files:
        if not is_under(os.path.realpath(path), real_root):
            problems.append(f"{display_path(path)} is outside the indexed folder")
    assert not problems, "\n".join(problems)


def test_the_index_report_lists_every_skipped_entry_with_its_reason(indexed_hostile):
    root, entries, index_root, proc, stderr = indexed_hostile
    first, _ = json.loads(proc.stdout)
    assert "skipped" in first
    skipped_text = json.dumps(first["skipped"])
    for e in entries:
        if e.expect.startswith("skipped:") and e.kind not in ("in_hidden_folder", "path_over_path_max",
                                                              "in_unreadable_folder"):
            assert display_path(os.path.basename(e.path)) in skipped_text, e.path


def _run_with_timeout(call, seconds: float):
    """Run ``call`` in a daemon thread; fail the test if it does not return in time."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"did not return within {seconds} s (blocked?)")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    value = box.get("value")
    if hasattr(value, "close") and not hasattr(value, "found"):
        value.close()  # type: ignore[union-attr]
    return value


# -- limits and helpers, one by one ------------------------------------------------------------

def test_decoders_refuse_what_is_over_their_limits(tmp_path):
    import io
    import wave

    from searchengine.errors import MediaTooLargeError

    text = tmp_path / "big.txt"
    text.write_bytes(b"word " * 100)
    assert read_text(text, max_bytes=500) == "word " * 100
    with pytest.raises(MediaTooLargeError, match=r"big\.txt: larger than the limit of 499 bytes"):
        read_text(text, max_bytes=499)

    sound = tmp_path / "two.wav"
    with wave.open(str(sound), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(b"\x10\x00" * 32000)  # 2 s
    assert decode_audio(sound, max_seconds=3).size == 32000
    with pytest.raises(MediaTooLargeError, match=r"two\.wav: longer than the limit"):
        decode_audio(sound, max_seconds=1)
    with pytest.raises(MediaTooLargeError, match=r"two\.wav: decoding took more than"):
        decode_audio(sound, max_decode_seconds=-1)

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buf, "PNG")
    picture = tmp_path / "p.png"
    picture.write_bytes(buf.getvalue())
    assert load_image(picture, max_pixels=60_000).size == (300, 200)
    with pytest.raises(MediaTooLargeError, match=r"p\.png: 300x200 pixels is more than the limit"):
        load_image(picture, max_pixels=59_999)
    eps = tmp_path / "drawing.jpg"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")
    with pytest.raises(MediaDecodeError, match=r"drawing\.jpg: not a readable image"):
        load_image(eps)  # Pillow could read EPS (through Ghostscript): it is never tried


def test_the_pixel_budget_queues_decodes_that_would_add_up():
    import time

    from searchengine.media.images import PixelBudget

    budget = PixelBudget(100)
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with budget.reserve(60):
            first_in.set()
            time.sleep(0.3)
            order.append("first done")

    def second() -> None:
        first_in.wait()
        with budget.reserve(60):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert order == ["first done", "second in"] and budget.in_use == 0
    with budget.reserve(500):  # bigger than the budget: allowed alone
        assert budget.in_use == 500


@pytest.mark.parametrize("raw,shown", [
    ("plain/name.png", "plain/name.png"),
    (os.fsdecode(b"bad\xff\xfe.png"), "bad\\xff\\xfe.png"),
    ("new\nline\ttab\rcr.md", "new\\nline\\ttab\\rcr.md"),
    ("esc\x1b[31m.txt", "esc\\x1b[31m.txt"),
    ("bidi\u202egnp.txt", "bidi\\u202egnp.txt"),
    ("caf\u00e9 \U0001f600.md", "caf\u00e9 \U0001f600.md"),
    ("c1\x85.md", "c1\\x85.md"),
])
def test_display_path_is_one_printable_utf8_line(raw, shown):
    out = display_path(raw)
    assert out == shown
    assert out.isprintable() and "\n" not in out
    out.encode("utf-8")  # never raises


def test_following_links_outside_is_an_option_and_still_refuses_devices(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "far.md").write_text("far away")
    os.mkfifo(outside / "pipe.md")
    os.symlink(outside / "far.md", root / "far.md")
    os.symlink(outside / "pipe.md", root / "pipe.md")
    os.symlink("/dev/zero", root / "zero.txt")
    os.symlink(outside, root / "there")
    default = disc.discover([root])
    assert default.found == [] and {s.code for s in default.skipped} == {disc.OUTSIDE}
    allowed = disc.discover([root], follow_outside=True)
    assert [str(f.path) for f in allowed.found] == [str(root / "far.md")]
    codes = {str(s.path): s.code for s in allowed.skipped}
    assert codes[str(root / "pipe.md")] == disc.SPECIAL and codes[str(root / "zero.txt")] == disc.SPECIAL
    assert codes[str(root / "there" / "far.md")] == disc.DUPLICATE  # the same file, reached twice
    assert codes[str(root / "there" / "pipe.md")] == disc.SPECIAL
    # a second indexed root counts as inside
    inside_other = disc.discover([root], boundary=[outside])
    assert str(root / "far.md") in {str(f.path) for f in inside_other.found}
