"""Sidecar parsing, windows and moments: pure functions on real transcript shapes."""

import pytest

from searchengine.errors import MediaDecodeError
from searchengine.media.sidecar import parse_sidecar
from searchengine.transcribe.moment import best_moment
from searchengine.transcribe.segments import Segment, group_windows

SRT = """1
00:00:01,500 --> 00:00:04,000
Hello <i>there</i>.

2
00:01:02,250 --> 00:01:05,000
Second cue,
on two lines.
"""

VTT = """WEBVTT

00:00.500 --> 00:02.000
First.

01:00:00.000 --> 01:00:01.000
An hour in.
"""


def test_srt_and_vtt(tmp_path):
    (tmp_path / "a.srt").write_text(SRT)
    assert parse_sidecar(tmp_path / "a.srt", 0) == [
        Segment(1.5, 4.0, "Hello there."), Segment(62.25, 65.0, "Second cue, on two lines.")]
    (tmp_path / "b.vtt").write_text(VTT)
    assert parse_sidecar(tmp_path / "b.vtt", 0) == [Segment(0.5, 2.0, "First."), Segment(3600.0, 3601.0, "An hour in.")]


def test_plain_text_sidecar_is_spread_over_the_duration(tmp_path):
    (tmp_path / "c.txt").write_text("One two three. Four five six seven eight nine ten eleven!")
    segs = parse_sidecar(tmp_path / "c.txt", 30.0)
    assert [s.text for s in segs] == ["One two three.", "Four five six seven eight nine ten eleven!"]
    assert segs[0].start == 0 and segs[-1].end == pytest.approx(30.0, abs=0.01)
    assert segs[0].end < 10  # the shorter sentence gets the shorter share


def test_bad_sidecars(tmp_path):
    (tmp_path / "d.srt").write_text("no cues here")
    with pytest.raises(MediaDecodeError, match="d.srt"):
        parse_sidecar(tmp_path / "d.srt", 10)
    (tmp_path / "e.txt").write_text("  ")
    with pytest.raises(MediaDecodeError, match="empty"):
        parse_sidecar(tmp_path / "e.txt", 10)


def _speech(n, length=4.0, sentence_every=2):
    return [Segment(i * length, (i + 1) * length - 0.5,
                    f"words {i}" + ("." if i % sentence_every == 1 else ",")) for i in range(n)]


def test_windows_are_15_to_30_seconds_at_sentence_ends_with_overlap():
    segments = _speech(40)  # 160 s of speech, a sentence end every 8 s
    windows = group_windows(segments)
    assert len(windows) >= 6
    for w in windows[:-1]:
        assert 15 <= w.end - w.start <= 30
        assert w.text.endswith(".")
    for a, b in zip(windows, windows[1:]):
        assert b.start < a.end  # a little overlap
    assert windows[0].start == 0 and windows[-1].end == segments[-1].end
    every_word = " ".join(w.text for w in windows)
    assert all(s.text in every_word for s in segments)


def test_windows_without_sentence_ends_close_at_30_seconds_and_short_audio_is_one_window():
    windows = group_windows(_speech(30, sentence_every=1000))
    assert all(w.end - w.start <= 30 for w in windows)
    (only,) = group_windows(_speech(2))
    assert only.start == 0 and only.text == "words 0, words 1."
    assert group_windows([]) == []


def test_best_moment_finds_the_segment_that_says_the_words():
    segs = [Segment(0, 5, "The weather was fine."), Segment(5, 9, "Then the dog ran on the beach."),
            Segment(9, 12, "Everyone went home.")]
    assert best_moment("dog running on a beach", segs, 0, 12) == 5
    assert best_moment("nothing matches", segs, 0, 12) is None
    assert best_moment("everyone home", segs, 0, 9) is None  # outside the window
