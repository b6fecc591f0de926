"""Videos' picture track: key frames picked at scene changes (at most one every 2 s,
near-duplicates dropped, cost bounded), embedded with the image encoder as "frame" units
with their second, next to the sound track's transcript windows. Videos are made with PyAV
at test time (tests/video_maker.py); the tiny random CLIP model embeds them."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import SAMPLES, assert_consistent, make_image
from searchengine.errors import MediaDecodeError
from searchengine.media.hashing import content_hash
from searchengine.media.video import key_frames, probe_video
from searchengine.store.repository import FileWrite, NewUnit
from video_maker import make_video, scene_picture

# scene 1 for 3 s, scene 2 for 1 s (too soon after the cut at 3 s), scene 3 for 4 s, then
# back to scene 1 (a near-duplicate of the first frame)
SCENES = [(3.0, 1), (1.0, 2), (4.0, 3), (3.0, 1)]
SRT = "1\n00:00:01,000 --> 00:00:04,000\nA zebra plays the trumpet in an orchestra.\n"


def times(pick):
    return [round(f.time, 2) for f in pick.frames]


def test_key_frames_at_scene_changes_one_per_two_seconds_duplicates_dropped(tmp_path):
    pick = key_frames(make_video(tmp_path / "v.mp4", SCENES), keyframe_gap=0.0)  # every frame decoded
    assert times(pick) == pytest.approx([0.0, 3.0, 5.0], abs=0.21)
    assert pick.decoded == 110 and pick.full_gops >= 1 and pick.duration == pytest.approx(11.0, abs=0.2)
    assert pick.spans()[-1][1] == pytest.approx(11.0, abs=0.2)  # the last frame lasts to the end
    first, _, third = pick.frames
    assert min(first.image.size) == 96 and first.image.mode == "RGB"
    # the kept picture is the scene's (colour blocks, through the codec)
    expect = np.asarray(scene_picture(3, first.image.size), dtype=np.float32)
    assert np.abs(np.asarray(third.image, dtype=np.float32) - expect).mean() < 12

    still = key_frames(make_video(tmp_path / "still.mp4", [(9.0, 4)]), keyframe_gap=0.0)
    assert times(still) == [0.0]  # nine seconds of one picture: one frame

    moving = key_frames(make_video(tmp_path / "pan.mp4", [(9.0, 5)], motion=40.0), keyframe_gap=0.0)
    gaps = np.diff([f.time for f in moving.frames])
    assert len(moving.frames) >= 3 and (gaps >= 2.0 - 1e-6).all()  # it changes: more, never denser


def test_short_gops_are_sampled_by_their_key_frames_alone(tmp_path):
    video = make_video(tmp_path / "g.mp4", SCENES, gop=10)  # a key frame every second
    cheap = key_frames(video)
    full = key_frames(video, keyframe_gap=0.0)
    assert cheap.full_gops == 0 and cheap.key_gops == 11 and cheap.decoded == 11
    assert full.decoded == 110
    assert times(cheap) == times(full) == pytest.approx([0.0, 3.0, 5.0], abs=0.01)
    assert cheap.frames_per_second > 0


def test_long_videos_have_their_gap_widened_to_the_frame_cap(tmp_path):
    video = make_video(tmp_path / "v.mp4", [(2.0, s) for s in range(1, 9)], gop=10)  # a cut every 2 s
    assert len(key_frames(video).frames) == 8
    capped = key_frames(video, max_frames=3)
    assert len(capped.frames) <= 3 and (np.diff([f.time for f in capped.frames]) >= 16 / 3 - 1e-6).all()


def test_broken_videos_fail_with_their_reason(open_engine, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    (media / "junk.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 300)
    whole = make_video(tmp_path / "whole.mkv", [(2.0, 1), (2.0, 2)]).read_bytes()
    (media / "cut.mkv").write_bytes(whole[: len(whole) * 3 // 4])  # truncated: what is there is read
    with pytest.raises(MediaDecodeError, match="junk.mp4"):
        probe_video(media / "junk.mp4")
    assert not probe_video(tmp_path / "whole.mkv").has_audio
    assert probe_video(make_video(tmp_path / "sound.mp4", [(1.0, 1)], tone=True)).has_audio
    engine = open_engine("broken")
    report = engine.index([media])
    assert report.failed == 1 and "junk.mp4" in report.failures[0][1]
    assert report.added == 1 and report.frames_kept >= 1
    assert_consistent(engine)


def _index_folder(tmp_path):
    media = tmp_path / "media"
    for i in range(4):
        make_image(media / f"photo{i}.png", seed=100 + i)
    make_video(media / "silent.mp4", [(3.0, 11), (3.0, 12), (3.0, 13)])
    make_video(media / "talk.webm", [(2.5, 21), (3.0, 22)], codec="libvpx-vp9", tone=True)
    (media / "talk.srt").write_text(SRT)
    stills = tmp_path / "stills"
    stills.mkdir()
    scene_picture(12, (160, 96)).save(stills / "second-scene.png")
    scene_picture(22, (160, 96)).save(stills / "talk-second-scene.png")
    return media, stills


def test_a_silent_video_is_found_by_a_still_at_its_second(open_engine, tmp_path):
    media, stills = _index_folder(tmp_path)
    engine = open_engine("videos")
    report = engine.index([media])
    assert report.failed == 0, report.failures
    assert report.added == 6 and report.videos == 2 and report.frames_kept == 5 and report.frames_decoded > 0
    assert_consistent(engine)

    hit = engine.search(image=stills / "second-scene.png", k=3)[0]
    assert hit.path == str(media / "silent.mp4") and hit.modality == "video" and hit.kind == "frame"
    assert hit.start == pytest.approx(3.0, abs=0.21) and hit.end == pytest.approx(6.0, abs=0.21)
    only = engine.search(image=stills / "second-scene.png", k=20, modality="video")
    assert only and all(h.modality == "video" for h in only)
    assert {h.modality for h in engine.search(image=stills / "second-scene.png", k=20, modality="image")} == {"image"}

    stats = engine.status().modalities["video"]
    assert stats["files"] == 2 and stats["units"] == 3 + 2 + 1  # 3 + 2 frames, 1 transcript window

    # a video with sound: its frames and its transcript windows
    talk = engine.search(image=stills / "talk-second-scene.png", k=1, modality="video")[0]
    assert talk.path == str(media / "talk.webm") and talk.kind == "frame"
    assert talk.start == pytest.approx(2.5, abs=0.21)
    said = engine.search("zebra trumpet orchestra", k=1, mode="keyword")[0]
    assert said.path == str(media / "talk.webm") and said.kind == "window" and (said.start, said.end) == (1.0, 4.0)
    assert engine.transcript(said.id)["source"] == "sidecar"
    assert engine.index([media]).unchanged == 6  # nothing decoded again


def test_cli_says_the_second(open_engine, settings, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from searchengine.cli import app

    media, stills = _index_folder(tmp_path)
    open_engine("cli-videos").index([media])
    monkeypatch.setenv("SEARCHENGINE_INDEX_ROOT", str(settings.index_root))
    monkeypatch.setenv("SEARCHENGINE_MODEL", settings.model)
    runner = CliRunner()
    result = runner.invoke(app, ["search", "--image", str(stills / "second-scene.png"), "--index", "cli-videos",
                                 "--modality", "video", "--k", "1"])
    assert result.exit_code == 0, result.output
    assert "silent.mp4" in result.output and "at 0:03.0" in result.output
    result = runner.invoke(app, ["search", "--image", str(stills / "second-scene.png"), "--index", "cli-videos",
                                 "--modality", "video", "--k", "1", "--json"])
    (hit,) = json.loads(result.output)
    assert hit["kind"] == "frame" and hit["start"] == pytest.approx(3.0, abs=0.21)


def test_an_old_index_with_a_video_as_audio_gets_its_frames(open_engine, settings, tmp_path):
    from searchengine.transcribe.segments import Segment

    media = tmp_path / "media"
    video = make_video(media / "talk.mp4", [(3.0, 31), (3.0, 32)], tone=True)
    engine = open_engine("old")
    # what the version before videos had a modality wrote: the sound track's windows only,
    # and its transcript (by speech recognition) cached by content hash
    st, digest = os.stat(video), content_hash(video)
    said = "A zebra plays the trumpet in an orchestra."
    engine.repo.save_transcript(digest, f"asr:{settings.asr_model}", [Segment(1.0, 4.0, said)], "en", 6.0)
    vec = np.zeros(engine.catalog.dim, np.float32)
    vec[0] = 1.0
    with engine.catalog.write_lock():
        engine.catalog.sync(force=True)
        engine.repo.add_roots([str(media)])
        engine.catalog.store_files([FileWrite(
            path=str(video), modality="audio", content_hash=digest, size=st.st_size, mtime_ns=st.st_mtime_ns,
            units=[NewUnit(1.0, 4.0, said, vec)], device=st.st_dev, inode=st.st_ino)])
        engine.catalog.save(final=True)
    report = engine.index([media])  # the stat is the same; the modality is not
    assert report.updated == 1 and report.unchanged == 0 and report.frames_kept == 2
    assert report.transcript_cache_hits == 1 and report.transcribed_files == 0  # not transcribed again
    rows = engine.repo.files()
    assert rows[str(video)].modality == "video"
    units = engine.repo.units([int(i) for i in engine.vectors.ids()]).values()
    assert sorted(u.kind for u in units) == ["frame", "frame", "window"]
    assert [u.text for u in units if u.kind == "window"] == [said]
    assert_consistent(engine)
    assert engine.index([media]).unchanged == 1


def test_http_filters_videos_and_serves_ranges(open_engine, tmp_path):
    from fastapi.testclient import TestClient

    from searchengine.http.app import create_app

    media, stills = _index_folder(tmp_path)
    engine = open_engine("http-videos")
    engine.index([media])
    client = TestClient(create_app(engine), base_url="http://127.0.0.1:8000")
    with open(stills / "second-scene.png", "rb") as fh:
        r = client.post("/api/search/image", files={"file": ("s.png", fh, "image/png")},
                        data={"modality": "video", "k": "1"})
    assert r.status_code == 200, r.text
    (hit,) = r.json()["hits"]
    assert hit["modality"] == "video" and hit["kind"] == "frame" and hit["start"] == pytest.approx(3.0, abs=0.21)
    part = client.get(hit["media_url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100 and part.headers["content-type"] == "video/mp4"
    r = client.get("/api/search", params={"q": "zebra", "modality": "video", "mode": "keyword"})
    assert r.status_code == 200 and r.json()["hits"][0]["kind"] == "window"


def test_video_settings_are_checked_and_read_from_the_environment(monkeypatch):
    from searchengine import Settings
    from searchengine.errors import InvalidInputError

    for bad in ({"video_max_frames": 0}, {"video_frame_gap": 0.0}, {"video_scene_threshold": 1.5}):
        with pytest.raises(InvalidInputError, match="video_"):
            Settings(**bad)
    monkeypatch.setenv("SEARCHENGINE_VIDEO_FRAME_GAP", "5")
    monkeypatch.setenv("SEARCHENGINE_VIDEO_KEYFRAME_GAP", "0")
    got = Settings.from_env()
    assert got.video_frame_gap == 5.0 and got.video_keyframe_gap == 0.0


def test_a_text_query_lands_on_the_second_a_thing_is_on_screen(offline_settings, tmp_path):
    """Real weights (the offline profile): words find the scene that shows them."""
    from PIL import Image

    from searchengine import SearchEngine

    pictures = [Image.open(SAMPLES / "images" / name) for name in ("coffee.png", "rocket.jpg", "horse.png")]
    media = tmp_path / "media"
    make_video(media / "film.mp4", [(3.0, pictures[0]), (3.0, pictures[1]), (3.0, pictures[2])], size=(320, 240))
    with SearchEngine.open("words", settings=offline_settings.with_(index_root=tmp_path / "idx")) as engine:
        assert engine.index([media]).frames_kept == 3
        for query, second in (("a rocket launch", 3.0), ("a horse", 6.0), ("a cup of coffee", 0.0)):
            hit = engine.search(query, k=1, modality="video", mode="vector")[0]
            assert hit.kind == "frame" and hit.start == pytest.approx(second, abs=0.21), query
