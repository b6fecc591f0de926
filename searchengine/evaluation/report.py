"""Rendering evaluation reports: one as a table, two side by side with differences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from searchengine.errors import InvalidInputError

_ORDER = ("text_to_image", "image_to_text", "zero_shot", "text_to_audio")


def load_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InvalidInputError(f"report {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"report {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "directions" not in data:
        raise InvalidInputError(f"{path} is not a report written by `searchengine eval --json`")
    return data


def paths_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"default": directions, "vector": directions}``; a report written before the default
    path was measured holds vector search alone (its ``directions``)."""
    if isinstance(report.get("paths"), dict):
        return report["paths"]
    return {"vector": report.get("directions", {})}


def metric_rows(report: dict[str, Any]) -> dict[str, float | int | None]:
    """Flat ``path.direction.metric -> value`` for everything measured."""
    rows: dict[str, float | int | None] = {}
    for path, dirs in paths_of(report).items():
        for name in _ORDER:
            for key, value in dirs.get(name, {}).items():
                rows[f"{path}.{name}.{key}"] = value
    for key, value in report.get("timing", {}).items():
        rows[f"timing.{key}"] = value
    return rows


def render_report(report: dict[str, Any]) -> str:
    lines = [
        f"model       {report['model']}   index {report['index_type']}",
        f"manifest    {report['manifest']}",
        "items       " + ", ".join(f"{k} {v}" for k, v in report["items"].items()),
        "",
    ]
    ks = report.get("ks", [])
    paths = paths_of(report)
    dp = report.get("default_path")
    if dp:
        lines.append(f"default     {dp['mode']} search, text in images {'read' if dp['text_in_images_read'] else 'not read'}"
                     f" (--ocr {dp['ocr']}), "
                     + (f"{report['items'].get('distractors', 0)} distractor files from {dp['distractors']}"
                        if dp.get("distractors") else "no distractors"))
        lines.append("vector      vector search narrowed to the kind sought (the model alone)")
        lines.append("")
    names = [p for p in ("vector", "default") if p in paths]
    header = f"{'direction':<15}{'queries':>8}" + "".join(
        f"{'R@' + str(k) + ' ' + p[:3]:>10}" for k in ks for p in names)
    lines.append(header)
    for name in _ORDER:
        present = [paths[p].get(name) for p in names]
        d = next((x for x in present if x), None)
        if not d:
            continue
        if name == "zero_shot":
            lines.append(f"{'zero-shot':<15}{d['queries']:>8}   top-1 {d['top1']:.3f}  top-5 {d['top5']:.3f}"
                         f"  ({d['classes']} classes)")
            continue
        cells = "".join(f"{_fmt(x.get(f'R@{k}') if x else None):>10}" for k in ks for x in present)
        lines.append(f"{name.replace('_to_', '→'):<15}{d['queries']:>8}{cells}")
    for name in ("text_to_image", "text_to_audio"):
        d = paths.get("default", {}).get(name)
        if d and "files_twice_in_top10" in d:
            lines.append(f"{name.replace('_to_', '→')} default: {d['files_twice_in_top10']} files shown twice in a "
                         f"top {10} ({d['queries_with_a_file_twice']} of {d['queries']} queries)")
    t = report["timing"]
    lines += ["", f"indexing    {t['index_items_per_second']} items/s ({t['index_seconds']} s)",
              f"queries     {t['queries']}, latency p50 {_fmt(t['query_p50_ms'])} ms, p95 {_fmt(t['query_p95_ms'])} ms"]
    if report.get("failures"):
        lines.append(f"failed      {len(report['failures'])} media files could not be indexed (not queried):")
        lines += [f"  {f['error']}" for f in report["failures"][:20]]
    if report.get("missing"):
        lines.append(f"missing     {len(report['missing'])} media files skipped:")
        lines += [f"  {p}" for p in report["missing"][:20]]
    return "\n".join(lines)


def render_comparison(a: dict[str, Any], b: dict[str, Any], name_a: str, name_b: str) -> str:
    rows_a, rows_b = metric_rows(a), metric_rows(b)
    keys = list(dict.fromkeys([*rows_a, *rows_b]))
    width = max(len(k) for k in keys) + 2
    lines = [f"{'':<{width}}{'A':>12}{'B':>12}{'B - A':>12}",
             f"{'model':<{width}}{a['model'][-12:]:>12}{b['model'][-12:]:>12}",
             f"A = {name_a}", f"B = {name_b}", ""]
    for key in keys:
        va, vb = rows_a.get(key), rows_b.get(key)
        diff = ""
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            diff = f"{vb - va:+.3f}" if isinstance(va, float) or isinstance(vb, float) else f"{vb - va:+d}"
        lines.append(f"{key:<{width}}{_fmt(va):>12}{_fmt(vb):>12}{diff:>12}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
