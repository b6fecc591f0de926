"""Run an evaluation through the product itself: a fresh temporary index built by the normal
indexing path, every query through the normal search path."""

from __future__ import annotations

import functools

import logging
import math
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from tqdm import tqdm

from searchengine.config import Settings
from searchengine.evaluation.manifest import EvalItem, read_manifest
from searchengine.evaluation.metrics import rank_of_correct, recall_at, unique_targets
from searchengine.catalog.manifest import library_versions

log = logging.getLogger(__name__)

TIE_MARGIN = 20  # extra results fetched beyond the largest K, to see ties at the boundary


@dataclass
class _Collection:
    items: list[EvalItem]
    missing: list[str]
    text_files: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (item, text)
    queryable: set[int] | None = None  # None: all items (some may have failed to index)


def run_eval(
    manifest: Path, *, ks: Sequence[int] = (1, 5, 10), model: str | None = None,
    settings: Settings | None = None, progress: bool = False, work_dir: Path | None = None,
) -> dict[str, Any]:
    from searchengine.engine import SearchEngine

    ks = sorted(set(ks))
    if not ks or ks[0] < 1:
        raise ValueError("K values must be 1 or more")
    settings = settings or Settings.from_env()
    items = read_manifest(manifest)
    present = [it for it in items if it.path.is_file()]
    missing = [str(it.path) for it in items if not it.path.is_file()]
    for path in missing:
        log.warning("missing media file, skipped: %s", path)
    coll = _Collection(present, missing)

    tmp = Path(tempfile.mkdtemp(prefix="se-eval-", dir=work_dir))
    try:
        texts_dir = tmp / "texts"
        texts_dir.mkdir()
        for i, item in enumerate(present):
            for j, text in enumerate(item.texts):
                text_file = texts_dir / f"{i:06d}_{j:02d}.txt"
                text_file.write_text(text, encoding="utf-8")
                coll.text_files[str(text_file)] = (i, j)
        engine = SearchEngine.open(tmp / "index", model=model, settings=settings)
        try:
            report = engine.index([it.path for it in present] + [texts_dir], progress=progress)
            failed = {path for path, _ in report.failures}
            if failed:  # recorded and counted; their captions stay in the index as distractors
                log.warning("%d media files failed to index and are not queried", len(failed))
                coll.queryable = {i for i, it in enumerate(present) if str(it.path) not in failed}
            latencies: list[float] = []
            # the model's quality: vector search alone (the keyword side would match words of
            # the captions in file names, e.g. imagenet-dev's n01440764_tench.JPEG)
            search = _timed(functools.partial(engine.search, mode="vector"), latencies)
            directions = _directions(search, coll, ks, progress)
            status = engine.status()
        finally:
            engine.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    indexed = report.added + report.reused
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
            "failed": report.failed,
        },
        "missing": missing,
        "failures": [{"path": p, "error": e} for p, e in report.failures],
        "directions": directions,
        "timing": {
            "index_seconds": round(report.seconds, 3),
            "index_items_per_second": round(indexed / report.seconds, 2) if report.seconds else None,
            "transcribed_seconds_of_audio": round(report.transcribed_seconds, 1),
            "queries": len(latencies),
            "query_p50_ms": round(statistics.median(latencies), 2) if latencies else None,
            "query_p95_ms": round(float(np.percentile(latencies, 95)), 2) if latencies else None,
        },
    }


def _timed(fn: Callable[..., Any], sink: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sink.append((time.perf_counter() - t0) * 1000)
    return wrapper


def _directions(search, coll: _Collection, ks: list[int], progress: bool) -> dict[str, dict[str, Any]]:
    fetch = ks[-1] + TIE_MARGIN
    item_of_path = {str(it.path): i for i, it in enumerate(coll.items)}
    out: dict[str, dict[str, Any]] = {}
    usable = lambda i: coll.queryable is None or i in coll.queryable  # noqa: E731
    images = [i for i, it in enumerate(coll.items) if it.modality == "image" and usable(i)]
    audios = [i for i, it in enumerate(coll.items) if it.modality == "audio" and usable(i)]

    def media_ranks(indexes: list[int], modality: str, desc: str) -> list[float]:
        ranks = []
        queries = [(i, t) for i in indexes for t in coll.items[i].texts]
        for i, text in tqdm(queries, desc=desc, disable=not progress, leave=False):
            hits = search(text, k=fetch * (3 if modality == "audio" else 1), modality=modality)
            pairs = unique_targets((item_of_path.get(h.path, -1), h.score) for h in hits)
            ranks.append(rank_of_correct(pairs, {i}))
        return ranks

    if images:
        out["text_to_image"] = _summary(media_ranks(images, "image", "text→image"), ks)
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
    if audios:
        out["text_to_audio"] = _summary(media_ranks(audios, "audio", "text→audio"), ks)
    return out


def _summary(ranks: list[float], ks: list[int]) -> dict[str, Any]:
    finite = [r for r in ranks if math.isfinite(r)]
    summary: dict[str, Any] = {"queries": len(ranks)}
    summary.update({k: round(v, 4) for k, v in recall_at(ranks, ks).items()})
    summary["median_rank"] = statistics.median(ranks) if len(finite) * 2 > len(ranks) else None
    return summary
