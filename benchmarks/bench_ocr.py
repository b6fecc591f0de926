"""Text in images: how well it is read, whether a phrase finds its picture, what it costs.
Prints figures and writes them as JSON; asserts nothing.

    .venv/bin/python benchmarks/bench_ocr.py [--per-language 40] [--model auto] [--json out.json]

The set is made at run time (nothing is committed): Chinese and English phrases rendered over
real photos from ../shared/data (coco-dev, imagenet-dev), each in one of several fonts
(Noto Sans / Serif CJK, WenQuanYi Zen Hei, DejaVu Sans / Serif / Bold), sizes, angles and
backgrounds (a light or dark plate, or bare text with an outline straight on the photo),
plus screenshots of the project's own web page (a search typed into it) taken with Debian's
headless Chromium at three window sizes. Needs fonts-noto-cjk (or fonts-wqy-zenhei) and, for
the screenshots, chromium + chromium-driver; without Chromium the screenshots are skipped.

Figures:
- character accuracy = 1 - CER (edit distance in characters, white space left out), of each
  phrase against the text read in its picture: for a rendered photo, the ocr unit (block)
  closest to the phrase; for a screenshot, the closest stretch of a block (the page puts the
  phrase on a line with other words: the status line, the search box and its button).
- phrase query -> image R@1: the whole set is indexed with the engine (default settings, OCR
  on); each phrase is a query (hybrid mode, the default); a hit is the picture it was
  written on.
- OCR cost (ms/image, the reader alone on the pictures as the pipeline decodes them, models
  loaded before timing): photos with text (the rendered set) against text-free photos
  (imagenet-dev photos in which the detector found nothing), and the whole indexing run of
  text-free photos with --ocr on against --ocr off (seconds per photo; the OCR models are
  loaded before the timed run, as the text model is).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from searchengine import SearchEngine, Settings  # noqa: E402
from searchengine.evaluation.cer import char_accuracy, char_edits, characters  # noqa: E402
from searchengine.evaluation.rendered_text import Font, find_fonts, fits, render  # noqa: E402
from searchengine.media.images import load_image  # noqa: E402
from searchengine.ocr.layout import group_blocks  # noqa: E402
from searchengine.ocr.reader import TextReader  # noqa: E402
from searchengine.ocr.stage import shared_reader  # noqa: E402

DATA = ROOT.parent / "shared" / "data"

ENGLISH = [
    "Harbour Street Bakery", "Platform 9 Northbound", "Fresh Coffee Daily", "Emergency Exit Only",
    "Lakeside Yoga Studio", "Open 24 Hours", "Maple Avenue Pharmacy", "No Parking Tuesday",
    "Welcome to Riverside Park", "Golden Dragon Noodles", "Quiet Zone Library", "Bicycle Repair Workshop",
    "Summer Jazz Festival", "Mountain View Hostel", "Fish Market Entrance", "Vintage Records Store",
    "Keep Off the Grass", "Central Station 200m", "Sunset Ice Cream", "Olive Garden Florist",
    "Airport Shuttle Stop", "Second Hand Books", "Pine Valley Campsite", "Museum of Modern Glass",
    "Lost Luggage Office", "Dental Clinic Floor 3", "Northern Lights Cinema", "Tram Line 14",
    "Organic Farm Shop", "Copper Kettle Tea Room", "Wet Floor Caution", "Harvest Moon Brewery",
    "City Hall Visitors", "Blue Lagoon Swimming", "Student Housing Office", "Antique Clock Repairs",
    "Seaview Fish and Chips", "Orchard Road Market", "Ticket Counter Closed", "Willow Creek Trail",
    "Pottery Class Tonight", "Rooftop Garden Bar", "Bus Depot Gate 5", "Crystal Lake Marina",
    "Flower Show Saturday", "Violin Lessons Here", "Canal Boat Tours", "Winter Coat Sale",
]
CHINESE = [
    "欢迎光临北京饭店", "禁止吸烟", "地铁二号线", "新鲜咖啡每日供应", "紧急出口", "人民公园南门",
    "小心地滑", "营业时间早八点", "长城旅行社", "请勿停车", "上海火车站", "图书馆安静区",
    "自行车修理", "夏季音乐节", "山景青年旅舍", "海鲜市场入口", "旧书店", "中央车站", "冰淇淋专卖",
    "鲜花礼品店", "机场大巴站", "动物园售票处", "博物馆开放日", "失物招领处", "牙科诊所三楼",
    "电影院今晚", "有机农场", "茶馆欢迎您", "啤酒花园", "市政府大楼", "游泳馆入口", "学生宿舍",
    "钟表维修", "西湖游船码头", "水果批发市场", "售票窗口关闭", "森林步道", "陶艺课程", "屋顶花园",
    "公交总站", "湖畔码头", "花展周六", "小提琴培训", "运河观光", "冬季大减价", "面条馆", "药店",
    "停车场出口",
]
SCREENSHOT_PHRASES = ["lighthouse keeper diaries", "红色灯笼街", "marble staircase museum", "雪山缆车票",
                      "desert caravan route", "竹林小径茶室"]
SIZES = (18, 24, 32, 40, 52)
ANGLES = (0, 0, 4, -6, 10, -12, 15)
STYLES = ("light plate", "dark plate", "bare")


@dataclass
class Item:
    path: Path
    phrase: str
    kind: str  # rendered-en | rendered-zh | screenshot
    detail: str


def photos() -> list[Path]:
    found = sorted((DATA / "coco-dev" / "images").glob("*.jpg")) + sorted((DATA / "imagenet-dev" / "images").glob("*"))
    if not found:
        sys.exit(f"no photos under {DATA} (coco-dev, imagenet-dev)")
    return found


def make_rendered(out: Path, per_language: int, rng: random.Random, pool: list[Path]) -> list[Item]:
    latin, chinese = find_fonts(), find_fonts(chinese=True)
    if not chinese:
        sys.exit("no font with Chinese glyphs: apt-get install -y fonts-noto-cjk fonts-wqy-zenhei")
    items = []
    jobs = [(p, "en", latin) for p in ENGLISH[:per_language]] + [(p, "zh", chinese) for p in CHINESE[:per_language]]
    for n, (phrase, lang, fonts) in enumerate(jobs):
        photo = load_image(pool[n])  # as the pipeline decodes it (at most 1024 a side)
        font: Font = fonts[n % len(fonts)]
        size, angle, style = SIZES[n % len(SIZES)], rng.choice(ANGLES), STYLES[(n // 2) % len(STYLES)]
        while size > 14 and not fits(photo, phrase, font, size, angle):
            size -= 4
        colour, plate_colour = ((245, 245, 240), (30, 40, 60)) if style == "dark plate" else ((20, 20, 20), (245, 240, 225))
        if style == "bare":
            colour = rng.choice([(250, 250, 250), (255, 220, 40), (20, 20, 20)])
        at = (rng.uniform(0.02, 0.5), rng.uniform(0.05, 0.75))
        picture, _ = render(photo, phrase, font, size, angle=angle, at=at, plate=style != "bare",
                            colour=colour, plate_colour=plate_colour)
        path = out / f"{lang}-{n:03d}.jpg"
        picture.save(path, quality=90)
        items.append(Item(path, phrase, f"rendered-{lang}", f"{font.name}, {size}px, {angle} deg, {style}"))
    return items


def make_screenshots(out: Path, pool: list[Path], model: str) -> list[Item]:
    """The web page (serving a small text-free index) with each phrase searched for."""
    import os

    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        print("screenshots skipped: Debian's chromium and chromium-driver are not installed")
        return []
    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from searchengine.http.app import create_app

    media = out.parent / "page-media"
    media.mkdir()
    for p in pool[:6]:
        shutil.copy(p, media / p.name)
    engine = SearchEngine.open(out.parent / "page-index", settings=Settings(model=model, ocr="off"))
    engine.index([media])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 f"--user-data-dir={out.parent / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    items = []
    try:
        for n, phrase in enumerate(SCREENSHOT_PHRASES):
            width, height = ((1280, 800), (1000, 700), (820, 900))[n % 3]
            driver.set_window_size(width, height)
            driver.get(f"http://127.0.0.1:{port}/")
            box = driver.find_element(By.ID, "q")
            box.send_keys(phrase, Keys.ENTER)
            WebDriverWait(driver, 30).until(lambda d: "results for" in d.find_element(By.ID, "status").text
                                            or "No matches" in d.find_element(By.ID, "status").text)
            time.sleep(0.3)  # thumbnails
            path = out / f"page-{n:02d}.png"
            driver.save_screenshot(str(path))
            items.append(Item(path, phrase, "screenshot", f"web page {width}x{height}"))
    finally:
        driver.quit()
        server.should_exit = True
        thread.join(5)
        engine.close()
    return items


def best_block(phrase: str, blocks: list[str]) -> float:
    """Accuracy against the block of text closest to the phrase."""
    return max((char_accuracy(phrase, b) for b in blocks), default=0.0)


def best_stretch(phrase: str, blocks: list[str]) -> float:
    """Accuracy against the closest stretch of any block (semi-global edit distance: the
    block may hold other words before and after the phrase)."""
    ref = characters(phrase)
    best = 0.0
    for block in blocks:
        hyp = characters(block)
        row = [0] * (len(hyp) + 1)  # free start anywhere in the block
        for i in range(1, len(ref) + 1):
            prev, row[0] = row[0], i
            for j in range(1, len(hyp) + 1):
                cur = min(row[j] + 1, row[j - 1] + 1, prev + (ref[i - 1] != hyp[j - 1]))
                prev, row[j] = row[j], cur
        best = max(best, 1 - min(row) / max(1, len(ref)))  # free end anywhere
    return max(0.0, best)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-language", type=int, default=40, help="rendered photos per language (at most 48)")
    ap.add_argument("--plain", type=int, default=30, help="text-free photos for the cost figures")
    ap.add_argument("--model", default="auto")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    ap.add_argument("--keep", type=Path, default=None, help="copy the generated set here")
    args = ap.parse_args()
    rng = random.Random(14)
    pool = photos()
    rng.shuffle(pool)
    work = Path(tempfile.mkdtemp(prefix="bench-ocr-"))
    try:
        sets = work / "set"
        sets.mkdir()
        n = min(args.per_language, len(ENGLISH), len(CHINESE))
        items = make_rendered(sets, n, rng, pool[: 2 * n])
        items += make_screenshots(sets, pool[2 * n : 2 * n + 6], args.model)
        if args.keep:
            shutil.copytree(sets, args.keep, dirs_exist_ok=True)
        figures = run(items, work, pool[2 * n + 6 : 2 * n + 6 + args.plain], args.model)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False))


def run(items: list[Item], work: Path, plain: list[Path], model: str) -> dict:
    # -- index the set; read back what OCR stored; query each phrase --------------------
    settings = Settings(index_root=work / "indexes", model=model, ocr="on")
    engine = SearchEngine.open("ocr-set", settings=settings)
    t0 = time.perf_counter()
    report = engine.index([items[0].path.parent])
    index_seconds = time.perf_counter() - t0
    assert report.failed == 0, report.failures
    texts = blocks_by_path(engine)
    rows = []
    for item in items:
        blocks = texts.get(str(item.path), [])
        acc = best_stretch(item.phrase, blocks) if item.kind == "screenshot" else best_block(item.phrase, blocks)
        hits = engine.search(item.phrase, k=5)
        rank = next((r for r, h in enumerate(hits, 1) if h.path == str(item.path)), None)
        rows.append({"path": item.path.name, "kind": item.kind, "detail": item.detail, "phrase": item.phrase,
                     "read": blocks, "char_accuracy": round(acc, 4), "rank": rank,
                     "top_kind": hits[0].kind if hits else None})
    engine.close()

    # -- cost: the reader alone, pictures as the pipeline decodes them ------------------
    reader = shared_reader()  # the one the pipeline uses
    reader.read(load_image(items[0].path))  # models loaded before timing
    with_text = [_timed(reader, item.path) for item in items if item.kind != "screenshot"]
    plain_times, plain_text = [], 0
    for p in plain:
        ms, lines = _timed_lines(reader, p, "plain")
        if lines:
            plain_text += 1  # a photo with text of its own: not text-free
        else:
            plain_times.append(ms)

    # -- cost in a whole indexing run: text-free photos, --ocr on against off -----------
    runs = {}
    folder = work / "plain"
    folder.mkdir()
    for p in plain:
        shutil.copy(p, folder / p.name)
    for mode in ("off", "on"):
        with SearchEngine.open(f"plain-{mode}", settings=Settings(index_root=work / "indexes", model=model, ocr=mode)) as e:
            e.encoder  # model loaded outside the timing
            t0 = time.perf_counter()
            r = e.index([folder])
            runs[mode] = (time.perf_counter() - t0) / max(1, r.added)
            runs[f"ocr_{mode}"] = r.ocr_seconds / max(1, r.added)

    def summary(kind: str) -> dict:
        sel = [r for r in rows if r["kind"].startswith(kind)]
        return {"items": len(sel),
                "char_accuracy": round(statistics.mean(r["char_accuracy"] for r in sel), 4) if sel else None,
                "r_at_1": round(sum(r["rank"] == 1 for r in sel) / len(sel), 4) if sel else None,
                "r_at_5": round(sum(r["rank"] is not None for r in sel) / len(sel), 4) if sel else None}

    ref_chars = sum(len(characters(r["phrase"])) for r in rows)
    figures = {
        "model": model, "items": len(rows),
        "all": summary(""), "english": summary("rendered-en"), "chinese": summary("rendered-zh"),
        "screenshots": summary("screenshot"),
        "char_accuracy_pooled": round(1 - sum(min(len(characters(r["phrase"])), _edits(r)) for r in rows) / ref_chars, 4),
        "ms_per_image_with_text": round(statistics.median(with_text), 1),
        "ms_per_image_with_text_mean": round(statistics.mean(with_text), 1),
        "ms_per_image_without_text": round(statistics.median(plain_times), 1) if plain_times else None,
        "ms_per_image_without_text_mean": round(statistics.mean(plain_times), 1) if plain_times else None,
        "cpu_ms_per_image_with_text": round(statistics.median(CPU_MS["text"]), 1),
        "cpu_ms_per_image_without_text": round(statistics.median(CPU_MS["plain"]), 1) if CPU_MS["plain"] else None,
        "plain_photos": len(plain), "plain_photos_with_own_text": plain_text,
        "index_s_per_plain_photo_ocr_off": round(runs["off"], 4),
        "index_s_per_plain_photo_ocr_on": round(runs["on"], 4),
        "index_ocr_s_per_plain_photo": round(runs["ocr_on"], 4),
        "index_seconds_set": round(index_seconds, 1),
        "rows": rows,
    }
    show(figures)
    return figures


def _edits(row: dict) -> int:
    """Edits of the row's phrase against the text that scored it (for the pooled figure)."""
    return round((1 - row["char_accuracy"]) * len(characters(row["phrase"])))


def blocks_by_path(engine: SearchEngine) -> dict[str, list[str]]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from searchengine.store.models import MediaFile, Unit

    out: dict[str, list[str]] = {}
    with Session(engine.repo.engine) as s:
        for path, text in s.execute(select(MediaFile.path, Unit.text).join(Unit, Unit.file_id == MediaFile.id)
                                    .where(Unit.kind == "ocr").order_by(Unit.id)):
            out.setdefault(path, []).append(text)
    return out


def _timed(reader: TextReader, path: Path) -> float:
    return _timed_lines(reader, path)[0]


CPU_MS: dict[str, list[float]] = {"text": [], "plain": []}


def _timed_lines(reader: TextReader, path: Path, kind: str = "text") -> tuple[float, list]:
    """Wall ms of reading one picture (CPU ms of the process, all its threads, go to
    ``CPU_MS``: steadier than wall time on a shared machine)."""
    image = load_image(path)
    c0, t0 = time.process_time(), time.perf_counter()
    lines = reader.read(image)
    wall = (time.perf_counter() - t0) * 1000
    cpu = (time.process_time() - c0) * 1000
    blocks = group_blocks(lines)
    if kind == "text" or not blocks:  # a "plain" photo with text of its own is not counted
        CPU_MS[kind].append(cpu)
    return wall, blocks


def show(f: dict) -> None:
    print(f"\nText in images: {f['items']} pictures, model {f['model']}, set indexed in {f['index_seconds_set']}s")
    print(f"{'set':<14}{'items':>6}{'char acc':>10}{'R@1':>8}{'R@5':>8}")
    for key in ("english", "chinese", "screenshots", "all"):
        s = f[key]
        if s["items"]:
            print(f"{key:<14}{s['items']:>6}{s['char_accuracy']:>10.3f}{s['r_at_1']:>8.3f}{s['r_at_5']:>8.3f}")
    print(f"pooled character accuracy (1 - CER over all characters): {f['char_accuracy_pooled']:.3f}")
    print(f"OCR ms/image, median (mean): with text {f['ms_per_image_with_text']} ({f['ms_per_image_with_text_mean']}), "
          f"without text {f['ms_per_image_without_text']} ({f['ms_per_image_without_text_mean']}); "
          f"{f['plain_photos_with_own_text']} of {f['plain_photos']} plain photos had text of their own")
    print(f"OCR CPU ms/image (all threads), median: with text {f['cpu_ms_per_image_with_text']}, "
          f"without text {f['cpu_ms_per_image_without_text']}")
    if f["ms_per_image_without_text"]:
        print(f"  ratio with/without text: {f['ms_per_image_with_text'] / f['ms_per_image_without_text']:.1f}x")
    off, on = f["index_s_per_plain_photo_ocr_off"], f["index_s_per_plain_photo_ocr_on"]
    print(f"indexing text-free photos, s/photo: --ocr off {off:.3f}, --ocr on {on:.3f} ({on / off:.1f}x; "
          f"OCR models {f['index_ocr_s_per_plain_photo']:.3f} s/photo)")
    misses = [r for r in f["rows"] if r["rank"] != 1 or r["char_accuracy"] < 0.9]
    for r in misses[:20]:
        print(f"  miss: {r['path']} [{r['detail']}] {r['phrase']!r} read {r['read']} acc {r['char_accuracy']} rank {r['rank']}")


if __name__ == "__main__":
    main()
