"""Sound events: do sound queries find the right recording, at the right second, and what
does looking for them add to indexing a recording?

    python benchmarks/bench_sounds.py [--model offline:e5-effnet] [--asr-model tiny.en]
                                      [--repeats 1] [--json OUT] [--keep DIR]

The quality set is made here, from packaged and generated audio only (Debian packages
``sox``, ``sound-theme-freedesktop`` and ``espeak-ng``): nine kinds of sound event (the
freedesktop theme's phone ringing, camera shutter, alarm clock and crumpled paper; sox's
1 kHz beep, white noise, plucked-string melody, square-wave siren and telephone dial tone),
each mixed at a known second (seeded, 2-8 s) into 12 s of espeak-ng speech (at half
amplitude) and into 12 s of silence: 18 recordings, plus 4 of speech alone. Every kind has
a query in English and one in Chinese, written as a person would ask (not the model's
label); a query is right at 1 when the first hit is a recording of its kind.

It prints, in one run:
- R@1 of the sound queries, English and Chinese (the default hybrid search; no filter);
- the moment error: |moment - the second the event starts| of each right first hit;
- seconds of audio per CPU second of the sound-event step (log-mel + model + events);
- the added cost of indexing the set: wall time and the process's CPU time with
  ``sounds="on"`` against ``"off"`` (fresh indexes, models loaded beforehand, speech
  recognition in both; --repeats rounds in alternating order, medians), their ratios, and the
  sound step's own CPU time as a share of the indexing without it. On a shared, loaded
  machine the wall-time ratio swings with the neighbours' load; the CPU figures do not.

Tests do not reuse these mixes (tests/test_sounds.py makes its own).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THEME = Path("/usr/share/sounds/freedesktop/stereo")
RATE = 16000
SECONDS = 12.0
SENTENCES = [
    "Welcome back to the weekly meeting. Today we go over the budget and the plans for next year.",
    "The library will be closed on Monday for repairs, and opens again on Tuesday morning at nine.",
    "Our guest this week studies how old maps were drawn, printed and sold across Europe.",
    "Please remember to send your reports before Friday, so that we can read them over the weekend.",
    "The train to the coast leaves from platform four, and the journey takes about two hours.",
    "She said the garden looks best in early summer, when the roses are still in bloom.",
]

# kind: (how to make it, English query, Chinese query)
EVENTS: dict[str, tuple[list[str], str, str]] = {
    "phone": (["theme", "phone-incoming-call", "2"], "a telephone ringing", "电话铃响"),
    "camera": (["theme", "camera-shutter", "1"], "a camera shutter click", "相机快门声"),
    "alarm": (["theme", "alarm-clock-elapsed", "1"], "an alarm clock going off", "闹钟响了"),
    "paper": (["theme", "trash-empty", "1"], "paper being crumpled", "揉纸的声音"),
    "beep": (["sox", "synth", "1.5", "sine", "1000", "vol", "0.5"], "a beep", "哔的一声"),
    "noise": (["sox", "synth", "3", "whitenoise", "vol", "0.4"], "white noise hiss", "白噪音"),
    "music": (["sox", "synth", "0.4", "pluck", "C4", "synth", "0.4", "pluck", "E4", ":", "synth", "0.4", "pluck",
               "G4", ":", "synth", "0.4", "pluck", "C5", ":", "synth", "0.8", "pluck", "G4"],
              "a melody played on a plucked instrument", "一段音乐"),
    "siren": (["sox", "synth", "3", "square", "440", "vol", "0.3"], "a siren", "警报声"),
    "dial": (["sox", "synth", "3", "sine", "350", "sine", "440", "remix", "1,2", "vol", "0.5"],
             "the dial tone of a phone line", "电话拨号音"),
}


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def need_tools() -> None:
    missing = [t for t in ("sox", "espeak-ng") if shutil.which(t) is None]
    if missing or not THEME.is_dir():
        sys.exit(f"needs sox, espeak-ng and sound-theme-freedesktop: apt-get install -y sox espeak-ng "
                 f"sound-theme-freedesktop (missing: {', '.join(missing) or THEME})")


def load(path: Path) -> np.ndarray:
    from searchengine.media.audio import decode_audio

    return decode_audio(path)


def make_event(kind: str, tmp: Path) -> np.ndarray:
    recipe = EVENTS[kind][0]
    out = tmp / f"event-{kind}.wav"
    if recipe[0] == "theme":
        name, times = recipe[1], int(recipe[2])
        run(["sox", str(THEME / f"{name}.oga"), "-r", str(RATE), "-c", "1", str(out)] + (["repeat", str(times - 1)]
                                                                                      if times > 1 else []))
    else:
        run(["sox", "-n", "-r", str(RATE), "-c", "1", str(out)] + recipe[1:])
    return load(out)


def make_speech(text: str, tmp: Path, i: int) -> np.ndarray:
    raw = tmp / f"speech-{i}.wav"
    run(["espeak-ng", "-s", "150", "-w", str(raw), text])
    speech = load(raw)
    return np.tile(speech, int(np.ceil(SECONDS * RATE / len(speech))))[: int(SECONDS * RATE)]


def write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def first_sound(event: np.ndarray) -> float:
    """Where the event clip itself becomes audible (its files may start with silence)."""
    loud = np.nonzero(np.abs(event) > 0.05 * np.abs(event).max())[0]
    return float(loud[0]) / RATE if len(loud) else 0.0


def build_set(folder: Path, seed: int = 7) -> dict[str, dict]:
    """The recordings, and the truth: {file name: {"kind", "onset"}}."""
    rng = np.random.default_rng(seed)
    tmp = folder / ".parts"
    tmp.mkdir(parents=True, exist_ok=True)
    speeches = [make_speech(s, tmp, i) for i, s in enumerate(SENTENCES)]
    truth: dict[str, dict] = {}
    for n, kind in enumerate(EVENTS):
        event = make_event(kind, tmp)
        for background in ("speech", "silence"):
            at = float(np.round(rng.uniform(2.0, 8.0), 2))
            base = 0.5 * speeches[n % len(speeches)] if background == "speech" else np.zeros(int(SECONDS * RATE))
            mix = base.copy()
            i = int(at * RATE)
            piece = event[: len(mix) - i]
            mix[i : i + len(piece)] += piece
            name = f"{kind}-{background}.wav"
            write_wav(folder / name, mix)
            truth[name] = {"kind": kind, "onset": round(at + first_sound(event), 3)}
    for j in range(4):
        name = f"talk-{j}.wav"
        write_wav(folder / name, 0.5 * speeches[(j + 2) % len(speeches)])
        truth[name] = {"kind": "speech", "onset": None}
    shutil.rmtree(tmp)
    return truth


def prepare(engine) -> None:
    """Models loaded outside the measured time, every run alike."""
    engine.encoder.encode_texts(["warm"])
    engine._get_transcriber()


def index_once(settings, folder: Path, name: str) -> tuple[float, float, object]:
    from searchengine import SearchEngine

    with SearchEngine.open(name, settings=settings) as engine:
        prepare(engine)
        if settings.sounds == "on":
            from searchengine.sounds import model as sound_model
            from searchengine.sounds.space import class_vectors

            sound_model.shared(settings.sound_model, settings.cache_dir)
            class_vectors(engine.encoder, settings.cache_dir)
        t0, c0 = time.perf_counter(), time.process_time()
        report = engine.index([folder], progress=False)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert report.failed == 0, report.failures
        return seconds, cpu, report


def quality(settings, name: str, truth: dict[str, dict]) -> dict:
    from searchengine import SearchEngine

    rows = []
    with SearchEngine.open(name, settings=settings, create=False) as engine:
        for kind, (_, english, chinese) in EVENTS.items():
            for language, query in (("en", english), ("zh", chinese)):
                hits = engine.search(query, k=5)
                top = hits[0] if hits else None
                got = truth.get(Path(top.path).name, {}) if top else {}
                right = got.get("kind") == kind
                moment = (top.moment if top.moment is not None else top.start) if top else None
                error = abs(moment - got["onset"]) if right and moment is not None and top.kind == "sound" else None
                rows.append({"kind": kind, "language": language, "query": query, "right": right,
                             "top": Path(top.path).name if top else None, "top_kind": top.kind if top else None,
                             "top_text": top.text if top else None, "moment": moment, "moment_error": error})
    out: dict = {"queries": rows}
    for language in ("en", "zh"):
        mine = [r for r in rows if r["language"] == language]
        out[f"r_at_1_{language}"] = round(sum(r["right"] for r in mine) / len(mine), 3)
    errors = [r["moment_error"] for r in rows if r["moment_error"] is not None]
    out["moment_error_median"] = round(statistics.median(errors), 2) if errors else None
    out["moment_error_max"] = round(max(errors), 2) if errors else None
    out["moment_within_1s"] = round(sum(e <= 1.0 for e in errors) / len(errors), 3) if errors else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="offline:e5-effnet")
    parser.add_argument("--asr-model", default="tiny.en")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the off/on indexing pair")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="make the set in this folder and keep it")
    args = parser.parse_args()
    need_tools()
    import logging

    logging.basicConfig(level=logging.WARNING)
    from searchengine import Settings

    work = Path(tempfile.mkdtemp(prefix="bench-sounds-"))
    folder = args.keep or work / "set"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        truth = build_set(folder)
        audio_seconds = SECONDS * len(truth)
        print(f"set: {len(truth)} recordings, {audio_seconds:.0f} s of audio, in {folder}")
        base = Settings.from_env(index_root=work / "indexes", model=args.model, asr_model=args.asr_model)
        rounds = []
        for r in range(args.repeats):  # the order alternates: a machine's drift favours neither
            first, second = ("off", "on") if r % 2 == 0 else ("on", "off")
            timed = {mode: index_once(base.with_(sounds=mode), folder, f"{mode}-{r}") for mode in (first, second)}
            (off, off_cpu, off_report), (on, on_cpu, on_report) = timed["off"], timed["on"]
            rounds.append({"off_s": round(off, 2), "on_s": round(on, 2), "ratio": round(on / off, 3),
                           "off_cpu_s": round(off_cpu, 2), "on_cpu_s": round(on_cpu, 2),
                           "cpu_ratio": round(on_cpu / off_cpu, 3),
                           "sound_cpu_s": round(on_report.sound_seconds, 2),  # type: ignore[attr-defined]
                           "sound_events": on_report.sound_events,  # type: ignore[attr-defined]
                           "stages_off": {k: round(v, 2) for k, v in asdict(off_report.stages).items()},  # type: ignore[attr-defined]
                           "stages_on": {k: round(v, 2) for k, v in asdict(on_report.stages).items()}})  # type: ignore[attr-defined]
            print(f"round {r + 1}: indexing without sound events {off:.1f} s ({off_cpu:.1f} CPU s), with {on:.1f} s "
                  f"({on_cpu:.1f} CPU s): x{on / off:.3f} wall, x{on_cpu / off_cpu:.3f} CPU; the sound step {on_report.sound_seconds:.2f} CPU s, "  # type: ignore[attr-defined]
                  f"{on_report.sound_events} events")  # type: ignore[attr-defined]
        found = quality(base.with_(sounds="on"), f"on-{args.repeats - 1}", truth)
        sound_cpu = statistics.median(r["sound_cpu_s"] for r in rounds)
        result = {
            "model": args.model, "asr_model": args.asr_model, "recordings": len(truth), "audio_seconds": audio_seconds,
            **{k: v for k, v in found.items() if k != "queries"},
            "audio_seconds_per_cpu_second": round(audio_seconds / sound_cpu, 1) if sound_cpu else None,
            "index_off_s": statistics.median(r["off_s"] for r in rounds),
            "index_on_s": statistics.median(r["on_s"] for r in rounds),
            "added_cost_ratio": statistics.median(r["ratio"] for r in rounds),
            "index_off_cpu_s": statistics.median(r["off_cpu_s"] for r in rounds),
            "index_on_cpu_s": statistics.median(r["on_cpu_s"] for r in rounds),
            "added_cpu_ratio": statistics.median(r["cpu_ratio"] for r in rounds),
            "sound_step_share": round(sound_cpu / statistics.median(r["off_cpu_s"] for r in rounds), 4),
            "rounds": rounds, "queries": found["queries"], "truth": truth,
        }
        for row in found["queries"]:
            mark = "ok " if row["right"] else "MISS"
            err = f"  moment {row['moment']:.2f} (off by {row['moment_error']:.2f} s)" if row["moment_error"] is not None else ""
            print(f"  {mark} [{row['language']}] {row['query']!r} -> {row['top']} ({row['top_kind']}: "
                  f"{(row['top_text'] or '')[:50]!r}){err}")
        print(f"R@1 English {result['r_at_1_en']:.3f}, Chinese {result['r_at_1_zh']:.3f} (target >= 0.8)")
        print(f"moment error: median {result['moment_error_median']} s, max {result['moment_error_max']} s, "
              f"within 1 s: {result['moment_within_1s']} (target: within 1 s)")
        print(f"sound step: {result['audio_seconds_per_cpu_second']} s of audio per CPU second")
        print(f"indexing the set: {result['index_off_s']:.1f} s without sound events, {result['index_on_s']:.1f} s "
              f"with: x{result['added_cost_ratio']:.3f} wall; CPU {result['index_off_cpu_s']:.1f} s -> "
              f"{result['index_on_cpu_s']:.1f} s: x{result['added_cpu_ratio']:.3f} (target <= 1.15); the sound "
              f"step alone is {100 * result['sound_step_share']:.1f}% of the indexing CPU time without it")
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
