"""A mixed library of distractors: unrelated notes (English and Chinese), the 32 LJSpeech
recordings and photos with signs rendered on them, all with neutral file names, plus the
queries that find each of them. Written into a folder given on the command line (nothing of
it is committed: the photos are ImageNet's).

    .venv/bin/python benchmarks/make_mixed_library.py OUT_DIR [--data ../shared/data] [--signs 20]

OUT_DIR gets ``note-NN.txt`` (8), ``rec-NN.wav`` (32, copied from ljspeech-dev),
``photo-NN.jpg`` (sign phrases on imagenet-dev photos, as benchmarks/bench_ocr.py renders
them) and ``queries.jsonl`` (not indexed: one ``{"query", "path", "kind"}`` a line, ``kind``
one of ``note``, ``transcript``, ``sign``; ``path`` relative to OUT_DIR). Used as
``searchengine eval MANIFEST --distractors OUT_DIR`` and by benchmarks/bench_ranking.py.

The sign photos are imagenet-dev photos whose position in its manifest is not a multiple of
5 (bench_ranking queries those), so a sign photo never copies a photo being searched for.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchengine.evaluation.rendered_text import find_fonts, fits, render  # noqa: E402
from searchengine.media.images import load_image  # noqa: E402

# (text, query): short notes on unrelated topics; queries say what the note is about in
# other words (a person looking for it), in the note's language
NOTES = [
    ("Green tea is best brewed at about eighty degrees for two minutes. Black tea wants boiling "
     "water and four minutes. We keep the loose leaves in the tin on the top shelf.",
     "how long to steep black tea"),
    ("The cat needs her worm tablet on the first of every month and a vet check-up in March. "
     "She only eats the salmon pouches, never the dry food.",
     "when does the cat need her worm tablet"),
    ("Meeting notes: the budget review moved to Thursday. Anna will send the revised quarterly "
     "figures; the office move is postponed until the lease is signed.",
     "budget review moved to Thursday"),
    ("Dog walking rota: Tom takes the dog out in the morning, Lisa after school, and whoever "
     "cooks dinner does the late walk around the block.",
     "who walks the dog in the morning"),
    ("绿茶用八十度左右的水泡两分钟最好。红茶要用开水泡四分钟。茶叶放在最上面一层的铁罐里。",
     "红茶泡几分钟"),
    ("周末去爬山的清单：登山鞋、雨衣、两瓶水、地图和充电宝。早上七点在地铁站门口集合。",
     "周末爬山要带什么"),
    ("妈妈的红烧肉做法：五花肉切块，先焯水，再加冰糖炒出糖色，放酱油和八角，小火炖一个小时。",
     "红烧肉怎么做"),
    ("自行车的链条每个月上一次油，刹车片磨薄了就要换。轮胎气压保持在六十左右。",
     "自行车链条多久上油"),
]

SIGNS_EN = ["Bus Stop", "Exit", "Pharmacy Open Late", "No Smoking", "Ticket Office", "Fresh Bread Daily",
            "Parking Level 2", "Public Library", "Welcome to Greenfield", "Car Wash"]
SIGNS_ZH = ["禁止吸烟", "中国银行", "出口", "公共厕所", "小心台阶", "北京大学", "火车站售票处", "新华书店",
            "中华人民共和国", "停车场"]
SIZES = (32, 40, 48, 56)
STYLES = ("light plate", "dark plate", "bare")


def default_data() -> Path:
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "data").is_dir():
            return base / "shared" / "data"
    return ROOT.parent / "shared" / "data"


def make(out: Path, data: Path, signs: int = 20, seed: int = 20) -> list[dict]:
    """Write the library into ``out`` (created); returns the queries (also in queries.jsonl)."""
    imagenet, ljspeech = data / "imagenet-dev", data / "ljspeech-dev"
    for folder in (imagenet, ljspeech):
        if not (folder / "manifest.jsonl").is_file():
            raise SystemExit(f"{folder}/manifest.jsonl not found: give --data, the folder holding imagenet-dev "
                             "and ljspeech-dev")
    latin, chinese = find_fonts(chinese=False), find_fonts(chinese=True)
    if not latin or not chinese:
        raise SystemExit("fonts missing: apt-get install -y fonts-dejavu-core fonts-noto-cjk")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    queries: list[dict] = []

    for n, (text, query) in enumerate(NOTES, 1):
        name = f"note-{n:02d}.txt"
        (out / name).write_text(text + "\n", encoding="utf-8")
        queries.append({"query": query, "path": name, "kind": "note"})

    for n, line in enumerate(_lines(ljspeech / "manifest.jsonl"), 1):
        name = f"rec-{n:02d}.wav"
        shutil.copyfile(ljspeech / line["path"], out / name)
        # without LJSpeech's quotation marks: in a query they ask for that exact phrase, which
        # the recogniser may write otherwise ("forty-two line Bible" -> "42-line Bible")
        queries.append({"query": " ".join(line["texts"][0].replace('"', " ").split()), "path": name,
                        "kind": "transcript"})

    photos = [imagenet / line["path"] for i, line in enumerate(_lines(imagenet / "manifest.jsonl")) if i % 5]
    rng.shuffle(photos)
    phrases = [(p, latin) for p in SIGNS_EN] + [(p, chinese) for p in SIGNS_ZH]
    phrases = [phrases[i // 2 + (i % 2) * len(SIGNS_EN)] for i in range(len(phrases))]  # en, zh, en, ...
    for n, ((phrase, fonts), photo_path) in enumerate(zip(phrases[:signs], photos), 1):
        photo = load_image(photo_path)
        font = fonts[n % len(fonts)]
        size, style = SIZES[n % len(SIZES)], STYLES[n % len(STYLES)]
        angle = rng.choice((0, 0, 0, 5, -5))
        while size > 20 and not fits(photo, phrase, font, size, angle):
            size -= 4
        colour, plate = ((245, 245, 240), (30, 40, 60)) if style == "dark plate" else ((20, 20, 20), (245, 240, 225))
        if style == "bare":
            colour = rng.choice([(250, 250, 250), (255, 220, 40)])
        picture, _ = render(photo, phrase, font, size, angle=angle, at=(rng.uniform(0.05, 0.4), rng.uniform(0.1, 0.7)),
                            plate=style != "bare", colour=colour, plate_colour=plate)
        name = f"photo-{n:02d}.jpg"
        picture.save(out / name, quality=90)
        queries.append({"query": phrase, "path": name, "kind": "sign"})

    with open(out / "queries.jsonl", "w", encoding="utf-8") as handle:
        for q in queries:
            handle.write(json.dumps(q, ensure_ascii=False) + "\n")
    return queries


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="folder to write the library into (not committed)")
    ap.add_argument("--data", type=Path, default=default_data(), help="folder holding imagenet-dev and ljspeech-dev")
    ap.add_argument("--signs", type=int, default=20, help="photos with a sign (at most 20)")
    args = ap.parse_args()
    queries = make(args.out, args.data, args.signs)
    kinds = {k: sum(q["kind"] == k for q in queries) for k in ("note", "transcript", "sign")}
    print(f"wrote {args.out}: {kinds['note']} notes, {kinds['transcript']} recordings, {kinds['sign']} sign photos, "
          f"{len(queries)} queries in queries.jsonl")


if __name__ == "__main__":
    main()
