"""Nothing from a file's name or content reaches a terminal raw: the CLI is run on a real
pseudo-terminal (so it colours its own output) over an index holding a note full of
terminal escape sequences (a window-title write, colours, an OSC 52 clipboard write) and
files whose names hold them; what the terminal receives has none of them, only their
escaped forms."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

HOSTILE = "gardens \x1b]0;PWNED\x07 and \x1b[31mred\x1b[0m tomatoes \x1b]52;c;ZXZpbA==\x07 \x9b31m end"


def on_pty(args: list[str], env: dict[str, str], timeout: float = 120) -> bytes:
    """Run the CLI with its stdout and stderr on a pseudo-terminal; everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "searchengine.cli", *args], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=timeout) in (0, 1), out.decode(errors="replace")
    return bytes(out)


def assert_nothing_raw(out: bytes) -> None:
    assert b"\x07" not in out  # BEL: ends OSC sequences (title, clipboard)
    assert b"\x1b]" not in out  # OSC: window title, clipboard, hyperlinks
    assert b"\x1b[31m" not in out and b"\xc2\x9b" not in out  # the file's colours, C1 CSI


@pytest.fixture
def cli_env(tmp_path, tiny_clip):
    from conftest import CACHE_DIR

    media = tmp_path / "media"
    media.mkdir()
    (media / "note.md").write_text(HOSTILE)
    (media / "t\x1b]0;PWNED-NAME\x07itle.md").write_text("gardens of a hostile name")
    (media / "bad\x1b[31m\x1b]52;c;eA==\x07.jpg").write_bytes(b"\xff\xd8 not a picture")
    env = {**os.environ, "SEARCHENGINE_INDEX_ROOT": str(tmp_path / "idx"), "SEARCHENGINE_MODEL": tiny_clip,
           "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]),
           "SEARCHENGINE_CACHE_DIR": str(CACHE_DIR), "TERM": "xterm"}
    return media, env


def test_index_search_and_status_escape_everything_on_a_terminal(cli_env):
    media, env = cli_env
    out = on_pty(["-v", "index", str(media), "--index", "t"], env)
    assert_nothing_raw(out)
    assert b"failed" in out and b"\\x1b]52;c;eA==\\x07" in out  # the bad picture's name, escaped, in the summary
    out = on_pty(["search", "gardens", "--index", "t", "--mode", "keyword", "-k", "5"], env)
    assert_nothing_raw(out)
    assert b"\\x1b]0;PWNED\\x07" in out  # the note's text, shown escaped
    assert b"\\x1b]0;PWNED-NAME\\x07" in out  # the hostile file name, shown escaped
    out = on_pty(["status", "--index", "t"], env)
    assert_nothing_raw(out)
    assert b"\\x1b[31m" in out  # the failed picture's name in the failures list, escaped
