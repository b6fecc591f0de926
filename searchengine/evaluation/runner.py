"""Run an evaluation through the product itself: an index built by the normal indexing path,
every query through the normal search path, measured two ways side by side:

- ``vector``: the model alone - vector search narrowed to the kind of item sought (text→image
  among images, text→audio among recordings), as open_clip's retrieval benchmark does;
- ``default``: the path a user runs - the default search mode (hybrid: meaning and keywords),
  text in images read as the settings say (``--ocr``), no narrowing: every kind of item in
  the index competes, with ``distractors`` (a folder of unrelated notes, recordings, photos
  with text) added to the library so that mixed-library quality is a number.

The index is built in two steps so that the manifest's own texts never compete with the
items they describe: first the media and the distractors (text→image and text→audio are
measured on that library), then the texts as small text files (image→text and zero-shot,
image queries over texts). With ``keep`` the index lives in that folder and outlasts the run:
a rerun reuses every unchanged file (the texts are forgotten at the end of each run, and
files no longer in the manifest or the distractors at the start, so the kept index is this
run's library alone: media and distractors)."""

from __future__ import annotations

import functools
import logging
import math
import shutil
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from tqdm import tqdm

from searchengine.config import Settings
from searchengine.errors import InvalidInputError
from searchengine.evaluation.manifest import EvalItem, read_manifest
from searchengine.evaluation.metrics import rank_in_list, rank_of_correct, recall_at, unique_targets
from searchengine.catalog.manifest import library_versions

log = logging.getLogger(__name__)

TIE_MARGIN = 20  # extra results fetched beyond the largest K, to see ties at the boundary
TOP = 10  # the default path's page: files shown twice in it are counted
PATHS = ("vector", "default")
INDEX_FOLDER = "index"  # under ``keep``: the kept index (media and distractors)
TEXTS_FOLDER = "texts"  # under ``keep``: the manifest's texts, one file each


@dataclass
class _Collection:
    items: list[EvalItem]
    missing: list[str]
    text_files: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (item, text)
    queryable: set[int] | None = None  # None: all items (some may have failed to index)


def run_eval(
    manifest: Path, *, ks: Sequence[int] = (1, 5, 10), model: str | None = None,
    settings: Settings | None = None, progress: bool = False, work_dir: Path | None = None,
    distractors: Path | None = None, keep: Path | None = None,
) -> dict[str, Any]:
    """Build the index of ``manifest`` (and ``distractors``, a folder) and measure it; see the
    module's docstring. ``keep``: a folder holding the evaluation's index between runs (one
    manifest per folder); otherwise a temporary one under ``work_dir`` is removed at the end."""
    from searchengine.engine import SearchEngine
    from searchengine.ocr.stage import ocr_enabled

    ks = sorted(set(ks))
    if not ks or ks[0] < 1:
        raise ValueError("K values must be 1 or more")
    settings = settings or Settings.from_env()
    if distractors is not None:
        distractors = Path(distractors).expanduser().absolute()
        if not distractors.is_dir():
            raise InvalidInputError(f"--distractors {distractors}: not a folder; give a folder of notes, "
                                    "recordings and photos to add to the library")
    if keep is not None:
        keep = Path(keep).expanduser().absolute()
        if keep.exists() and not keep.is_dir():
            raise InvalidInputError(f"--keep-index {keep}: not a folder")
    items = read_manifest(manifest)
    present = [it for it in items if it.path.is_file()]
    missing = [str(it.path) for it in items if not it.path.is_file()]
    for path in missing:
        log.warning("missing media file, skipped: %s", path)
    coll = _Collection(present, missing)

    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        tmp = keep
    else:
        tmp = Path(tempfile.mkdtemp(prefix="se-eval-", dir=work_dir))
    try:
        texts_dir = tmp / TEXTS_FOLDER
        shutil.rmtree(texts_dir, ignore_errors=True)
        texts_dir.mkdir()
        engine = SearchEngine.open(tmp / INDEX_FOLDER, model=model, settings=settings)
        try:
            library = [it.path for it in present] + ([distractors] if distractors else [])
            # a kept index: last run's texts, and media no longer in the manifest, are not the library
            wanted = {str(Path(p).absolute()) for p in library}
            for root in engine.repo.roots():
                if root not in wanted:
                    _forget_quietly(engine, Path(root))
            report = engine.index(library, progress=progress, read_text="now")  # measured on all of it
            failed = {path for path, _ in report.failures}
            if failed:  # recorded and counted; their texts stay in the index as distractors
                log.warning("%d media files failed to index and are not queried", len(failed))
                coll.queryable = {i for i, it in enumerate(present) if str(it.path) not in failed}
            latencies: dict[str, list[float]] = {p: [] for p in PATHS}
            searches = {
                "vector": _timed(functools.partial(engine.search, mode="vector"), latencies["vector"]),
                "default": _timed(engine.search, latencies["default"]),
            }
            directions = {p: _text_queries(searches[p], coll, ks, progress, narrow=p == "vector") for p in PATHS}

            for i, item in enumerate(present):
                for j, text in enumerate(item.texts):
                    text_file = texts_dir / f"{i:06d}_{j:02d}.txt"
                    text_file.write_text(text, encoding="utf-8")
                    coll.text_files[str(text_file)] = (i, j)
            texts_report = engine.index([texts_dir], progress=progress, read_text="now")
            image_latencies: list[float] = []
            image_dirs = _image_queries(_timed(engine.search, image_latencies), coll, ks, progress)
            for p in PATHS:  # an image query has one path: no keywords, narrowed to texts
                directions[p].update(image_dirs)
            status = engine.status()
            if keep is not None:
                _forget_quietly(engine, texts_dir)
        finally:
            engine.close()
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(tmp / TEXTS_FOLDER, ignore_errors=True)

    seconds = report.seconds + texts_report.seconds
    indexed = report.added + report.reused + texts_report.added + texts_report.reused
    failures = list(report.failures) + list(texts_report.failures)
    all_latencies = latencies["vector"] + latencies["default"] + image_latencies
    order = ("default", "vector")
    return {
        "manifest": str(Path(manifest).resolve()),
        "model": status.model,
        "index_type": status.index_type,
        "asr_model": settings.asr_model if any(it.modality == "audio" for it in present) else None,
        "libraries": library_versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "ks": ks,
        "items": {
            "image": sum(it.modality == "image" for it in present),
            "audio": sum(it.modality == "audio" for it in present),
            "texts": len(coll.text_files),
            "missing": len(missing),
            "failed": report.failed + texts_report.failed,
            "distractors": _count_files(distractors) if distractors else 0,
        },
        "default_path": {
            "mode": "hybrid",
            "ocr": settings.ocr,
            "text_in_images_read": ocr_enabled(settings.ocr),
            "distractors": str(distractors) if distractors else None,
        },
        "missing": missing,
        "failures": [{"path": p, "error": e} for p, e in failures],
        # the headline is what users run; ``paths`` holds both, side by side
        "directions": directions["default"],
        "paths": {p: directions[p] for p in order},
        "timing": {
            "index_seconds": round(seconds, 3),
            "index_items_per_second": round(indexed / seconds, 2) if seconds else None,
            "transcribed_seconds_of_audio": round(report.transcribed_seconds, 1),
            "queries": len(all_latencies),
            "query_p50_ms": round(statistics.median(all_latencies), 2) if all_latencies else None,
            "query_p95_ms": round(float(np.percentile(all_latencies, 95)), 2) if all_latencies else None,
            "default_query_p50_ms": (round(statistics.median(latencies["default"]), 2)
                                     if latencies["default"] else None),
        },
    }


def _forget_quietly(engine: Any, folder: Path) -> None:
    try:
        engine.forget(folder)
    except InvalidInputError:  # nothing indexed there
        pass


def _count_files(folder: Path) -> int:
    from searchengine.media.kinds import modality_of

    return sum(1 for p in folder.rglob("*") if p.is_file() and modality_of(p) is not None)


def _timed(fn: Callable[..., Any], sink: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sink.append((time.perf_counter() - t0) * 1000)
    return wrapper


def _usable(coll: _Collection, i: int) -> bool:
    return coll.queryable is None or i in coll.queryable


def _text_queries(search: Callable[..., Any], coll: _Collection, ks: list[int], progress: bool,
                  *, narrow: bool) -> dict[str, dict[str, Any]]:
    """text→image and text→audio. ``narrow``: the vector path, among items of the kind sought
    (by score, ties against the model); otherwise the default path, everything in the library
    competing, ranked as the list shows them (a file counts once, where it first appears)."""
    fetch = ks[-1] + TIE_MARGIN
    item_of_path = {str(it.path): i for i, it in enumerate(coll.items)}
    out: dict[str, dict[str, Any]] = {}
    for modality, name in (("image", "text_to_image"), ("audio", "text_to_audio")):
        indexes = [i for i, it in enumerate(coll.items) if it.modality == modality and _usable(coll, i)]
        if not indexes:
            continue
        ranks: list[float] = []
        twice = pages_with_twice = 0
        queries = [(i, t) for i in indexes for t in coll.items[i].texts]
        arrow = name.replace("_to_", "→")
        for i, text in tqdm(queries, desc=f"{arrow} ({'vector' if narrow else 'default'})",
                            disable=not progress, leave=False):
            if narrow:
                hits = search(text, k=fetch * (3 if modality == "audio" else 1), modality=modality)
                pairs = unique_targets((item_of_path.get(h.path, h.path), h.score) for h in hits)
                ranks.append(rank_of_correct(pairs, {i}))
                continue
            hits = search(text, k=max(fetch, TOP))
            # every file is its own target: a distractor, or an item of the manifest
            pairs = unique_targets((h.path, h.score) for h in hits)
            ranks.append(rank_in_list(pairs, {str(coll.items[i].path)}))
            shown = Counter(h.path for h in hits[:TOP])
            repeated = sum(1 for n in shown.values() if n > 1)
            twice += repeated
            pages_with_twice += repeated > 0
        summary = _summary(ranks, ks)
        if not narrow:
            summary["files_twice_in_top10"] = twice
            summary["queries_with_a_file_twice"] = pages_with_twice
        out[name] = summary
    return out


def _image_queries(search: Callable[..., Any], coll: _Collection, ks: list[int],
                   progress: bool) -> dict[str, dict[str, Any]]:
    """image→text over the manifest's texts (and any text among the distractors), and
    zero-shot classification of labelled images."""
    fetch = ks[-1] + TIE_MARGIN
    out: dict[str, dict[str, Any]] = {}
    images = [i for i, it in enumerate(coll.items) if it.modality == "image" and _usable(coll, i)]
    if not images:
        return out
    ranks, zs_ranks = [], []
    labelled = {coll.items[i].label for i in images if coll.items[i].label}
    for i in tqdm(images, desc="image→text", disable=not progress, leave=False):
        hits = search(image=coll.items[i].path, k=fetch * 2, modality="text")
        pairs: list[tuple[tuple[int, int], float]] = unique_targets(  # type: ignore[assignment]
            (coll.text_files.get(h.path, (-1, -1)), h.score) for h in hits
        )
        mine = {(i, j) for j in range(len(coll.items[i].texts))}
        ranks.append(rank_of_correct(pairs, mine))
        if coll.items[i].label:
            by_label = unique_targets(
                (coll.items[t[0]].label, s) for t, s in pairs if t[0] >= 0 and coll.items[t[0]].label
            )
            zs_ranks.append(rank_of_correct(by_label, {coll.items[i].label}))
    out["image_to_text"] = _summary(ranks, ks)
    if zs_ranks:
        zs = recall_at(zs_ranks, (1, 5))
        out["zero_shot"] = {"queries": len(zs_ranks), "classes": len(labelled),
                            "top1": round(zs["R@1"], 4), "top5": round(zs["R@5"], 4)}
    return out


def _summary(ranks: list[float], ks: list[int]) -> dict[str, Any]:
    finite = [r for r in ranks if math.isfinite(r)]
    summary: dict[str, Any] = {"queries": len(ranks)}
    summary.update({k: round(v, 4) for k, v in recall_at(ranks, ks).items()})
    summary["median_rank"] = statistics.median(ranks) if len(finite) * 2 > len(ranks) else None
    return summary
