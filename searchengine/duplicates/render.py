"""A :class:`~searchengine.duplicates.finder.DuplicatesReport` for people (lines of text) and for
programs (JSON-ready dicts), as the CLI prints it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable, Iterator

from searchengine.duplicates.finder import DuplicateGroup, DuplicatesReport


def _size(n: int) -> str:
    for unit, step in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= step:
            return f"{n / step:.1f} {unit}"
    return f"{n} B"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def render_duplicates(report: DuplicatesReport, show_path: Callable[[str], str]) -> Iterator[str]:
    """The report as lines: each group with its files (and, for near groups, each photo's
    cosine with the group's first)."""
    if report.kind != "near":
        extra = sum(len(g.files) - 1 for g in report.exact)
        wasted = sum(g.redundant_bytes for g in report.exact)
        yield (f"Exact copies: {_plural(report.exact_total, 'group')}"
               + (f", {_plural(extra, 'extra file')} ({_size(wasted)})" if report.exact else ""))
        for n, group in enumerate(report.exact, 1):
            yield f"  {n}. {len(group.files)} files of {_size(group.files[0].size)}  (content {(group.content_hash or '')[:12]})"
            for f in group.files:
                yield f"       {show_path(f.path)}"
        yield from _more(len(report.exact), report.exact_total)
    if report.kind != "exact":
        yield (f"Near-duplicate photos (cosine >= {report.threshold:g}): {_plural(report.near_total, 'group')} "
               f"among {_plural(report.photos, 'photo')}  [{report.index_type}, {report.seconds:.1f}s]")
        for n, group in enumerate(report.near, 1):
            yield f"  {n}. {len(group.files)} photos, closest pair {group.score:.3f}"
            for f in group.files:
                score = "first" if f.score is None else f"{f.score:.3f}"
                copies = f"  (+{_plural(f.copies, 'exact copy', 'exact copies')})" if f.copies else ""
                yield f"     {score:>5}  {show_path(f.path)}  ({_size(f.size)}){copies}"
        yield from _more(len(report.near), report.near_total)


def _more(shown: int, total: int) -> Iterator[str]:
    if shown < total:
        yield f"  ... {total - shown} more (raise --limit to see them)"


def group_json(group: DuplicateGroup, json_path: Callable[[str], str]) -> dict:
    data = asdict(group)
    data["redundant_bytes"] = group.redundant_bytes
    for f in data["files"]:
        f["path"] = json_path(f["path"])
    return data


def report_json(report: DuplicatesReport, json_path: Callable[[str], str]) -> dict:
    """The report as JSON-ready data (paths through ``json_path``)."""
    data = asdict(report)
    data["exact"] = [group_json(g, json_path) for g in report.exact]
    data["near"] = [group_json(g, json_path) for g in report.near]
    return data
