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


def _chinese_speech(n, length=4.0, sentence_every=2, mark="。"):
    return [Segment(i * length, (i + 1) * length - 0.1,
                    f"第{i}句话" + (mark if i % sentence_every == 1 else "，")) for i in range(n)]


@pytest.mark.parametrize("mark", ["。", "！", "？", "？」", "."])
def test_chinese_windows_close_at_chinese_sentence_ends_and_join_without_spaces(mark):
    segments = _chinese_speech(40, mark=mark)
    windows = group_windows(segments)
    assert len(windows) >= 6
    for w in windows[:-1]:
        assert 15 <= w.end - w.start <= 30
        assert w.text.endswith(mark)
    first = windows[0]
    assert first.text.startswith("第0句话，第1句话" + mark)  # no space between Chinese segments
    assert " " not in first.text or mark == "."


def test_unpunctuated_chinese_closes_after_a_pause_but_not_in_the_middle_of_speech():
    # Whisper often writes Mandarin without punctuation: a pause is the sentence end
    segments = [Segment(i * 4.0, i * 4.0 + (3.0 if i % 3 == 2 else 3.95), f"第{i}次我们一起喝茶") for i in range(20)]
    windows = group_windows(segments)
    for w in windows[:-1]:
        assert 15 <= w.end - w.start <= 30
        last = next(s for s in segments if s.end == w.end)
        assert segments.index(last) % 3 == 2  # the segments followed by a one-second pause
    # without pauses, windows still close at 30 s
    flowing = [Segment(i * 4.0, (i + 1) * 4.0, "我们一起喝茶") for i in range(20)]
    assert all(w.end - w.start <= 30 for w in group_windows(flowing))
    assert len(group_windows(flowing)) >= 3


def test_english_windows_still_join_with_spaces():
    (only,) = group_windows([Segment(0, 2, "Tea time."), Segment(2, 4, "我们喝茶。"), Segment(4, 6, "好的。")])
    assert only.text == "Tea time. 我们喝茶。好的。"


def test_best_moment_in_chinese_matches_characters_and_pairs():
    segs = [Segment(0, 2, "我喜欢喝茶。"), Segment(2, 5, "中国人喝茶已经有几千年的历史。"),
            Segment(8, 11, "春天的绿茶很香。"), Segment(11, 12.5, "朋友来了，我们一起喝茶。")]
    assert best_moment("绿茶的香味", segs, 0, 13) == 8
    assert best_moment("朋友", segs, 0, 13) == 11
    assert best_moment("几千年历史", segs, 0, 13) == 2
    assert best_moment("咖啡", segs, 0, 13) is None
    assert best_moment("的", segs, 0, 13) is None  # a particle alone says nothing
    assert best_moment("spring green tea 绿茶", segs, 0, 13) == 8


def test_english_only_asr_model_refuses_another_language():
    from searchengine.errors import InvalidInputError
    from searchengine.transcribe.whisper import asr_language, check_asr_model

    with pytest.raises(InvalidInputError, match=r"--asr-model tiny\.en.*--language is 'zh'"):
        check_asr_model("tiny.en", "zh")
    check_asr_model("tiny.en", "en")
    check_asr_model("tiny.en", None)
    check_asr_model("base", "zh")
    with pytest.raises(InvalidInputError, match="--language 'klingon'"):
        check_asr_model("base", "klingon")
    assert asr_language("zh-CN") == asr_language("ZH") == asr_language("zh_TW") == "zh"
    assert asr_language(None) is None and asr_language(" ") is None


def test_english_only_transcriber_refuses_before_loading(tmp_path):
    from searchengine.errors import InvalidInputError
    from searchengine.transcribe.whisper import WhisperTranscriber

    with pytest.raises(InvalidInputError, match="--asr-model"):
        WhisperTranscriber("tiny.en", tmp_path, device="cpu", language="zh")


def test_whisper_chinese_output_is_tidied():
    from searchengine.transcribe.whisper import tidy_cjk

    assert tidy_cjk("我喜欢喝茶。 从前有人喝茶") == "我喜欢喝茶。从前有人喝茶"
    assert tidy_cjk("朋友来了,我们一起喝茶.") == "朋友来了，我们一起喝茶。"
    assert tidy_cjk("几千年的离去, 瞬间很像") == "几千年的离去，瞬间很像"  # the comma made fullwidth, then no space
    assert tidy_cjk("我喜欢喝茶 中国人喝茶") == "我喜欢喝茶 中国人喝茶"  # maybe a sentence end
    assert tidy_cjk("Hello, world. Pi is 3.14, ok?") == "Hello, world. Pi is 3.14, ok?"
    assert tidy_cjk("版本2.0很好") == "版本2.0很好"
