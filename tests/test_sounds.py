"""Sound events: log-mel features, the YAMNet classifier, events from its scores, their place
in the index (kind "sound", the moment, the keyword index) and the switches.

Audio is made here in NumPy (tones, noise, silence) and taken from samples/ (real speech):
not the benchmark's mixes. Tests that need the model file skip without it, saying how to get
it - or fail under CI (SEARCHENGINE_REQUIRE_SOUND_MODEL=1, set by .ci/run)."""

from __future__ import annotations

import json
import os
import wave
from pathlib import Path

import numpy as np
import pytest

from searchengine.sounds import features
from searchengine.sounds.classes import MUSIC, N_CLASSES, sound_classes
from searchengine.sounds.events import MAX_SECONDS, THRESHOLD, find_events, onset
from searchengine.sounds.model import INSTALL_HINT, SoundModelUnavailableError, find_model

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000


def _model_or_skip() -> None:
    if find_model(os.environ.get("SEARCHENGINE_SOUND_MODEL")) is None:
        why = f"the sound-event model file is not installed: {INSTALL_HINT}"
        (pytest.fail if os.environ.get("SEARCHENGINE_REQUIRE_SOUND_MODEL") == "1" else pytest.skip)(why)


def tone(seconds: float, hz: float = 1000.0, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


# -- features ---------------------------------------------------------------------------

def test_mel_filters_are_htk_triangles_between_125_and_7500_hz():
    bank = features.mel_filterbank()
    assert bank.shape == (257, 64)
    freqs = np.linspace(0, 8000, 257)
    peaks = freqs[bank.argmax(axis=0)]
    assert 125 < peaks[0] < 200 and 6900 < peaks[-1] < 7500
    assert np.all(np.diff(peaks) >= 0)  # in order, wider as they go up (HTK mel)
    assert bank[freqs < 125].max() == 0 and bank[freqs > 7500].max() == 0


def test_log_mel_of_a_tone_peaks_in_its_band_and_patches_are_timed():
    mel = features.log_mel(tone(2.0, 1000.0))
    assert mel.shape == (1 + (2 * RATE - 512) // 160, 64)
    centres = np.linspace(0, 8000, 257)[features.mel_filterbank().argmax(axis=0)]
    band = int(np.argmax(mel.mean(axis=0)))
    assert abs(centres[band] - 1000) < 80
    assert np.isclose(features.log_mel(np.zeros(RATE)).max(), np.log(1e-6))  # silence: log of the offset
    p = features.patches(tone(5.0))
    assert p.shape[1:] == (1, 96, 64) and len(p) == 1 + (len(features.log_mel(tone(5.0))) - 96) // 48
    assert features.patches(tone(0.2)).shape == (1, 1, 96, 64)  # short: padded with silence to one patch
    assert features.patch_start(3) == pytest.approx(1.44)


# -- events from scores (no model) ------------------------------------------------------

def _scores(n: int, on: dict[int, list[int]], level: float = 0.9) -> np.ndarray:
    s = np.full((n, N_CLASSES), 0.01, dtype=np.float32)
    for cls, patches in on.items():
        s[patches, cls] = level
    return s


def test_events_merge_neighbouring_patches_and_leave_speech_to_the_transcript():
    table = sound_classes()
    bark, phone = table.english.index("Bark"), table.english.index("Telephone bell ringing")
    speech = table.english.index("Speech")
    scores = _scores(30, {speech: list(range(30)), bark: [4, 5, 7], phone: [20, 21]})
    events = find_events(scores, duration=15.0)
    assert [(e.start, e.end) for e in events] == [(pytest.approx(1.92), pytest.approx(4.32)),
                                                  (pytest.approx(9.6), pytest.approx(11.04))]
    assert events[0].classes[0] == bark and events[0].text.startswith("Bark 狗叫")
    assert "Speech" not in events[0].text and speech not in events[0].classes
    assert events[1].text.startswith("Telephone bell ringing 电话铃声")
    assert find_events(_scores(30, {speech: list(range(30))}), 15.0) == []  # speech alone: none
    assert find_events(_scores(10, {bark: [3]}, level=THRESHOLD - 0.05), 5.0) == []  # not confident


def test_music_is_an_event_with_its_instrument_and_a_long_stretch_is_cut():
    table = sound_classes()
    piano = table.english.index("Piano")
    n = int(70 / 0.48)
    scores = _scores(n, {MUSIC: list(range(n))})
    scores[:, piano] = 0.5
    events = find_events(scores, duration=70.0)
    assert len(events) == 3 and all(e.end - e.start <= MAX_SECONDS for e in events)
    assert events[0].text == "Music 音乐、乐曲; Piano 钢琴" and events[1].start == pytest.approx(events[0].end - 0.48, abs=0.5)
    assert events[-1].end == pytest.approx(70.0, abs=0.01)


def test_onset_finds_where_the_sound_rises_within_its_patch():
    audio = np.concatenate([np.zeros(int(2.3 * RATE), np.float32), tone(1.0)])
    assert onset(audio, 1.92) == pytest.approx(2.3, abs=0.03)
    loud = tone(4.0)
    assert onset(loud, 1.92) == pytest.approx(1.92)  # loud all along: no rise, the patch's start


# -- the model --------------------------------------------------------------------------

def test_classifier_hears_a_beep_and_noise():
    _model_or_skip()
    from searchengine.sounds.model import shared

    table = sound_classes()
    clf = shared(os.environ.get("SEARCHENGINE_SOUND_MODEL"))
    rng = np.random.default_rng(0)
    beep = clf.scores(features.patches(tone(2.0))).max(axis=0)
    noise = clf.scores(features.patches((0.3 * rng.standard_normal(2 * RATE)).astype(np.float32))).max(axis=0)
    assert {"Beep, bleep", "Sine wave"} & {table.english[i] for i in np.argsort(-beep)[:2]}
    assert {"White noise", "Noise", "Static"} & {table.english[i] for i in np.argsort(-noise)[:4]}
    batch = features.patches(tone(3.0))
    one_by_one = np.concatenate([clf.scores(batch[i : i + 1]) for i in range(len(batch))])
    assert np.allclose(clf.scores(batch), one_by_one)  # the freed batch dimension changes nothing


def test_a_model_path_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(SoundModelUnavailableError, match="sound-model.*nowhere.zip"):
        find_model(tmp_path / "nowhere.zip")


def test_a_file_that_is_not_the_model_is_refused_clearly(tmp_path):
    from searchengine.sounds.model import load

    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(SoundModelUnavailableError, match="model.onnx"):
        load(bad, tmp_path / "cache")


# -- in the index -----------------------------------------------------------------------

@pytest.fixture
def recordings(tmp_path) -> Path:
    folder = tmp_path / "sounds"
    folder.mkdir()
    quiet = np.zeros(int(8 * RATE), np.float32)
    mix = quiet.copy()
    mix[int(3.1 * RATE) : int(5.1 * RATE)] += tone(2.0)
    write_wav(folder / "kitchen.wav", mix)
    (folder / "kitchen.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\n(no speech)\n")
    return folder


def test_a_beep_is_a_sound_unit_with_its_moment(settings, recordings, tmp_path):
    _model_or_skip()
    from searchengine import SearchEngine

    with SearchEngine.open("s", settings=settings.with_(sounds="on")) as engine:
        report = engine.index([recordings], progress=False)
        assert report.failed == 0 and report.sound_files == 1 and report.sound_events == 1
        hits = engine.search("哔哔声", mode="keyword")  # the Chinese label, in the keyword index
        assert hits and hits[0].kind == "sound" and hits[0].path.endswith("kitchen.wav")
        hit = hits[0]
        assert hit.start == pytest.approx(3.1, abs=0.1) and hit.moment == hit.start
        assert 5.1 <= hit.end <= 5.1 + 0.96 and "Beep, bleep" in (hit.text or "")  # ends with its last patch
        assert engine.search("beep", mode="keyword")[0].id == hit.id
        assert engine.search("嘀嘀声", mode="keyword")[0].id == hit.id  # a synonym of its Chinese name
        vector_hits = engine.search("beep", mode="vector", k=5)
        assert any(h.kind == "sound" and h.moment == h.start for h in vector_hits)


def test_cli_prints_the_moment_and_json_carries_it(settings, recordings, monkeypatch):
    _model_or_skip()
    from typer.testing import CliRunner

    from searchengine.cli import app

    monkeypatch.setenv("SEARCHENGINE_CACHE_DIR", str(settings.cache_dir))
    root = ["--index-root", str(settings.index_root)]
    runner = CliRunner()
    done = runner.invoke(app, ["index", str(recordings), *root, "--model", settings.model, "--sounds", "on"])
    assert done.exit_code == 0, done.output
    assert "Found 1 sound events in 1 recordings" in done.output
    out = runner.invoke(app, ["search", "beep", *root, "--mode", "keyword"])
    assert out.exit_code == 0 and "kitchen.wav  at 0:03" in out.output and "sound" in out.output
    rows = json.loads(runner.invoke(app, ["search", "beep", *root, "--mode", "keyword", "--json"]).output)
    assert rows[0]["kind"] == "sound" and rows[0]["moment"] == rows[0]["start"]


def test_sounds_off_and_speech_alone_make_no_sound_units(settings, recordings, tmp_path):
    _model_or_skip()
    import shutil

    from searchengine import SearchEngine

    speech = recordings / "talk.flac"
    shutil.copy(ROOT / "samples" / "audio" / "printing-history.flac", speech)
    (recordings / "talk.srt").write_text("1\n00:00:00,000 --> 00:00:05,000\nPrinting, a history.\n")
    with SearchEngine.open("off", settings=settings.with_(sounds="off")) as engine:
        report = engine.index([recordings], progress=False)
        assert report.sound_files == 0 and not engine.search("beep", mode="keyword")
    with SearchEngine.open("on", settings=settings.with_(sounds="on")) as engine:
        report = engine.index([recordings], progress=False)
        assert report.sound_files == 2 and report.sound_events == 1  # the beep; the talk has none
        assert all(h.path.endswith("kitchen.wav") for h in engine.search("beep", mode="keyword", k=5))


def test_sounds_on_without_the_model_says_how_to_get_it(settings, recordings, tmp_path):
    from typer.testing import CliRunner

    from searchengine.cli import app

    missing = str(tmp_path / "absent" / "YamNet_w8a8.onnx.zip")
    done = CliRunner().invoke(app, ["index", str(recordings), "--index-root", str(settings.index_root),
                                    "--model", settings.model, "--sounds", "on", "--sound-model", missing])
    assert done.exit_code == 2 and "--sound-model" in done.output and "YamNet_w8a8.onnx.zip" in done.output


def test_class_vectors_are_made_once_per_model_and_blend_by_score(settings, tmp_path):
    from searchengine.encoders.registry import load_encoder
    from searchengine.sounds import space
    from searchengine.sounds.events import SoundEvent

    encoder = load_encoder(settings.model, device="cpu")
    vectors, reads_chinese = space.compute_class_vectors(encoder)
    assert vectors.shape == (N_CLASSES, encoder.dim) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert not reads_chinese  # a tiny random text tower does not relate Chinese names to English ones
    cache = tmp_path / "cache"
    first = space.class_vectors(encoder, cache)
    assert len(list((cache / "sound_classes").glob("*.npy"))) == 1
    space._memory.clear()
    assert np.array_equal(space.class_vectors(encoder, cache), first)  # from the file
    sure = SoundEvent(1.0, 2.0, (3, 7), (1.0, 1 / 3), "x")  # best score 1: no doubt, the plain blend
    expected = 0.75 * first[3] + 0.25 * first[7]
    got = space.event_vectors(encoder, [sure], cache)[0]
    assert np.allclose(got, expected / np.linalg.norm(expected), atol=1e-5)


def test_a_weak_event_is_less_its_class_than_a_confident_one(settings, tmp_path):
    """The blend's weights are shares (a 0.32 "Music" and a 0.95 one would be the same
    vector); the doubt (1 - the best score) goes to the generic direction."""
    from searchengine.encoders.registry import load_encoder
    from searchengine.sounds import space
    from searchengine.sounds.events import SoundEvent

    encoder = load_encoder(settings.model, device="cpu")
    cache = tmp_path / "cache"
    vectors = space.class_vectors(encoder, cache)
    generic = space.generic_vector(vectors)
    assert np.isclose(np.linalg.norm(generic), 1, atol=1e-5)
    strong, weak = space.event_vectors(encoder, [SoundEvent(0, 1, (MUSIC, 7), (0.95, 0.05), "a"),
                                                 SoundEvent(0, 1, (MUSIC, 7), (0.32, 0.32 * 0.05 / 0.95), "b")], cache)
    assert float(strong @ vectors[MUSIC]) > float(weak @ vectors[MUSIC])
    blend = (0.95 * vectors[MUSIC] + 0.05 * vectors[7])
    expected = blend + space.DOUBT * 0.68 * generic
    assert np.allclose(weak, expected / np.linalg.norm(expected), atol=1e-5)


def test_a_videos_sound_event_plays_the_video_from_its_second(settings, tmp_path):
    _model_or_skip()
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from video_maker import make_video

    from searchengine import SearchEngine

    folder = tmp_path / "videos"
    folder.mkdir()
    track = np.zeros(int(6 * RATE), np.float32)
    track[int(2.5 * RATE) : int(4.0 * RATE)] = tone(1.5)
    make_video(folder / "clip.mp4", [(6.0, 31)], audio=track)
    (folder / "clip.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\n(no speech)\n")
    with SearchEngine.open("v", settings=settings.with_(sounds="on")) as engine:
        report = engine.index([folder], progress=False)
        assert report.failed == 0 and report.sound_events == 1 and report.frames_kept >= 1
        hit = engine.search("beep", mode="keyword")[0]
        assert hit.modality == "video" and hit.kind == "sound"
        assert hit.moment == hit.start == pytest.approx(2.5, abs=0.15)


def test_sound_settings_are_checked_and_read_from_the_environment(monkeypatch):
    from searchengine import Settings
    from searchengine.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="sounds must be auto, on or off"):
        Settings(sounds="sometimes")
    monkeypatch.setenv("SEARCHENGINE_SOUNDS", " ON ")
    monkeypatch.setenv("SEARCHENGINE_SOUND_MODEL", "/models/YamNet_w8a8.onnx.zip")
    s = Settings.from_env()
    assert s.sounds == "on" and s.sound_model == "/models/YamNet_w8a8.onnx.zip"


# -- names and the query's frame ---------------------------------------------------------

def test_chinese_names_hold_synonyms_and_the_first_makes_the_vector():
    from searchengine.sounds.classes import SYNONYMS

    table = sound_classes()
    for i, name in enumerate(table.chinese):
        names = name.split(SYNONYMS)
        assert all(n.strip() == n and n for n in names) and len(set(names)) == len(names), (i, name)
        assert table.chinese_first[i] == names[0] and SYNONYMS not in table.chinese_first[i]
        assert "声音" not in name, (i, name)  # "...的声音" is a query's frame, not a class's name
    english = {e: i for i, e in enumerate(table.english)}
    alarm_clock, dial_tone, dialing = english["Alarm clock"], english["Dial tone"], english["Telephone dialing, DTMF"]
    assert table.label(alarm_clock) == "Alarm clock 闹钟、闹铃"  # every name goes into the keyword index
    assert table.chinese_first[dial_tone] == "拨号音" and "拨号音" not in table.chinese[dialing]  # 拨号音 is the dial tone
    assert "警笛" in table.chinese[english["Siren"]].split(SYNONYMS)


@pytest.mark.parametrize("query, bare", [
    ("the sound of rain", "rain"), ("Sounds of a dog barking.", "dog barking"), ("a doorbell sound", "a doorbell"),
    ("the noise of traffic", "traffic"), ("下雨的声音", "下雨"), ("关门声音", "关门"), ("揉纸的声响。", "揉纸"),
    ("a sound", None), ("声音", None), ("the sound of", None), ("white noise", None), ("掌声", None),
    ("sound effects", None), ("dog", None),
])
def test_a_query_less_its_sound_frame(query, bare):
    from searchengine.sounds.query import without_frame

    assert without_frame(query) == bare


def test_sound_units_are_ranked_by_the_query_less_its_frame(settings, recordings):
    _model_or_skip()
    from searchengine import SearchEngine
    from searchengine.encoders.base import encode_queries

    with SearchEngine.open("frame", settings=settings.with_(sounds="on")) as engine:
        engine.index([recordings], progress=False)
        dim = engine.encoder.dim
        full, bare = (encode_queries(engine.encoder, [text])[0] for text in ("the sound of a beep", "beep"))
        hits = engine.search("the sound of a beep", mode="vector", group="unit", k=10)
        kinds = {h.kind for h in hits}
        assert {"sound", "window"} <= kinds, kinds  # the beep, and the sidecar's line
        for h in hits:
            unit = engine.repo.vectors_of([h.id], dim)[h.id]
            # sound units: their cosine with "beep"; every other kind: with the query as written
            expected = float(unit @ (bare if h.kind == "sound" else full))
            assert h.similarity == pytest.approx(expected, abs=1e-5), h.kind
        sound = next(h for h in hits if h.kind == "sound")
        plain = next(h for h in engine.search("beep", mode="vector", group="unit", k=10) if h.kind == "sound")
        assert sound.id == plain.id and sound.similarity == pytest.approx(plain.similarity, abs=1e-5)


# -- class scores: stored with the unit, carried by copies, used by the ranker ----------------

def _sound_rows(engine) -> dict[str, list[tuple]]:
    """{file name: [(start, end, text, scores as float32 bytes or None), ...]} of the sound units."""
    ids = engine.repo.unit_ids_by_kind().get("sound")
    rows = engine.repo.units([int(i) for i in ids]) if ids is not None else {}
    scored_ids, scores = engine.repo.sound_scores()
    by_id = {int(i): s for i, s in zip(scored_ids.tolist(), scores)}
    out: dict[str, list[tuple]] = {}
    for unit_id, row in sorted(rows.items()):
        held = by_id.get(unit_id)
        out.setdefault(Path(row.path).name, []).append(
            (row.start, row.end, row.text, None if held is None else held.astype(np.float32).tobytes()))
    return out


def test_class_scores_are_stored_with_the_unit_and_carried_by_copies(settings, recordings, database_url):
    """All 521 scores of the event (float16), on SQLite and PostgreSQL; a copy found by its
    content gets them with its rows (pipeline/plan.py copies rows, nothing is heard again)."""
    _model_or_skip()
    import shutil

    from searchengine import SearchEngine
    from searchengine.sounds.events import LABEL_FLOOR, MAX_LABELS

    s = settings.with_(sounds="on", database_url=database_url)
    with SearchEngine.open("scores", settings=s) as engine:
        engine.index([recordings], progress=False)
        ids, scores = engine.repo.sound_scores()
        assert len(ids) == 1 and scores.shape == (1, N_CLASSES)
        table = sound_classes()
        # the event's own scores: its labels (its best event classes from 0.15) are read back from them
        text = engine.repo.units(ids.tolist())[int(ids[0])].text
        named = [c for c in np.argsort(-(scores[0] * table.events))[:MAX_LABELS] if scores[0, c] >= LABEL_FLOOR]
        assert text == "; ".join(table.label(int(c)) for c in named)
        assert table.english[named[0]] == "Beep, bleep" and scores[0, named[0]] >= THRESHOLD
        assert 0.0 <= scores.min() and scores.max() <= 1.0 and np.count_nonzero(scores[0]) > 100  # faint ones too
        shutil.copy(recordings / "kitchen.wav", recordings / "kitchen-copy.wav")
        shutil.copy(recordings / "kitchen.srt", recordings / "kitchen-copy.srt")
        report = engine.index([recordings], progress=False)
        assert report.reused == 1 and report.sound_events == 0  # copied, not heard again
        rows = _sound_rows(engine)
        assert rows["kitchen-copy.wav"] == rows["kitchen.wav"] and rows["kitchen.wav"][0][3] is not None


def test_sound_units_from_before_revision_0009_are_kept_then_given_their_scores(settings, recordings, caplog):
    """An index whose sound units were made before class scores were kept: upgraded on open,
    every row as it was (no scores), searchable by vector and keyword; the next index run
    finds the recordings' events again (nothing else of theirs is redone) and stores them
    with their scores: the same events, the same vectors, now scored."""
    _model_or_skip()
    import logging

    from alembic import command
    from test_migrations import _config

    from searchengine import SearchEngine

    s = settings.with_(sounds="on")
    with SearchEngine.open("old", settings=s) as engine:
        engine.index([recordings], progress=False)
        before = _sound_rows(engine)
        dim = engine.encoder.dim
        vectors = engine.repo.vectors_of([int(i) for i in engine.repo.unit_ids_by_kind()["sound"]], dim)
        db = Path(engine.repo.engine.url.database)
        assert not engine.repo.sound_scores_pending()  # a new index: never scanned for unscored units
    command.downgrade(_config(f"sqlite:///{db}"), "0008")  # the schema those units were made under
    with SearchEngine.open("old", settings=s, create=False) as engine, caplog.at_level(logging.INFO):
        assert engine.status().schema_revision == "0009"
        assert engine.repo.sound_scores_pending()  # marked by the upgrade: it held sound units
        after = _sound_rows(engine)
        assert {name: [r[:3] for r in rows] for name, rows in after.items()} == \
            {name: [r[:3] for r in rows] for name, rows in before.items()}
        assert all(r[3] is None for rows in after.values() for r in rows)  # no scores until indexed again
        ids = [int(i) for i in engine.repo.unit_ids_by_kind()["sound"]]
        assert all(np.array_equal(engine.repo.vectors_of(ids, dim)[i], vectors[i]) for i in ids)
        hits = engine.search("beep", k=3)
        assert hits and hits[0].kind == "sound" and hits[0].path.endswith("kitchen.wav")
        assert "indexed before their class scores were kept" in caplog.text
        caplog.clear()
        others = {k: sorted(v.tolist()) for k, v in engine.repo.unit_ids_by_kind().items() if k != "sound"}
        engine.index([recordings], progress=False)  # unchanged files: only their events are found again
        assert "found the sound events of 1 files again" in caplog.text
        assert "before their class scores were kept" not in caplog.text
        filled = _sound_rows(engine)
        assert {name: [r[:3] for r in rows] for name, rows in filled.items()} == \
            {name: [r[:3] for r in rows] for name, rows in before.items()}
        assert filled == before  # the scores a fresh index stores
        kinds = engine.repo.unit_ids_by_kind()
        assert {k: sorted(v.tolist()) for k, v in kinds.items() if k != "sound"} == others
        new_ids = [int(i) for i in kinds["sound"]]
        assert sorted(np.round(v, 5).tobytes() for v in engine.repo.vectors_of(new_ids, dim).values()) == \
            sorted(np.round(v, 5).tobytes() for v in vectors.values())
        assert engine.repo.sound_units_without_scores() == 0
        assert not engine.repo.sound_scores_pending()  # the mark of the migration is cleared
        assert engine.search("beep", k=3)[0].path.endswith("kitchen.wav")
        caplog.clear()
        engine.index([recordings], progress=False)
        assert "found the sound events" not in caplog.text  # once


def _named_recordings(folder: Path) -> Path:
    """Five recordings of one generated sound each, in silence: tones, noise, clicks."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    t = np.arange(int(2.5 * RATE)) / RATE
    sounds = {
        "tone-1k.wav": tone(2.5),
        "tone-low.wav": (0.5 * np.sign(np.sin(2 * np.pi * 220 * t))).astype(np.float32),
        "noise.wav": (0.3 * rng.standard_normal(len(t))).astype(np.float32),
        "sweep.wav": (0.5 * np.sin(2 * np.pi * (300 + 1500 * t) * t)).astype(np.float32),
        "clicks.wav": np.where(np.arange(len(t)) % 4000 < 40, 0.8, 0.0).astype(np.float32),
    }
    for name, sound in sounds.items():
        audio = np.zeros(int(6 * RATE), np.float32)
        audio[RATE : RATE + len(sound)] += sound
        write_wav(folder / name, audio)
    return folder


def test_a_faint_class_the_event_vector_cannot_hold_finds_its_event(settings, tmp_path, monkeypatch):
    """A query named by a class that one event scores far above every other event, but
    below the classes its vector blends, so that the vectors alone rank another event
    first: the class-space score finds it (and without it, the first sound hit is another)."""
    _model_or_skip()
    from searchengine import SearchEngine
    from searchengine.encoders.base import encode_queries
    from searchengine.sounds import class_space
    from searchengine.sounds.events import TOP_T

    folder = _named_recordings(tmp_path / "named")
    table = sound_classes()
    with SearchEngine.open("faint", settings=settings.with_(sounds="on")) as engine:
        engine.index([folder], progress=False)
        ids, scores = engine.repo.sound_scores()
        assert len(ids) >= 4
        dim = engine.encoder.dim
        vectors = engine.repo.vectors_of(ids.tolist(), dim)
        matrix = np.stack([vectors[int(i)] for i in ids.tolist()])
        faint = []
        for c in np.nonzero(table.events)[0].tolist():
            order = np.argsort(-scores[:, c])
            best, second = int(order[0]), int(order[1])
            in_vector = c in np.argsort(-scores[best] * table.events)[:TOP_T]
            if in_vector or scores[best, c] < 0.02 or scores[best, c] < 5 * scores[second, c]:
                continue
            query = table.english[c]
            cos = matrix @ encode_queries(engine.encoder, [query])[0]
            if int(np.argmax(cos)) != best:
                faint.append((query, int(ids[best])))
        assert len(faint) >= 3, faint  # the set holds such classes: the test tests something

        def first_sound(query: str) -> int:
            return next(h.id for h in engine.search(query, mode="vector", group="unit", k=20) if h.kind == "sound")

        found = [first_sound(q) == unit for q, unit in faint]
        monkeypatch.setattr(class_space, "WEIGHT", 0.0)  # the cosine alone
        alone = [first_sound(q) == unit for q, unit in faint]
    assert not any(alone)  # by construction: the vectors rank another event first
    # the tiny test model's cosines spread as widely as the class-space score, so some stay
    # with the vectors' choice; the class-space score brings a quarter or more to their event
    assert sum(found) >= max(3, len(faint) // 4), list(zip(faint, found))


def test_the_blend_of_the_two_z_scores_keeps_unit_variance_and_never_inflates():
    from searchengine.sounds.class_space import class_z, combined_z

    rng = np.random.default_rng(0)
    a = rng.standard_normal(5000)
    for rho in (0.0, 0.5, 0.9):
        b = rho * a + np.sqrt(1 - rho * rho) * rng.standard_normal(5000)
        mixed = np.asarray(combined_z(a, b, float(np.corrcoef(a, b)[0, 1]), weight=1.0))
        assert float(mixed.std()) == pytest.approx(1.0, abs=0.03)  # on the one scale
    # two units correlate -1 whatever they are: taken as none, never a division by ~0
    assert combined_z(1.0, 2.0, -1.0, weight=1.0) == pytest.approx(3.0 / np.sqrt(2.0))
    scores = np.zeros((4, N_CLASSES), np.float32)
    scores[:, 7] = [0.01, 0.001, 0.001, 0.002]  # a faint class, highest in the first unit
    weights = np.zeros(N_CLASSES, np.float32)
    weights[7] = 1.0
    z = class_z(scores, weights)
    assert int(np.argmax(z)) == 0 and z[0] > 1.5 and np.isfinite(z).all()
    assert class_z(scores[:1], weights).tolist() == [0.0]  # one unit: no evidence either way
