"""Choose the class-space temperature and weight (searchengine/sounds/class_space.py) on the
sound benchmark's worked-on queries alone.

    python benchmarks/tune_sounds.py [--model offline:e5-effnet] [--asr-model tiny.en]
                                     [--set DIR] [--json OUT]

Makes benchmarks/bench_sounds.py's set (or reads it from --set), indexes it once with sound
events, then runs the 32 worked-on queries a language (the first two phrasings of each kind)
under every (temperature, weight) of the grid, and the variant that scores in class space
over the event classes alone. It prints R@1 on the worked-on queries, English and Chinese,
for each; the held-out third is run only for the setting in the code (WEIGHT, TEMPERATURE),
printed apart, after the choice: it is never an input to it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TEMPERATURES = (0.005, 0.01, 0.02, 0.03, 0.05)
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)


def r_at_1(engine, truth: dict, held_out: bool) -> dict[str, float]:
    from bench_sounds import EVENTS, HELD_OUT

    out: dict[str, float] = {}
    for language, column in (("en", 1), ("zh", 2)):
        right = total = 0
        for kind, recipe in EVENTS.items():
            for phrasing, query in enumerate(recipe[column]):  # type: ignore[arg-type]
                if (phrasing == HELD_OUT) != held_out:
                    continue
                hits = engine.search(query, k=1)
                total += 1
                right += bool(hits) and truth.get(Path(hits[0].path).name, {}).get("kind") == kind
        out[language] = round(right / total, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="offline:e5-effnet")
    parser.add_argument("--asr-model", default="tiny.en")
    parser.add_argument("--set", type=Path, help="the set's folder (made there when empty)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    from bench_sounds import build_set, index_once, need_tools

    from searchengine import SearchEngine, Settings
    from searchengine.sounds import class_space
    from searchengine.sounds.classes import sound_classes

    need_tools()
    work = Path(tempfile.mkdtemp(prefix="tune-sounds-"))
    folder = args.set or work / "set"
    folder.mkdir(parents=True, exist_ok=True)
    chosen = (class_space.TEMPERATURE, class_space.WEIGHT)
    plain = class_space.query_classes
    events = sound_classes().events

    def events_only(query, vectors, owners, temperature=None):  # type: ignore[no-untyped-def]
        weights = plain(query, vectors, owners, temperature) * events
        return weights / weights.sum()

    try:
        truth = build_set(folder)
        settings = Settings.from_env(index_root=work / "indexes", model=args.model, asr_model=args.asr_model,
                                     sounds="on")
        index_once(settings, folder, "tune")
        rows = []
        with SearchEngine.open("tune", settings=settings, create=False) as engine:
            for classes in ("all", "events"):
                class_space.query_classes = plain if classes == "all" else events_only  # type: ignore[assignment]
                for t in TEMPERATURES:
                    for w in WEIGHTS:
                        if w == 0.0 and t != TEMPERATURES[0]:
                            continue  # the weight 0 is the cosine alone, whatever the temperature
                        class_space.TEMPERATURE, class_space.WEIGHT = t, w
                        got = r_at_1(engine, truth, held_out=False)
                        rows.append({"classes": classes, "temperature": t, "weight": w, **got})
                        print(f"classes {classes:6} T {t:<6} w {w:<5} worked-on R@1 English {got['en']:.3f}, "
                              f"Chinese {got['zh']:.3f}")
            class_space.query_classes = plain  # type: ignore[assignment]
            class_space.TEMPERATURE, class_space.WEIGHT = chosen
            held = r_at_1(engine, truth, held_out=True)
            print(f"in the code: T {chosen[0]}, w {chosen[1]}; held-out R@1 English {held['en']:.3f}, "
                  f"Chinese {held['zh']:.3f} (reported, never chosen on)")
        if args.json:
            args.json.write_text(json.dumps({"grid": rows, "chosen": chosen, "held_out": held}, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
