"""The caches the decoders consult before doing slow work, keyed by content hash and the
reader's name: transcripts of recordings, and the text read in pictures and in scanned
document pages (a page's key is its document's hash and page number). :class:`DecodeCache`
is all a decoder needs; the index's SQL tables implement it (:class:`SqlCaches`), and so do
the Ray workers, from what the driver shipped them (:mod:`searchengine.pipeline.ray_worker`)."""

from __future__ import annotations

import json
from typing import Protocol, cast

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from searchengine.store.models import ImageText, MediaFile, Transcript
from searchengine.store.records import now
from searchengine.store.tables import Tables
from searchengine.transcribe.segments import Segment

TranscriptEntry = tuple[list[Segment], "str | None"]  # segments, language


class DecodeCache(Protocol):
    """Transcripts and text read in images (and in scanned pages), by content hash and source."""

    def transcript(self, content_hash: str, source: str) -> TranscriptEntry | None:
        """Cached (segments, language) of a recording, or None."""
        ...

    def save_transcript(self, content_hash: str, source: str, segments: list[Segment],
                        language: str | None, duration: float) -> None: ...

    def image_text(self, content_hash: str, source: str) -> list[dict] | None:
        """Cached lines read in a picture or page (``[]``: no text), or None: never read."""
        ...

    def save_image_text(self, content_hash: str, source: str, lines: list[dict]) -> None: ...


class SqlCaches(Tables):
    """:class:`DecodeCache` on the index's ``transcripts`` and ``image_texts`` tables."""

    def transcript(self, content_hash: str, source: str) -> tuple[list[Segment], str | None] | None:
        """Cached (segments, language) of a recording, or None."""
        with Session(self.engine) as s:
            row = s.scalars(
                select(Transcript).where(Transcript.content_hash == content_hash, Transcript.source == source)
            ).first()
            if row is None:
                return None
            return [Segment(a, b, t) for a, b, t in json.loads(row.segments)], row.language

    def save_transcript(self, content_hash: str, source: str, segments: list[Segment],
                        language: str | None, duration: float) -> None:
        with Session(self._writer) as s, s.begin():
            s.execute(delete(Transcript).where(Transcript.content_hash == content_hash,
                                               Transcript.source == source))
            s.add(Transcript(
                content_hash=content_hash, source=source, language=language, duration=duration,
                text=" ".join(seg.text for seg in segments),
                segments=json.dumps([[seg.start, seg.end, seg.text] for seg in segments]),
                created_at=now(),
            ))

    def image_text(self, content_hash: str, source: str) -> list[dict] | None:
        """Cached lines read in an image (``{"text", "box", "score"}`` each; ``[]``: no
        text), or None when this image was never read by ``source``."""
        with Session(self.engine) as s:
            raw = s.scalars(select(ImageText.lines).where(ImageText.content_hash == content_hash,
                                                          ImageText.source == source)).first()
        return None if raw is None else cast(list, json.loads(raw))

    def save_image_text(self, content_hash: str, source: str, lines: list[dict]) -> None:
        with Session(self._writer) as s, s.begin():
            s.execute(delete(ImageText).where(ImageText.content_hash == content_hash, ImageText.source == source))
            s.add(ImageText(content_hash=content_hash, source=source,
                            lines=json.dumps(lines, ensure_ascii=False), created_at=now()))

    def transcript_of_file(self, file_id: int) -> dict | None:
        """The newest transcript of an indexed recording: source, language, text, segments."""
        with Session(self.engine) as s:
            row = s.scalars(
                select(Transcript)
                .join(MediaFile, MediaFile.content_hash == Transcript.content_hash)
                .where(MediaFile.id == file_id)
                .order_by(Transcript.id.desc())
            ).first()
            if row is None:
                return None
            return {"source": row.source, "language": row.language, "duration": row.duration,
                    "text": row.text, "segments": json.loads(row.segments)}
