"""Sound events: do sound queries find the right recording, at the right second, and what
does looking for them add to indexing a recording?

    python benchmarks/bench_sounds.py [--model offline:e5-effnet] [--asr-model tiny.en]
                                      [--repeats 1] [--quality-only] [--show-held-out]
                                      [--json OUT] [--keep DIR]

The quality set is made here, from packaged and generated audio only (Debian packages
``sox``, ``sound-theme-freedesktop`` and ``espeak-ng``): sixteen kinds of sound event - the
freedesktop theme's phone ringing, camera shutter, alarm clock, crumpled paper, busy tone
and message chime; sox's 1 kHz beep, white noise, plucked-string melody, square-wave
"siren", telephone dial tone, a struck bell (three decaying partials), a clock's ticks,
knocks, wind (brown noise, swelling) and a whistle (a 2.9 kHz trill) - each mixed at a known
second (seeded, 2-8 s) into 12 s of espeak-ng speech (at half amplitude) and into 12 s of
silence: 32 recordings, plus 4 of speech alone, named ``rec-NN.wav`` in a shuffled order (a
name that said "phone" answered the keyword side of a phone query by itself). Every kind
has three queries in English and three in Chinese, written as a person would ask (not the
model's label); a query is right at 1 when the first hit is a recording of its kind.
sox runs with -R (repeatable): its noises are the same samples every run, so two runs of
the same code give the same figures.

The first published set (2026-12-02) was the first nine kinds, with their first query in
each language, and kind-named files; its figures are reported apart ("v1"), now among the
larger set's recordings. The third phrasing of every kind is held out: it was written with
the others, before the set was first run, and kept out of the work on ranking.

It prints, in one run:
- R@1 of the sound queries, English and Chinese (the default hybrid search; no filter):
  all 48 of a language, the v1 nine, the 32 worked on, the 16 held out;
- which kinds the model *hears*: a sound unit of one of the kind's recordings is labelled
  with one of the AudioSet classes that name the kind (``NAMED_BY``), and R@1 on the queries
  of the kinds it hears and of those it does not (a diagnosis of the set, not a figure to
  raise by dropping items);
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

# kind: (how to make it, English queries, Chinese queries). The first nine kinds, with their
# first query in each language, are the set as first published ("v1": its figures are
# reported apart); the other seven kinds and every kind's second and third phrasings were
# added on 2026-12-03, written before the larger set was first run.
EVENTS: dict[str, tuple[list[str], tuple[str, ...], tuple[str, ...]]] = {
    "phone": (["theme", "phone-incoming-call", "2"], ("a telephone ringing", "the phone is ringing", "incoming call ringing"),
              ("电话铃响", "电话响了", "有电话打进来")),
    "camera": (["theme", "camera-shutter", "1"], ("a camera shutter click", "taking a photo with a camera", "the click of a camera"),
               ("相机快门声", "拍照的咔嚓声", "照相机的声音")),
    "alarm": (["theme", "alarm-clock-elapsed", "1"], ("an alarm clock going off", "the alarm clock rings", "wake-up alarm"),
              ("闹钟响了", "闹铃声", "起床闹钟")),
    "paper": (["theme", "trash-empty", "1"], ("paper being crumpled", "crumpling a sheet of paper", "rustling of crumpled paper"),
              ("揉纸的声音", "把纸揉成一团", "纸团的声音")),
    "beep": (["sox", "synth", "1.5", "sine", "1000", "vol", "0.5"], ("a beep", "a short electronic beep", "a high-pitched beep tone"),
             ("哔的一声", "嘀嘀声", "哔哔的提示音")),
    "noise": (["sox", "synth", "3", "whitenoise", "vol", "0.4"], ("white noise hiss", "static noise", "a hissing noise"),
              ("白噪音", "沙沙的噪声", "嘶嘶的杂音")),
    "music": (["sox", "synth", "0.4", "pluck", "C4", "synth", "0.4", "pluck", "E4", ":", "synth", "0.4", "pluck",
               "G4", ":", "synth", "0.4", "pluck", "C5", ":", "synth", "0.8", "pluck", "G4"],
              ("a melody played on a plucked instrument", "music playing", "a short tune"), ("一段音乐", "一段旋律", "一小段曲子")),
    "siren": (["sox", "synth", "3", "square", "440", "vol", "0.3"], ("a siren", "a loud siren", "a siren sounding"), ("警报声", "警笛声", "警报响起")),
    "dial": (["sox", "synth", "3", "sine", "350", "sine", "440", "remix", "1,2", "vol", "0.5"],
             ("the dial tone of a phone line", "the tone you hear when you pick up the phone", "phone line tone before dialing"),
             ("电话拨号音", "拿起电话听到的嘟嘟声", "电话里的嘟嘟声")),
    # added 2026-12-03
    "busy": (["theme", "phone-outgoing-busy", "1"], ("a busy signal on a phone line", "the line is busy tone", "busy tone when calling someone"),
             ("电话占线的忙音", "忙音", "打电话占线")),
    "chime": (["theme", "message-new-instant", "1"], ("a notification chime", "a message alert sound", "a chat message notification"),
              ("消息提示音", "收到消息的提示音", "新消息的叮咚声")),
    "bell": (["sox", "synth", "2.5", "sine", "523", "sine", "1318", "sine", "2093", "remix", "1-3",
              "fade", "l", "0", "2.5", "2.4", "vol", "0.8"], ("a bell ringing", "the ding of a bell", "a bell tolling"),
             ("钟声", "敲钟的声音", "铃铛的声音")),
    "tick": (["sox", "synth", "0.004", "whitenoise", "highpass", "2000", "pad", "0", "0.496", "repeat", "7",
              "norm", "-6"], ("a clock ticking", "tick tock of a clock", "ticking"), ("时钟滴答声", "钟表走动的嘀嗒声", "滴答滴答")),
    "knock": (["sox", "synth", "0.07", "pinknoise", "lowpass", "500", "fade", "l", "0", "0.07", "0.06", "pad", "0",
               "0.18", "repeat", "2", "pad", "0", "0.6", "repeat", "1", "norm", "-6"],
              ("someone knocking on a door", "a knock at the door", "knocks on wood"), ("敲门声", "有人敲门", "咚咚咚的敲门声")),
    "wind": (["sox", "synth", "4", "brownnoise", "tremolo", "0.5", "70", "fade", "h", "0.5", "4", "0.8"],
             ("wind blowing", "the sound of wind", "a gust of wind"), ("刮风的声音", "风声", "呼呼的风声")),
    "whistle": (["sox", "synth", "1.5", "sine", "2900", "tremolo", "28", "70"],
                ("a whistle blowing", "a referee's whistle", "blowing a whistle"), ("吹哨的声音", "哨声", "吹哨子")),
}
V1_KINDS = tuple(EVENTS)[:9]
# The AudioSet classes that name what each kind *is* (written from the recipes, not from what
# the model answered): the model "hears" a kind where a sound unit of one of its recordings
# carries one of them among its labels (the classes that scored >= 0.15, at most five). A
# query about a kind the model names with none of them can only be right by a near-miss.
NAMED_BY: dict[str, tuple[str, ...]] = {
    "phone": ("Telephone", "Telephone bell ringing", "Ringtone"),
    "camera": ("Camera", "Single-lens reflex camera"),
    "alarm": ("Alarm clock", "Alarm"),
    "paper": ("Crumpling, crinkling",),
    "beep": ("Beep, bleep",),
    "noise": ("White noise", "Noise", "Static", "Hiss", "Pink noise"),
    "music": ("Music", "Plucked string instrument", "Guitar", "Musical instrument"),
    "siren": ("Siren", "Civil defense siren", "Ambulance (siren)", "Police car (siren)", "Fire engine, fire truck (siren)"),
    "dial": ("Dial tone",),
    "busy": ("Busy signal",),
    "chime": ("Chime", "Ding", "Ding-dong", "Ping", "Jingle, tinkle"),
    "bell": ("Bell", "Church bell", "Jingle bell", "Bicycle bell", "Tubular bells", "Chime", "Ding",
             "Change ringing (campanology)"),
    "tick": ("Tick", "Tick-tock", "Clock"),
    "knock": ("Knock",),
    "wind": ("Wind", "Wind noise (microphone)"),
    "whistle": ("Whistle", "Whistling", "Steam whistle"),
}
HELD_OUT = 2  # the third phrasing of each kind: written with the others, kept out of the work on ranking


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
        run(["sox", "-R", str(THEME / f"{name}.oga"), "-r", str(RATE), "-c", "1", str(out)] + (["repeat", str(times - 1)]
                                                                                      if times > 1 else []))
    else:
        run(["sox", "-R", "-n", "-r", str(RATE), "-c", "1", str(out)] + recipe[1:])
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
    """The recordings, and the truth: {file name: {"kind", "background", "onset"}}. The
    files are named ``rec-NN.wav`` in a shuffled order: a name that said "phone" would
    answer the keyword side of a query about a phone by itself."""
    rng = np.random.default_rng(seed)
    tmp = folder / ".parts"
    tmp.mkdir(parents=True, exist_ok=True)
    speeches = [make_speech(s, tmp, i) for i, s in enumerate(SENTENCES)]
    made: list[tuple[np.ndarray, dict]] = []
    for n, kind in enumerate(EVENTS):
        event = make_event(kind, tmp)
        for background in ("speech", "silence"):
            at = float(np.round(rng.uniform(2.0, 8.0), 2))
            base = 0.5 * speeches[n % len(speeches)] if background == "speech" else np.zeros(int(SECONDS * RATE))
            mix = base.copy()
            i = int(at * RATE)
            piece = event[: len(mix) - i]
            mix[i : i + len(piece)] += piece
            made.append((mix, {"kind": kind, "background": background, "onset": round(at + first_sound(event), 3)}))
    for j in range(4):
        made.append((0.5 * speeches[(j + 2) % len(speeches)], {"kind": "speech", "background": "speech", "onset": None}))
    order = np.random.default_rng(seed + 1).permutation(len(made))
    truth: dict[str, dict] = {}
    for number, at in enumerate(order):
        mix, facts = made[int(at)]
        name = f"rec-{number + 1:02d}.wav"
        write_wav(folder / name, mix)
        truth[name] = facts
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
            from searchengine.sounds.class_space import name_vectors

            name_vectors(engine.encoder, settings.cache_dir)  # once a text tower, as the class vectors
        t0, c0 = time.perf_counter(), time.process_time()
        report = engine.index([folder], progress=False)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert report.failed == 0, report.failures
        return seconds, cpu, report


def heard(engine, truth: dict[str, dict]) -> dict[str, list[str]]:
    """{kind: its recordings with a sound unit labelled with one of the kind's own classes
    (:data:`NAMED_BY`)}; and each recording's sound units' labels, under "units"."""
    from searchengine.sounds.classes import sound_classes

    table = sound_classes()
    english_of = {table.label(i): table.english[i] for i in range(len(table.english))}
    ids = engine.repo.unit_ids_by_kind().get("sound")
    units: dict[str, list[list[str]]] = {}
    for row in engine.items([int(i) for i in ids] if ids is not None else []).values():
        labels = [english_of.get(label, label) for label in (row.text or "").split("; ") if label]
        units.setdefault(Path(row.path).name, []).append(labels)
    out: dict[str, list[str]] = {kind: [] for kind in EVENTS}
    for name, facts in truth.items():
        if facts["kind"] in NAMED_BY and any(set(NAMED_BY[facts["kind"]]) & set(labels) for labels in units.get(name, [])):
            out[facts["kind"]].append(name)
    return {**out, "units": units}  # type: ignore[dict-item]


def quality(settings, name: str, truth: dict[str, dict]) -> dict:
    from searchengine import SearchEngine

    rows = []
    with SearchEngine.open(name, settings=settings, create=False) as engine:
        named = heard(engine, truth)
        for kind, (_, english, chinese) in EVENTS.items():
            for language, queries in (("en", english), ("zh", chinese)):
                for phrasing, query in enumerate(queries):
                    hits = engine.search(query, k=5)
                    top = hits[0] if hits else None
                    got = truth.get(Path(top.path).name, {}) if top else {}
                    right = got.get("kind") == kind
                    ranks = [j + 1 for j, h in enumerate(hits) if truth.get(Path(h.path).name, {}).get("kind") == kind]
                    moment = (top.moment if top.moment is not None else top.start) if top else None
                    error = abs(moment - got["onset"]) if right and moment is not None and top.kind == "sound" else None
                    rows.append({"kind": kind, "language": language, "query": query, "right": right,
                                 "right_rank": ranks[0] if ranks else None,
                                 "v1": kind in V1_KINDS and phrasing == 0, "held_out": phrasing == HELD_OUT,
                                 "heard": bool(named[kind]),
                                 "top": Path(top.path).name if top else None, "top_is": got.get("kind"),
                                 "top_kind": top.kind if top else None,
                                 "top_text": top.text if top else None, "moment": moment, "moment_error": error})
    out: dict = {"queries": rows}
    for language in ("en", "zh"):
        mine = [r for r in rows if r["language"] == language]
        out[f"r_at_1_{language}"] = round(sum(r["right"] for r in mine) / len(mine), 3)
        out[f"queries_{language}"] = len(mine)
        for part, rows_of in (("v1", [r for r in mine if r["v1"]]), ("dev", [r for r in mine if not r["held_out"]]),
                              ("held_out", [r for r in mine if r["held_out"]])):
            out[f"r_at_1_{language}_{part}"] = round(sum(r["right"] for r in rows_of) / len(rows_of), 3)
        for part, rows_of in (("heard", [r for r in mine if r["heard"]]), ("unheard", [r for r in mine if not r["heard"]])):
            out[f"r_at_1_{language}_{part}"] = round(sum(r["right"] for r in rows_of) / len(rows_of), 3) if rows_of else None
            out[f"queries_{language}_{part}"] = len(rows_of)
    out["heard"] = {kind: named[kind] for kind in EVENTS}
    out["sound_units"] = named["units"]
    errors = [r["moment_error"] for r in rows if r["moment_error"] is not None]
    out["moment_errors"] = len(errors)
    out["moment_error_median"] = round(statistics.median(errors), 2) if errors else None
    out["moment_error_max"] = round(max(errors), 2) if errors else None
    out["moment_within_1s"] = round(sum(e <= 1.0 for e in errors) / len(errors), 3) if errors else None
    return out


def cost(rounds: list[dict], audio_seconds: float) -> dict:
    """The cost figures: medians over the rounds."""
    sound_cpu = statistics.median(r["sound_cpu_s"] for r in rounds)
    return {
        "audio_seconds_per_cpu_second": round(audio_seconds / sound_cpu, 1) if sound_cpu else None,
        "index_off_s": statistics.median(r["off_s"] for r in rounds),
        "index_on_s": statistics.median(r["on_s"] for r in rounds),
        "added_cost_ratio": statistics.median(r["ratio"] for r in rounds),
        "index_off_cpu_s": statistics.median(r["off_cpu_s"] for r in rounds),
        "index_on_cpu_s": statistics.median(r["on_cpu_s"] for r in rounds),
        "added_cpu_ratio": statistics.median(r["cpu_ratio"] for r in rounds),
        "sound_step_share": round(sound_cpu / statistics.median(r["off_cpu_s"] for r in rounds), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="offline:e5-effnet")
    parser.add_argument("--asr-model", default="tiny.en")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the off/on indexing pair")
    parser.add_argument("--quality-only", action="store_true",
                        help="index the set once, with sound events, and report quality alone (no cost rounds)")
    parser.add_argument("--show-held-out", action="store_true", help="list the held-out queries too")
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
        if args.quality_only:
            index_once(base.with_(sounds="on"), folder, "quality")
        for r in range(0 if args.quality_only else args.repeats):  # the order alternates: a machine's drift favours neither
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
        found = quality(base.with_(sounds="on"), "quality" if args.quality_only else f"on-{args.repeats - 1}", truth)
        result = {
            "model": args.model, "asr_model": args.asr_model, "recordings": len(truth), "audio_seconds": audio_seconds,
            **{k: v for k, v in found.items() if k != "queries"},
            **(cost(rounds, audio_seconds) if rounds else {}),
            "rounds": rounds, "queries": found["queries"], "truth": truth,
        }
        for row in found["queries"]:
            if row["held_out"] and not args.show_held_out:
                continue
            mark = "ok " if row["right"] else "MISS"
            err = f"  moment {row['moment']:.2f} (off by {row['moment_error']:.2f} s)" if row["moment_error"] is not None else ""
            print(f"  {mark} [{row['language']}] {row['query']!r} -> {row['top']} = {row['top_is']} ({row['top_kind']}: "
                  f"{(row['top_text'] or '')[:50]!r}){err}" + ("" if row["right"] else f"  right at {row['right_rank']}"))
        print(f"R@1 English {result['r_at_1_en']:.3f} ({result['queries_en']} queries), Chinese "
              f"{result['r_at_1_zh']:.3f} ({result['queries_zh']}) (target >= 0.8)")
        for part, what in (("v1", "the first set's nine queries"), ("dev", "the two phrasings worked on"),
                           ("held_out", "the held-out phrasing")):
            print(f"  {what}: English {result[f'r_at_1_en_{part}']:.3f}, Chinese {result[f'r_at_1_zh_{part}']:.3f}")
        unheard = [kind for kind, names in result["heard"].items() if not names]
        print(f"kinds the model names with one of their own classes: {len(EVENTS) - len(unheard)} of {len(EVENTS)}"
              f" (not: {', '.join(unheard) or 'none'}); R@1 on their queries: English {result['r_at_1_en_heard']}, "
              f"Chinese {result['r_at_1_zh_heard']}; on the others' ({result['queries_en_unheard']} a language): "
              f"English {result['r_at_1_en_unheard']}, Chinese {result['r_at_1_zh_unheard']}")
        print(f"moment error ({result['moment_errors']} right first hits): median {result['moment_error_median']} s, max {result['moment_error_max']} s, "
              f"within 1 s: {result['moment_within_1s']} (target: within 1 s)")
        if rounds:
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
