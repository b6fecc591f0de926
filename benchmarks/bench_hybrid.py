"""Hybrid (keyword + vector) search against vector-only and keyword-only search: rank-1 rates
on codes and names, and transcript retrieval on speech. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_hybrid.py [--model offline:e5-effnet] [--asr tiny.en]
                                                [--only codes,ljspeech,tts]

(a) codes: 60 generated notes - order numbers, product codes, names, Chinese order numbers
    and topic sentences amid shared filler - indexed into a temp index; each query set is
    scored by the share of queries whose first hit is the right note (rank-1 rate).
(b) ljspeech: ../shared/data/ljspeech-dev (32 LJSpeech clips) indexed with Whisper --asr;
    each reference transcript's first 8 words is a query; R@1 = the first hit is that clip.
(c) tts: 18 espeak-ng recordings on ONE topic (the harbour bridge repairs): 10 each with its
    own detail (a name, a place, a fact), queried by the detail alone and by topic + detail;
    8 each with a 4-digit number (invoice, flight, ticket...), queried by the number alone.
    Needs espeak-ng (apt-get install -y espeak-ng); skipped with a line if it is missing.

Each part builds its own throw-away index under a temp folder; the model cache is the usual one
(SEARCHENGINE_CACHE_DIR or the default), so repeated runs do not export the models again.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchengine import SearchEngine, Settings  # noqa: E402

LJSPEECH = ROOT.parent / "shared" / "data" / "ljspeech-dev"
MODES = ("vector", "keyword", "hybrid")

# -- (a) codes and names -------------------------------------------------------------------

FILLER = [
    "The meeting ran a little longer than planned.",
    "Please keep this note with the other paperwork.",
    "We will check again at the end of the month.",
    "Thanks for the quick reply yesterday.",
    "The office will be closed on the public holiday.",
    "Let me know if anything is unclear.",
    "The weather has been mild for the season.",
    "Everything else is going as expected.",
    "A copy has been sent to the accounts team.",
    "Remember to update the shared calendar.",
    "Lunch will be provided for the workshop.",
    "The printer on the second floor is fixed now.",
]
FILLER_ZH = ["会议比计划的时间稍长。", "请把这张便条和其他文件放在一起。", "我们会在月底再检查一次。",
             "感谢你昨天的及时回复。", "其他一切都按预期进行。"]
FIRST = ["Maria", "James", "Aisha", "Lukas", "Priya", "Tomás", "Yuki", "Olga", "Samuel", "Fatima",
         "Wei", "Noah", "Elena", "Kofi", "Ingrid"]
LAST = ["Gonzalez", "Okafor", "Lindqvist", "Nakamura", "Petrov", "Haddad", "Brennan", "Moreau",
        "Kowalski", "Zhang", "Ferreira", "Adeyemi", "Novak", "Sato", "Whitfield"]
TOPICS = [  # (sentence in a note, a paraphrase to search for)
    ("The shipment of red umbrellas was held up by heavy snow.", "umbrella delivery delayed by winter weather"),
    ("Our team won the regional football tournament on Sunday.", "soccer championship victory at the weekend"),
    ("The kitchen sink is leaking and needs a plumber.", "water dripping under the sink, call a repairman"),
    ("She adopted a small grey kitten from the shelter.", "took home a young cat from the animal rescue"),
    ("The laptop battery dies after only twenty minutes.", "notebook computer runs out of power quickly"),
    ("We planted tomatoes and basil in the back garden.", "growing vegetables and herbs in the yard"),
    ("The flight to Lisbon was cancelled because of a strike.", "airline trip to Portugal called off, workers protest"),
    ("Grandmother's birthday cake had ninety candles.", "celebrating an old woman's birthday with a cake"),
    ("The bridge on the river road is closed for repairs.", "crossing over the river shut for maintenance"),
    ("He is learning to play the violin at night school.", "evening classes on a string instrument"),
    ("The museum opened a new exhibition of ancient coins.", "display of old money at the gallery"),
    ("Our electricity bill doubled over the winter.", "power costs went up a lot in the cold months"),
]


def _codes_corpus(seed: int = 7) -> tuple[dict[str, str], dict[str, list[tuple[str, str]]]]:
    """60 notes {file name: text} and query sets {set: [(query, file name)]}."""
    rnd = random.Random(seed)
    notes: dict[str, str] = {}
    sets: dict[str, list[tuple[str, str]]] = {"order numbers": [], "product codes": [], "person names": [],
                                              "Chinese order numbers": [], "topics (paraphrased)": []}

    def filler(n: int, zh: bool = False) -> str:
        return " ".join(rnd.sample(FILLER_ZH if zh else FILLER, n))

    used: set[str] = set()

    def unique(make):
        while True:
            value = make()
            if value not in used:
                used.add(value)
                return value

    names = rnd.sample([(f, l) for f in FIRST for l in LAST], 15)
    topics = iter(TOPICS)
    for i in range(15):  # order numbers, all alike: A7-5xxxx
        code = unique(lambda: f"A7-5{rnd.randint(0, 9999):04d}")
        name = f"note{len(notes):02d}.txt"
        topic = next(topics, None) if i % 2 == 0 else None
        notes[name] = " ".join(x for x in [filler(2), f"Order #{code} has been paid.",
                                           topic[0] if topic else "", filler(1)] if x)
        sets["order numbers"].append((code, name))
        if topic:
            sets["topics (paraphrased)"].append((topic[1], name))
    for i in range(15):  # product codes, all alike: QX-9xxx-B
        code = unique(lambda: f"QX-9{rnd.randint(0, 999):03d}-{rnd.choice('ABCD')}")
        name = f"note{len(notes):02d}.txt"
        topic = next(topics, None) if i % 2 == 0 else None
        notes[name] = " ".join(x for x in [filler(1), f"The replacement part is SKU {code}.",
                                           topic[0] if topic else "", filler(2)] if x)
        sets["product codes"].append((code, name))
        if topic:
            sets["topics (paraphrased)"].append((topic[1], name))
    for first, last in names:  # people: first and last names shared between notes
        name = f"note{len(notes):02d}.txt"
        notes[name] = f"{filler(1)} Please call {first} {last} about the contract. {filler(2)}"
        sets["person names"].append((f"{first} {last}", name))
    for _ in range(10):  # Chinese notes with order numbers 2024-xxxx
        code = unique(lambda: f"2024-{rnd.randint(0, 9999):04d}")
        name = f"note{len(notes):02d}.txt"
        notes[name] = f"{filler(1, zh=True)}订单号 {code} 已经发货。{filler(1, zh=True)}"
        sets["Chinese order numbers"].append((code, name))
    for _ in range(5):  # filler only
        notes[f"note{len(notes):02d}.txt"] = filler(3)
    return notes, sets


def bench_codes(settings: Settings, work: Path) -> None:
    notes, sets = _codes_corpus()
    media = work / "codes"
    media.mkdir()
    for name, text in notes.items():
        (media / name).write_text(text, encoding="utf-8")
    with SearchEngine.open(work / "codes-index", settings=settings) as engine:
        t0 = time.perf_counter()
        engine.index([media])
        print(f"(a) codes and names: {len(notes)} notes indexed with {engine.model} in {time.perf_counter() - t0:.1f} s")
        misses: list[tuple[str, str, str]] = []
        print(f"    {'query set':<24}{'n':>4}" + "".join(f"{m:>10}" for m in MODES))
        for set_name, queries in sets.items():
            rates = []
            for mode in MODES:
                ok = sum(1 for q, want in queries
                         if (hits := engine.search(q, k=1, mode=mode)) and Path(hits[0].path).name == want)
                rates.append(ok / len(queries))
            print(f"    {set_name:<24}{len(queries):>4}" + "".join(f"{r:>10.2f}" for r in rates))
            misses.extend((set_name, q, want) for q, want in queries
                          if Path(engine.search(q, k=1, mode="hybrid")[0].path).name != want)
        for set_name, q, want in misses:  # where fusion lost the right note: why
            hits = engine.search(q, k=3, mode="hybrid")
            ranks = {m: next((i for i, h in enumerate(engine.search(q, k=60, mode=m), 1)
                              if Path(h.path).name == want), None) for m in ("vector", "keyword")}
            top = hits[0]
            print(f"    hybrid miss [{set_name}] {q!r}: got {Path(top.path).name} (found by "
                  f"{'+'.join(top.found_by or ())}), wanted {want} (vector rank {ranks['vector']}, "
                  f"keyword rank {ranks['keyword']})")
        q, want = sets["order numbers"][0]
        print(f"    (example: the note {want} holds {notes[want]!r}; query {q!r})")


# -- (b), (c) transcripts ------------------------------------------------------------------

TTS_TOPIC = "harbour bridge"
TTS = [  # (what is said, its distinguishing detail)
    ("Engineer Priya Nair said the harbour bridge repairs will start in March.", "Priya Nair"),
    ("The harbour bridge repairs will close the northern lane for six weeks.", "northern lane closed"),
    ("Divers found rust on pillar seventeen during the harbour bridge inspection.", "rust on pillar seventeen"),
    ("The harbour bridge repairs are paid for by a grant from the Wellington Trust.", "Wellington Trust grant"),
    ("Ferry captain Tom Baxter expects more passengers while the harbour bridge is repaired.", "Tom Baxter"),
    ("Night crews will repaint the harbour bridge in a dark green colour.", "repaint dark green"),
    ("Cyclists will use a temporary pontoon while the harbour bridge is repaired.", "temporary pontoon for cyclists"),
    ("The harbour bridge repairs were delayed by a storm in October.", "storm in October"),
    ("Steel for the harbour bridge repairs arrives from a mill in Sheffield.", "steel from Sheffield"),
    ("The mayor, Helen Kowalski, opened the harbour bridge repair office on Friday.", "Helen Kowalski"),
]


def _recall_at_1(engine: SearchEngine, queries: list[tuple[str, Path]]) -> dict[str, float]:
    out = {}
    for mode in ("vector", "hybrid", "keyword"):
        ok = 0
        for q, want in queries:
            hits = engine.search(q, k=1, mode=mode, modality="audio")
            ok += bool(hits) and Path(hits[0].path).resolve() == want.resolve()
        out[mode] = ok / len(queries)
    return out


def bench_ljspeech(settings: Settings, work: Path) -> None:
    if not (LJSPEECH / "manifest.jsonl").exists():
        print(f"(b) ljspeech: {LJSPEECH} is missing; skipped")
        return
    rows = [json.loads(line) for line in (LJSPEECH / "manifest.jsonl").read_text().splitlines() if line.strip()]
    with SearchEngine.open(work / "lj-index", settings=settings) as engine:
        t0 = time.perf_counter()
        report = engine.index([LJSPEECH / "audio"])
        print(f"(b) ljspeech-dev: {len(rows)} clips indexed (Whisper {settings.asr_model}, {engine.model}) "
              f"in {time.perf_counter() - t0:.1f} s, {report.failed} failed")
        queries = [(" ".join(r["texts"][0].split()[:8]), LJSPEECH / r["path"]) for r in rows]
        r1 = _recall_at_1(engine, queries)
        print(f"    first 8 words of each reference transcript, {len(queries)} queries: "
              + "   ".join(f"{m} R@1 {v:.2f}" for m, v in r1.items()))
        # the clips that share words: queries whose words occur in other clips too
        words = [set(w.strip(".,;:'\"").lower() for w in q.split() if len(w) > 3) for q, _ in queries]
        shared = [qq for qq, ws in zip(queries, words)
                  if sum(1 for other in words if other is not ws and len(ws & other) >= 2) >= 1]
        if shared:
            r1 = _recall_at_1(engine, shared)
            print(f"    the {len(shared)} of them sharing 2+ longer words with another clip's query: "
                  + "   ".join(f"{m} R@1 {v:.2f}" for m, v in r1.items()))


TTS_NUMBERS = [  # (what is said, the number in it): numbers read out, written by Whisper as digits (or not)
    ("Invoice 4471 covers the steel for the harbour bridge.", "4471"),
    ("Flight BA 2490 brings the harbour bridge inspectors.", "2490"),
    ("Work order 5316 replaces the harbour bridge cables.", "5316"),
    ("Tender 6082 for the harbour bridge lighting closes soon.", "6082"),
    ("Lorry 9127 delivers concrete to the harbour bridge.", "9127"),
    ("Survey 7735 measured the harbour bridge deck.", "7735"),
    ("Contract 8846 covers the harbour bridge paint.", "8846"),
    ("Ticket 3058 reports a loose rail on the harbour bridge.", "3058"),
]


def bench_tts(settings: Settings, work: Path) -> None:
    espeak = shutil.which("espeak-ng")
    if not espeak:
        print("(c) tts: espeak-ng is not installed (apt-get install -y espeak-ng); skipped")
        return
    media = work / "tts"
    media.mkdir()
    sets: dict[str, list[tuple[str, Path]]] = {"detail alone": [], "topic + detail": [], "number alone": []}
    for i, (said, detail) in enumerate(TTS + TTS_NUMBERS):
        wav = media / f"bridge{i:02d}.wav"
        subprocess.run([espeak, "-v", "en-gb", "-s", "150", "-w", str(wav), said], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i < len(TTS):
            sets["detail alone"].append((detail, wav))
            sets["topic + detail"].append((f"{TTS_TOPIC} {detail}", wav))
        else:
            sets["number alone"].append((detail, wav))
    clips = len(TTS) + len(TTS_NUMBERS)
    with SearchEngine.open(work / "tts-index", settings=settings) as engine:
        t0 = time.perf_counter()
        engine.index([media])
        print(f"(c) one topic, {clips} espeak-ng clips ({TTS_TOPIC!r}: {len(TTS)} with a detail - a name, a "
              f"place, a fact - and {len(TTS_NUMBERS)} with a 4-digit number) indexed in {time.perf_counter() - t0:.1f} s")
        for label, queries in sets.items():
            r1 = _recall_at_1(engine, queries)
            print(f"    {label:<15} {len(queries):>2} queries: " + "   ".join(f"{m} R@1 {v:.2f}" for m, v in r1.items()))
        heard = {Path(h.path).name: (engine.transcript(h.id) or {}).get("text")
                 for h in engine.search(TTS_TOPIC, k=100, mode="vector", modality="audio")}
        for label, queries in sets.items():
            for q, want in queries:
                for mode in ("hybrid", "vector"):
                    hits = engine.search(q, k=1, mode=mode, modality="audio")
                    if not hits or Path(hits[0].path) != want:
                        got = Path(hits[0].path).name if hits else None
                        print(f"    {mode} miss [{label}] {q!r} -> {got} (heard {heard.get(got or '')!r}); wanted "
                              f"{want.name} (heard {heard.get(want.name)!r})")

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="offline:e5-effnet")
    ap.add_argument("--asr", default="tiny.en")
    ap.add_argument("--only", default="codes,ljspeech,tts")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="bench-hybrid-"))
    base = Settings.from_env()
    settings = Settings(index_root=work, model=args.model, asr_model=args.asr, cache_dir=base.cache_dir)
    print(f"bench_hybrid: model {args.model}, ASR {args.asr}; RRF fusion of vector and keyword (FTS5 trigram) sides")
    try:
        if "codes" in parts:
            bench_codes(settings, work)
        if "ljspeech" in parts:
            bench_ljspeech(settings, work)
        if "tts" in parts:
            bench_tts(settings, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
