"""Transcripts that sit next to a recording: SubRip (.srt), WebVTT (.vtt) or plain text."""

from __future__ import annotations

import re
from pathlib import Path

from searchengine.errors import MediaDecodeError
from searchengine.media.pathnames import display_path
from searchengine.media.text import read_text
from searchengine.transcribe.segments import Segment

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_CUE = re.compile(rf"^\s*({_TIME.pattern})\s*-->\s*({_TIME.pattern})")
_TAG = re.compile(r"<[^>]+>")


def _seconds(text: str) -> float:
    m = _TIME.match(text.strip())
    assert m is not None
    hours, minutes, seconds, frac = m.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(frac.ljust(3, "0")) / 1000


def parse_sidecar(path: Path, duration: float) -> list[Segment]:
    """Timed segments of a sidecar transcript. A plain-text transcript has no times: its
    sentences are spread over ``duration`` in proportion to their length."""
    text = read_text(path)
    if path.suffix.lower() in (".srt", ".vtt"):
        segments = _parse_cues(text)
        if not segments:
            raise MediaDecodeError(f"{display_path(path)}: no timed cues found in the transcript")
        return segments
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s.strip()]
    if not sentences:
        raise MediaDecodeError(f"{display_path(path)}: the transcript is empty")
    total = sum(len(s) for s in sentences)
    out, t = [], 0.0
    for s in sentences:
        length = duration * len(s) / total if duration > 0 else 0.0
        out.append(Segment(round(t, 3), round(t + length, 3), s))
        t += length
    return out


def _parse_cues(text: str) -> list[Segment]:
    segments: list[Segment] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        m = _CUE.match(lines[i])
        if not m:
            i += 1
            continue
        start, end = _seconds(m.group(1)), _seconds(m.group(6))
        i += 1
        words = []
        while i < len(lines) and lines[i].strip():
            words.append(_TAG.sub("", lines[i]).strip())
            i += 1
        cue = " ".join(w for w in words if w)
        if cue:
            segments.append(Segment(start, max(end, start), cue))
    return segments
