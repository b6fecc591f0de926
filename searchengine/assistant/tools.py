"""What the MCP tools do, as plain functions of an engine: JSON-ready dicts with paths,
moments, pages and snippets (and media URLs when served over HTTP)."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from searchengine.errors import InvalidInputError
from searchengine.media.kinds import RECORDINGS
from searchengine.media.pathnames import display_path, is_real_under
from searchengine.query.filters import SearchFilters

if TYPE_CHECKING:
    from searchengine.engine import SearchEngine
    from searchengine.query.hits import Hit
    from searchengine.store.repository import UnitRow

SNIPPET_CHARS = 240
MAX_TEXT_CHARS = 20_000  # get_item: a note's text, cut here
MAX_SEGMENTS = 2_000


def snippet(text: str | None, spans: Sequence[Sequence[int]] | None = None, width: int = SNIPPET_CHARS) -> str | None:
    """About ``width`` characters of ``text`` around its first highlighted span."""
    if not text:
        return None
    start = max(0, spans[0][0] - width // 3) if spans else 0
    end = min(len(text), start + width)
    line = " ".join(text[start:end].split())
    return ("…" if start > 0 else "") + line + ("…" if end < len(text) else "")


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"{name} {value!r} is not a date like 2024-06-01") from None


def _where(kind: str, modality: str, start: float | None, end: float | None, moment: float | None) -> dict:
    """Where in the file: seconds for recordings and video frames, characters for text."""
    out: dict[str, Any] = {}
    if start is None:
        return out
    if modality in RECORDINGS or kind in ("window", "frame"):
        out["seconds"] = {"start": start, "end": end}
        out["play_from"] = moment if moment is not None else start
    else:
        out["chars"] = {"start": int(start), "end": int(end) if end is not None else None}
    return out


class Tools:
    """The tools over one engine. ``media_root``: the URL prefix of the HTTP API (``""``
    when served by the HTTP app at its root), or None (stdio: no URLs)."""

    def __init__(self, engine: "SearchEngine", media_root: str | None = None):
        self.engine = engine
        self.media_root = media_root

    # -- shaping ---------------------------------------------------------------------------

    def _urls(self, item_id: int, modality: str) -> dict:
        if self.media_root is None:
            return {}
        out = {"media_url": f"{self.media_root}/api/items/{item_id}/media"}
        if modality == "image":
            out["thumbnail_url"] = f"{self.media_root}/api/items/{item_id}/thumbnail"
        return out

    def hit(self, h: "Hit", also: Sequence["Hit"] = ()) -> dict:
        out: dict[str, Any] = {"id": h.id, "path": display_path(h.path), "modality": h.modality, "kind": h.kind,
                               "score": round(h.score, 4), "strong": bool(getattr(h, "strong", False))}
        out.update(_where(h.kind, h.modality, h.start, h.end, h.moment))
        page = getattr(h, "page", None)
        if page is not None:
            out["page"] = page
        if h.text:
            out["snippet"] = snippet(h.text, h.highlights)
        if h.box:
            out["box"] = list(h.box)
        if h.found_by:
            out["found_by"] = list(h.found_by)
        out.update(self._urls(h.id, h.modality))
        evidence = [self._evidence(e, h.modality) for e in getattr(h, "evidence", ())]
        evidence += [self._evidence(a, h.modality) for a in also]
        if evidence:
            out["evidence"] = evidence
        return out

    @staticmethod
    def _evidence(e: Any, modality: str) -> dict:
        out: dict[str, Any] = {"id": e.id, "kind": e.kind, "score": round(e.score, 4)}
        out.update(_where(e.kind, modality, e.start, e.end, e.moment))
        if e.text:
            out["snippet"] = snippet(e.text, e.highlights)
        if e.box:
            out["box"] = list(e.box)
        return out

    def hits(self, hits: list["Hit"], group: str) -> list[dict]:
        """``group="file"``: one result per file, its other matching units as ``evidence``
        (the engine's own grouping where it has it); ``"unit"``: every matching unit."""
        if group == "unit":
            flat = []
            for h in hits:
                flat.append(self.hit(h))
                flat += [{**self._evidence(e, h.modality), "path": display_path(h.path), "modality": h.modality}
                         for e in getattr(h, "evidence", ())]
            return flat
        firsts: dict[str, "Hit"] = {}
        others: dict[str, list["Hit"]] = {}
        for h in hits:
            if h.path in firsts:
                others[h.path].append(h)
            else:
                firsts[h.path], others[h.path] = h, []
        return [self.hit(h, others[p]) for p, h in firsts.items()]

    # -- the tools ---------------------------------------------------------------------------

    def search(self, query: str, k: int = 10, modality: list[str] | None = None, path: str | None = None,
               after: str | None = None, before: str | None = None, mode: str = "hybrid",
               group: str = "file") -> dict:
        if group not in ("file", "unit"):
            raise InvalidInputError(f"group must be file or unit, got {group!r}")
        if not 1 <= k <= 200:
            raise InvalidInputError(f"k must be between 1 and 200, got {k}")
        filters = SearchFilters.of(modality or None, path, _date(after, "after"), _date(before, "before"))
        hits = self.engine.search(query, k=k, mode=mode, filters=filters)
        return {"query": query, "mode": mode, "results": self.hits(hits, group)}

    def search_similar(self, item_id: int | None = None, image_path: str | None = None, k: int = 10,
                       modality: list[str] | None = None, path: str | None = None) -> dict:
        if (item_id is None) == (image_path is None):
            raise InvalidInputError("give item_id (an indexed item's id) or image_path, not both")
        if not 1 <= k <= 200:
            raise InvalidInputError(f"k must be between 1 and 200, got {k}")
        filters = SearchFilters.of(modality or None, path)
        if item_id is not None:
            hits = self.engine.search(similar_to=item_id, k=k, filters=filters)
        else:
            assert image_path is not None
            hits = self.engine.search(image=self.inside_roots(image_path), k=k, filters=filters)
        return {"results": self.hits(hits, "file")}

    def inside_roots(self, image_path: str) -> Path:
        """An image the caller names is read only inside the indexed folders (an assistant
        must not be able to make the server read any file on the machine)."""
        real = os.path.realpath(os.path.expanduser(image_path))
        if not is_real_under(real, {os.path.realpath(r) for r in self.engine.roots()}):
            raise InvalidInputError(f"image_path {image_path!r} is not inside the indexed folders; "
                                    "give an image from them (or an item_id)")
        if not os.path.isfile(real):
            raise InvalidInputError(f"image_path {image_path!r} is not a file")
        return Path(real)

    def get_item(self, item_id: int) -> dict:
        row = self.engine.item(item_id)
        if row is None:
            raise InvalidInputError(f"no indexed item has id {item_id}")
        out: dict[str, Any] = {"id": row.id, "path": display_path(row.path), "modality": row.modality,
                               "kind": row.kind, "size_bytes": row.size,
                               "modified": _iso(row.mtime_ns / 1e9)}
        out.update(_where(row.kind, row.modality, row.start, row.end, None))
        if row.text:
            out["unit_text"] = row.text
        out.update(self._urls(row.id, row.modality))
        units = self.engine.repo.units_of_file(row.file_id)
        if row.modality in RECORDINGS:
            transcript = self.engine.transcript(item_id)
            if transcript:
                segments = transcript["segments"]
                out["transcript"] = {"language": transcript.get("language"), "source": transcript.get("source"),
                                     "duration": transcript.get("duration"),
                                     "segments": [{"start": a, "end": b, "text": t} for a, b, t in segments[:MAX_SEGMENTS]],
                                     "truncated": len(segments) > MAX_SEGMENTS}
        if row.modality == "text":
            out["text"], out["truncated"] = _file_text(row.path, units)
        if row.modality == "image":
            out["text_in_image"] = [{"id": u.id, "text": u.text, "box": _box(u)} for u in units if u.kind == "ocr"]
            out.update(photo_facts(row.path))
        if row.modality == "video":
            out["frames"] = [{"id": u.id, "seconds": u.start} for u in units if u.kind == "frame"][:500]
        out.setdefault("date", out["modified"])
        return out

    def status(self) -> dict:
        st = asdict(self.engine.status())
        st.pop("folder", None)
        st["roots"] = [display_path(r) for r in st["roots"]]
        return st


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _box(u: "UnitRow") -> list[float] | None:
    import json

    return json.loads(u.box) if u.box else None


def _file_text(path: str, units: list["UnitRow"]) -> tuple[str, bool]:
    """A note's text: from the file while it is there, else its indexed chunks."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(MAX_TEXT_CHARS + 1)
    except OSError:
        text = "\n".join(u.text or "" for u in units if u.kind == "chunk")
    return text[:MAX_TEXT_CHARS], len(text) > MAX_TEXT_CHARS


def photo_facts(path: str) -> dict:
    """Date taken and place (latitude, longitude) from a photo's EXIF, where it holds them."""
    from PIL import Image

    out: dict[str, Any] = {}
    try:
        with Image.open(path) as img:
            exif = img.getexif()
            taken = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, DateTime
            gps = exif.get_ifd(0x8825)
    except (OSError, ValueError, SyntaxError):
        return out
    if isinstance(taken, str):
        try:
            out["date"] = datetime.strptime(taken.strip(), "%Y:%m:%d %H:%M:%S").isoformat()
        except ValueError:
            pass
    try:
        lat = _degrees(gps[2], gps[1])
        lon = _degrees(gps[4], gps[3])
        out["place"] = {"latitude": round(lat, 6), "longitude": round(lon, 6)}
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        pass
    return out


def _degrees(dms: Sequence[Any], ref: str) -> float:
    d, m, s = (float(x) for x in dms)
    value = d + m / 60 + s / 3600
    return -value if str(ref).upper() in ("S", "W") else value
