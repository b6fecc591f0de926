"""Chinese (and mixed Chinese/English) text cut into chunks without relying on spaces, and
Chinese speech: real Whisper base on the project's Mandarin sample recording."""

import random
import re

import pytest

from conftest import CACHE_DIR, SAMPLES
from searchengine.media.text import chunk_text, read_text

ENDS = "。！？"
CLOSERS = "」』”）"

SENTENCES = [
    "中国人喝茶已经有几千年的历史。",
    "唐代的陆羽写下了《茶经》。",
    "绿茶清香，红茶温暖，乌龙茶介于两者之间！",
    "你今天想喝什么茶？",
    "他说：「先洗杯，再温壶。」",
    "泡茶时水温很重要，太烫会发苦。",
    "书法和茶一样，需要慢慢练习，也需要一颗安静的心。",
    "客人来了，主人倒上一杯热茶。",
]


def _chinese(n_chars: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    text = ""
    while len(text) < n_chars:
        text += rng.choice(SENTENCES)
    return text


def _ends_sentence(text: str) -> bool:
    return text.rstrip(CLOSERS)[-1:] in ENDS


def _sentence_cuts(text: str) -> set[int]:
    """Positions just after a sentence end and its closing brackets."""
    return {p for p in range(1, len(text) + 1)
            if _ends_sentence(text[:p]) and (p == len(text) or text[p] not in CLOSERS)}


def test_chinese_without_spaces_is_cut_at_sentence_ends_and_overlaps_from_a_sentence_start():
    text = _chinese(2000)
    assert " " not in text and len(text) >= 2000
    chunks = chunk_text(text, size=400, overlap=80)
    cuts = _sentence_cuts(text)
    assert len(chunks) >= 6
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text) <= 400
    for a, b in zip(chunks, chunks[1:]):
        # every window of 400 has sentence ends in its second half: the chunk ends just
        # after one (its closing bracket included), and at the last one there
        in_window = {p for p in cuts if a.start + 200 <= p <= a.start + 400}
        assert in_window and a.end == max(in_window), a.text[-20:]
        # the next one starts inside the overlap, at the first sentence start there
        assert b.start == min(p for p in cuts if a.end - 80 <= p < a.end)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_chinese_without_any_punctuation_is_cut_at_size_anywhere():
    text = "茶香留在嘴里很久" * 100
    chunks = chunk_text(text, size=100, overlap=20)
    for a, b in zip(chunks, chunks[1:]):
        assert len(a.text) == 100 and b.start == a.end - 20
    assert chunks[-1].end == len(text)


def test_paragraph_and_line_ends_and_clause_marks():
    head = "茶" * 30
    # a paragraph break beats a later sentence end
    text = head + "\n\n" + "绿茶清香。" * 4 + "红茶温暖" * 20
    assert chunk_text(text, 60, 10)[0].text == head
    # a sentence end beats a later line end and clause mark; a clause mark beats nothing
    text = "绿茶清香。" * 8 + "红茶温暖\n乌龙茶，" + "好" * 40
    assert chunk_text(text, 60, 10)[0].text == "绿茶清香。" * 8
    text = "红茶温暖，" * 10 + "好" * 40
    assert chunk_text(text, 60, 10)[0].text == "红茶温暖，" * 10
    # a closing quote stays with its sentence; a bracket never opens at the end of a chunk
    text = "好" * 30 + "他说：「先洗杯。」" + "再温壶" * 20
    assert chunk_text(text, 45, 5)[0].text.endswith("「先洗杯。」")
    text = "好" * 43 + "「再温壶」" + "好" * 20
    assert not chunk_text(text, 44, 5)[0].text.endswith("「")


def test_halfwidth_punctuation_after_chinese_ends_a_sentence_but_not_a_number():
    text = "好" * 30 + "今天很热!" + "明天下雨" * 20
    assert chunk_text(text, 50, 5)[0].text.endswith("今天很热!")
    text = "好" * 30 + "圆周率是3.14159" + "好" * 30
    assert not chunk_text(text, 43, 5)[0].text.endswith("3.")


def test_mixed_chinese_and_english_never_cuts_an_english_word():
    text = ("我们用 Python 和 PyTorch 写了一个搜索引擎。It indexes photos, notes and recordings, "
            "offline. 支持中文查询，也支持 English queries！") * 12
    chunks = chunk_text(text, size=70, overlap=20)
    assert len(chunks) > 10
    word = re.compile(r"[A-Za-z]")
    for c in chunks:
        assert text[c.start : c.end] == c.text and len(c.text) <= 70
        assert not (c.start > 0 and word.match(text[c.start - 1]) and word.match(text[c.start]))
        assert not (c.end < len(text) and word.match(text[c.end - 1]) and word.match(text[c.end]))
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # overlapping


def test_english_prefers_a_sentence_end_over_a_later_space_and_keeps_words_whole():
    text = "The best espresso is pulled from fresh beans. It takes about twenty five seconds in a red cup to serve"
    # the sentence end is in the first half of the window: as before, the last space
    (first, *_) = chunk_text(text, size=100, overlap=20)
    assert first.text == text[: text.rfind(" ", 0, 101)]
    text = "Coffee first. " + text
    (first, second, *_) = chunk_text(text, size=70, overlap=50)
    assert first.text == "Coffee first. The best espresso is pulled from fresh beans."
    assert second.text.startswith("The best")  # from the sentence start inside the overlap
    (first, second, *_) = chunk_text(text, size=70, overlap=20)
    assert second.text.startswith("from fresh beans.")  # none there: the first word start
    # a full stop needs a space after it to end an English sentence ("3.5", "a.m.")
    text = "word " * 8 + "costs 3.5 euros" + " word" * 10
    assert chunk_text(text, 47, 10)[0].text == "word " * 8 + "costs"


def test_the_sample_note_is_chunked_at_its_sentences():
    text = read_text(SAMPLES / "notes" / "茶.md")
    chunks = chunk_text(text, size=100, overlap=20)
    assert len(chunks) >= 2
    for c in chunks[:-1]:
        assert _ends_sentence(c.text)
    assert all(text[c.start : c.end] == c.text for c in chunks)


@pytest.fixture(scope="module")
def whisper_base():
    from searchengine.transcribe.whisper import WhisperTranscriber

    return WhisperTranscriber("base", CACHE_DIR, device="cpu")


def test_whisper_base_hears_the_mandarin_sample_as_chinese(whisper_base):
    from searchengine.media.audio import decode_audio
    from searchengine.transcribe.segments import group_windows

    audio = decode_audio(SAMPLES / "audio" / "中文朗读.ogg")
    assert len(audio) / 16000 < 20
    segments, language = whisper_base.transcribe(audio)
    assert language == "zh"
    text = "".join(s.text for s in segments)
    assert text.count("茶") >= 3 and "喜欢" in text  # simplified, as the prompt asks
    assert "。" in text and " " not in text
    (window,) = group_windows(segments)
    assert window.text == text and window.text.endswith("。")
