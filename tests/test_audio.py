"""Recordings: real speech (public-domain LJSpeech clips in samples/audio), real PyAV
decoding and real faster-whisper (tiny.en), embedded with the real offline profile."""

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import SAMPLES, assert_consistent
from searchengine import SearchEngine
from searchengine.errors import MediaDecodeError
from searchengine.evaluation.wer import word_error_rate
from searchengine.media.audio import decode_audio

HISTORY = SAMPLES / "audio" / "printing-history.flac"
# printing-history.flac is LJ001-0014..0018 joined with 0.5 s pauses; LJ001-0016 starts here:
CALLIGRAPHY_AT = 20.18


def test_spoken_phrase_finds_the_clip_and_the_moment(samples_engine):
    hits = samples_engine.search("The Middle Ages brought calligraphy to perfection", k=3, modality="audio")
    top = hits[0]
    assert top.path == str(HISTORY) and top.modality == "audio"
    assert top.start <= CALLIGRAPHY_AT <= top.end
    assert abs(top.moment - CALLIGRAPHY_AT) < 3.0
    assert "calligraphy" in top.text.lower()


def test_each_single_clip_is_found_by_its_words(samples_engine):
    hits = samples_engine.search("the Gutenberg forty-two line Bible", k=1, modality="audio")
    assert hits[0].path.endswith("LJ001-0007.wav") and hits[0].start == pytest.approx(0, abs=1.5)


def test_image_query_reaches_spoken_passages(samples_engine):
    hits = samples_engine.search(image=SAMPLES / "images" / "coins.png", k=50, modality="audio")
    assert hits and all(h.modality == "audio" for h in hits)


def test_transcript_is_kept_whole_in_sql(samples_engine):
    hit = samples_engine.search("printing", k=1, modality="audio")[0]
    file_id = samples_engine.repo.units([hit.id])[hit.id].file_id
    transcript = samples_engine.repo.transcript_of_file(file_id)
    assert transcript["source"] == "asr:tiny.en" and transcript["segments"]
    assert transcript["language"] == "en"


def test_tiny_en_word_error_rate_on_a_clip(samples_engine):
    ref = ("Printing, in the only sense with which we are at present concerned, differs from most "
           "if not from all the arts and crafts represented in the Exhibition")
    hits = samples_engine.search(ref, k=1, modality="audio")
    assert hits[0].path.endswith("LJ001-0001.wav")
    assert word_error_rate(ref, hits[0].text) < 0.2


def test_sidecar_is_used_instead_of_speech_recognition_and_moves_are_not_retranscribed(offline_settings, tmp_path):
    media = tmp_path / "talks"
    media.mkdir()
    shutil.copy(SAMPLES / "audio" / "LJ001-0031.wav", media / "talk.wav")
    (media / "talk.srt").write_text("1\n00:00:02,000 --> 00:00:05,000\nZebras playing in an orchestra.\n")
    shutil.copy(SAMPLES / "audio" / "LJ001-0001.wav", media / "speech.wav")
    settings = offline_settings.with_(index_root=tmp_path / "idx")
    with SearchEngine.open("side", settings=settings) as engine:
        first = engine.index([media])
        assert first.added == 2 and first.transcribed_files == 1  # speech.wav only
        top = engine.search("zebras in an orchestra", k=1)[0]
        assert top.path == str(media / "talk.wav") and (top.start, top.end) == (2.0, 5.0)
        assert top.text == "Zebras playing in an orchestra."
        assert engine.search("talk.srt", k=5, path_glob="*.srt") == []  # not indexed as text

        (media / "sub").mkdir()
        (media / "speech.wav").rename(media / "sub" / "moved speech.wav")
        moved = engine.index([media])
        assert moved.moved == 1 and moved.transcribed_files == 0 and moved.units_added == 0
        assert engine.search("Printing in the only sense", k=1)[0].path == str(media / "sub" / "moved speech.wav")

        (media / "sub" / "moved speech.wav").unlink()
        engine.index([media])
        shutil.copy(SAMPLES / "audio" / "LJ001-0001.wav", media / "back again.wav")
        back = engine.index([media])
        assert back.added == 1 and back.transcribed_files == 0 and back.transcript_cache_hits == 1

        (media / "talk.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nGiraffes in a library.\n")
        changed = engine.index([media])
        assert changed.updated == 1
        assert engine.search("giraffes in a library", k=1)[0].path == str(media / "talk.wav")
        assert_consistent(engine)


def _write_m4a(path: Path, audio: np.ndarray) -> None:
    out = av.open(str(path), "w", format="mp4")
    stream = out.add_stream("aac", rate=16000, layout="mono")
    pcm = (audio * 32767).astype(np.int16)
    for i in range(0, len(pcm), 1024):
        frame = av.AudioFrame.from_ndarray(pcm[i:i + 1024].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 16000, i
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()


def test_audio_track_of_a_video_container_and_broken_recordings(offline_settings, tmp_path):
    speech = decode_audio(SAMPLES / "audio" / "LJ001-0007.wav")
    _write_m4a(tmp_path / "clip.mp4", speech)
    decoded = decode_audio(tmp_path / "clip.mp4")
    assert abs(len(decoded) - len(speech)) < 16000 * 0.2

    (tmp_path / "broken.mp3").write_bytes(b"ID3" + b"\x00" * 50)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(MediaDecodeError, match="broken.mp3"):
        decode_audio(tmp_path / "broken.mp3")
    settings = offline_settings.with_(index_root=tmp_path / "idx")
    with SearchEngine.open("video", settings=settings) as engine:
        report = engine.index([tmp_path / "clip.mp4", tmp_path / "broken.mp3", tmp_path / "empty.wav"])
        assert report.added == 1 and report.failed == 1
        assert dict(report.noted_skips)[str(tmp_path / "empty.wav")].endswith("empty (0 bytes); nothing to index")
        assert engine.search("Gutenberg Bible", k=1)[0].path == str(tmp_path / "clip.mp4")
        assert_consistent(engine)


def test_json_output_carries_times_as_numbers(samples_engine, offline_settings, monkeypatch):
    from typer.testing import CliRunner

    from searchengine.cli import app

    monkeypatch.setenv("SEARCHENGINE_INDEX_ROOT", str(offline_settings.index_root))
    result = CliRunner().invoke(app, ["search", "calligraphy to perfection", "--index", "samples",
                                      "--modality", "audio", "--json", "--k", "1"])
    assert result.exit_code == 0, result.output
    (hit,) = json.loads(result.output)
    assert isinstance(hit["start"], float) and isinstance(hit["end"], float) and isinstance(hit["moment"], float)


def test_copy_of_a_recording_without_speech(offline_settings, tmp_path):
    import wave

    media = tmp_path / "quiet"
    media.mkdir()
    with wave.open(str(media / "silence.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000 * 3)
    settings = offline_settings.with_(index_root=tmp_path / "idx")
    with SearchEngine.open("quiet", settings=settings) as engine:
        assert engine.index([media]).added == 1
        shutil.copy(media / "silence.wav", media / "silence2.wav")
        report = engine.index([media])
        assert report.reused == 1 and report.failed == 0
        assert_consistent(engine)


def test_speech_recognition_loads_once_however_many_threads_ask(offline_settings, tmp_path, monkeypatch):
    from searchengine.transcribe import whisper

    loads = []
    real_init = whisper.WhisperTranscriber.__init__

    def counting_init(self, *args, **kwargs):
        loads.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(whisper.WhisperTranscriber, "__init__", counting_init)
    media = tmp_path / "two"
    media.mkdir()
    shutil.copy(SAMPLES / "audio" / "LJ001-0001.wav", media / "a.wav")
    shutil.copy(SAMPLES / "audio" / "LJ001-0031.wav", media / "b.wav")
    settings = offline_settings.with_(index_root=tmp_path / "idx", decode_workers=2)
    with SearchEngine.open("two", settings=settings) as engine:
        report = engine.index([media])
    assert report.transcribed_files == 2 and loads == [1]
