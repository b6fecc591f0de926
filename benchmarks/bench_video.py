"""What the picture track of videos costs.

    python benchmarks/bench_video.py [--seconds 60] [--height 720] [--repeats 3] [--model SPEC]
                                     [--asr-model tiny.en] [--json OUT]

Makes a video with PyAV (scenes of 3-15 s of coloured blocks that drift slowly, 30 fps,
x264 "veryfast", with a speech track looped from samples/audio) in two encodings: the
encoder's default GOP (x264: a key frame at each scene cut, at most 250 frames apart) and
2-second GOPs (what phones and streaming services write). For each it prints:

- key frame picking alone (media.video.key_frames): frames decoded, decode frames/s,
  seconds of video per second, key frames kept per minute, GOPs decoded in full / by key frame;
  and the same with every frame decoded (keyframe_gap=0, env SEARCHENGINE_VIDEO_KEYFRAME_GAP=0),
  the cost without the shortcut;
- indexing the video (frames + transcript) against indexing its sound alone (the same
  samples as an .m4a): seconds, seconds of video per second of indexing, and the ratio
  (models loaded beforehand, after a warm-up run; medians of --repeats runs in rounds, and
  the ratio of each round's pair).

Figures are taken in one run; compare ratios, not absolute numbers, across machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from video_maker import make_video  # noqa: E402


def scenes_for(seconds: float) -> list[tuple[float, int]]:
    lengths = [3.0, 7.0, 15.0, 5.0, 10.0, 4.0, 12.0, 6.0]
    out, total, i = [], 0.0, 0
    while total < seconds:
        length = min(lengths[i % len(lengths)], seconds - total)
        out.append((length, 1000 + i))
        total += length
        i += 1
    return out


def speech(seconds: float) -> np.ndarray:
    from searchengine.media.audio import decode_audio

    clip = decode_audio(ROOT / "samples" / "audio" / "printing-history.flac")
    return np.tile(clip, int(np.ceil(seconds * 16000 / len(clip))))[: int(seconds * 16000)]


def write_m4a(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate)
        stream.layout = "mono"
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        for i in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, i : i + 1024], format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def pick_figures(path: Path, duration: float, **kw: float) -> dict:
    from searchengine.media.video import key_frames

    pick = key_frames(path, **kw)  # type: ignore[arg-type]
    return {
        "frames_decoded": pick.decoded,
        "decode_seconds": round(pick.decode_seconds, 2),
        "decode_frames_per_s": round(pick.frames_per_second, 1),
        "video_s_per_s": round(duration / pick.decode_seconds, 1),
        "key_frames": len(pick.frames),
        "key_frames_per_minute": round(len(pick.frames) / duration * 60, 1),
        "gops_full": pick.full_gops,
        "gops_by_key_frame": pick.key_gops,
    }


def index_seconds(settings, name: str, path: Path) -> tuple[float, dict]:
    from searchengine import SearchEngine

    with SearchEngine.open(name, settings=settings) as engine:
        # the models (both towers) load outside the measured time, every run alike
        from PIL import Image

        from searchengine.encoders.base import encode_images

        encode_images(engine.encoder, [Image.new("RGB", (256, 256), "gray")])
        engine.encoder.encode_texts(["warm"])
        engine._get_transcriber()
        t0 = time.perf_counter()
        report = engine.index([path])
        seconds = time.perf_counter() - t0
        assert report.failed == 0, report.failures
        return seconds, {"units": report.units_added, "frames_kept": report.frames_kept,
                         "frame_decode_seconds": round(report.frame_decode_seconds, 2),
                         "transcribed_seconds": round(report.transcribed_seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--model", default="offline:minilm-effnet")
    ap.add_argument("--asr-model", default="tiny.en")
    ap.add_argument("--repeats", type=int, default=3, help="index runs of each, in rounds (medians)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()

    from searchengine import Settings

    width = args.height * 16 // 9 // 2 * 2
    out: dict = {"seconds": args.seconds, "size": f"{width}x{args.height}", "fps": 30, "model": args.model,
                 "asr_model": args.asr_model}
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        folder = Path(tmp)
        sound = speech(args.seconds)
        scenes = scenes_for(args.seconds)
        t0 = time.perf_counter()
        videos = {
            "default GOP": make_video(folder / "default" / "film.mp4", scenes, size=(width, args.height), fps=30,
                                      motion=8.0, audio=sound),
            "2 s GOP": make_video(folder / "short" / "film.mp4", scenes, size=(width, args.height), fps=30,
                                  motion=8.0, audio=sound, gop=60),
        }
        print(f"made 2 videos of {args.seconds:.0f} s at {width}x{args.height}, {len(scenes)} scenes, "
              f"in {time.perf_counter() - t0:.0f} s", flush=True)
        audio_only = write_m4a(folder / "sound" / "film.m4a", sound)

        for label, path in videos.items():
            out[label] = {"picked": pick_figures(path, args.seconds),
                          "every_frame_decoded": pick_figures(path, args.seconds, keyframe_gap=0.0)}
            print(f"{label:12} picked:        {out[label]['picked']}")
            print(f"{'':12} every frame:   {out[label]['every_frame_decoded']}", flush=True)

        settings = Settings(index_root=folder / "indexes", model=args.model, asr_model=args.asr_model)
        index_seconds(settings, "warm-up", audio_only.parent)  # caches, first-call costs
        runs: dict[str, list[tuple[float, dict]]] = {"sound only": [], **{label: [] for label in videos}}
        for r in range(args.repeats):  # in rounds, so that the machine's moods hit all alike
            runs["sound only"].append(index_seconds(settings, f"sound-{r}", audio_only.parent))
            for label, path in videos.items():
                runs[label].append(index_seconds(settings, f"{label.replace(' ', '-')}-{r}", path.parent))
        audio_s = statistics.median(t for t, _ in runs["sound only"])
        out["index_sound_only"] = {"median_seconds": round(audio_s, 2),
                                   "video_s_per_s": round(args.seconds / audio_s, 1), **runs["sound only"][0][1]}
        print(f"index sound only:   {out['index_sound_only']}", flush=True)
        for label in videos:
            video_s = statistics.median(t for t, _ in runs[label])
            ratios = [v / a for (v, _), (a, _) in zip(runs[label], runs["sound only"])]
            out[label]["index_video"] = {"median_seconds": round(video_s, 2),
                                         "video_s_per_s": round(args.seconds / video_s, 1),
                                         "cost_vs_sound_only": round(statistics.median(ratios), 2),
                                         "pair_ratios": [round(x, 2) for x in ratios], **runs[label][0][1]}
            print(f"index {label:12} {out[label]['index_video']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
