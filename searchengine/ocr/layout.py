"""From the boxes a text detector finds to lines and blocks in reading order. A box is
``(x0, y0, x1, y1)`` in fractions of the picture's width and height (so it survives any
resizing of the picture); detectors may split one line into pieces, and a sign or a page
holds several lines that belong together."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

Box = tuple[float, float, float, float]

MIN_SCORE = 0.6  # recognition confidence below this is mostly junk (textures, foliage)


@dataclass(frozen=True)
class Line:
    """One line of text read in an image, with its box and recognition confidence."""

    text: str
    box: Box
    score: float

    def to_json(self) -> dict:
        return {"text": self.text, "box": [round(v, 4) for v in self.box], "score": round(self.score, 4)}

    @classmethod
    def from_json(cls, data: dict) -> "Line":
        x0, y0, x1, y1 = (float(v) for v in data["box"])
        return cls(str(data["text"]), (x0, y0, x1, y1), float(data["score"]))


@dataclass(frozen=True)
class Block:
    """Lines that belong together (a sign, a caption, a paragraph): one unit of the index."""

    lines: tuple[Line, ...]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def box(self) -> Box:
        return _union([line.box for line in self.lines])

    @property
    def score(self) -> float:
        """The recogniser's confidence in the block: its lines' scores, weighted by length."""
        return sum(x.score * len(x.text) for x in self.lines) / max(1, sum(len(x.text) for x in self.lines))


def is_junk(text: str, score: float) -> bool:
    """Low-confidence reads and reads with no letter or digit (edges, dots, bars)."""
    stripped = text.strip()
    if score < MIN_SCORE or not any(ch.isalnum() for ch in stripped):
        return True
    return len(stripped) == 1 and not _is_cjk(stripped)  # a lone Latin letter is noise


def merge_lines(pieces: list[Line], aspect: float = 1.0) -> list[Line]:
    """Join pieces that sit on the same line (vertically overlapping, close horizontally)
    into one line, left to right; lines come out top to bottom. ``aspect`` is the
    picture's width / height (a horizontal gap is compared with a line's height)."""
    rows: list[list[Line]] = []
    for piece in sorted(pieces, key=lambda p: (p.box[1], p.box[0])):
        for row in rows:
            if any(_same_row(p, piece, aspect) for p in row):
                row.append(piece)
                break
        else:
            rows.append([piece])
    out = []
    for row in rows:
        row.sort(key=lambda p: p.box[0])
        text = row[0].text
        for prev, cur in zip(row, row[1:]):
            text = _join(text, cur.text, (cur.box[0] - prev.box[2]) * aspect, _height(prev))
        score = sum(p.score * len(p.text) for p in row) / max(1, sum(len(p.text) for p in row))
        out.append(Line(text, _union([p.box for p in row]), score))
    return sorted(out, key=lambda line: (line.box[1], line.box[0]))


def group_blocks(lines: list[Line], max_chars: int = 400) -> list[Block]:
    """Consecutive lines of similar height, close below one another and overlapping
    horizontally, form one block (at most ``max_chars`` characters); reading order."""
    blocks: list[list[Line]] = []
    for line in sorted(lines, key=lambda line: (line.box[1], line.box[0])):
        for block in blocks:
            last = block[-1]
            h = max(_height(last), _height(line))
            gap = line.box[1] - last.box[3]
            overlap = min(last.box[2], line.box[2]) - max(last.box[0], line.box[0])
            similar = max(_height(last), _height(line)) <= 1.6 * min(_height(last), _height(line))
            size = sum(len(x.text) for x in block) + len(line.text)
            if -0.5 * h <= gap <= 0.8 * h and overlap > 0 and similar and size <= max_chars:
                block.append(line)
                break
        else:
            blocks.append([line])
    return [Block(tuple(b)) for b in blocks]


def _same_row(a: Line, b: Line, aspect: float) -> bool:
    h = min(_height(a), _height(b))
    overlap = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    gap = (max(a.box[0], b.box[0]) - min(a.box[2], b.box[2])) * aspect  # < 0: they overlap
    return overlap >= 0.5 * h and -0.5 * h <= gap <= 1.5 * max(_height(a), _height(b))


def _join(left: str, right: str, gap: float, height: float) -> str:
    if left and right and _is_cjk(left[-1]) and _is_cjk(right[0]) and gap < 0.5 * height:
        return left + right
    return f"{left} {right}"


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _height(line: Line) -> float:
    return max(1e-6, line.box[3] - line.box[1])


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
