"""The SQL schema. Changed only together with a migration under ``migrations/versions``."""

from __future__ import annotations

import os
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from searchengine.media.pathnames import display_path, has_undecodable
from searchengine.store.records import KIND_OF_MODALITY  # noqa: F401  (the default kind of a modality's units)


PG_ESCAPE = "\U0010ffff"  # a noncharacter: no real name holds it (and if one does, it is doubled)


def pg_encode_path(value: str) -> str:
    """A file name as PostgreSQL TEXT (UTF-8, no lone surrogates): each byte that is not
    UTF-8 (a surrogate U+DC80..U+DCFF from ``os.fsdecode``) becomes the escape character and
    two hex digits, the escape character itself is doubled. Lossless and injective, and a
    name that is valid UTF-8 without the escape character is stored as it is (so SQL
    filters on paths see the real name)."""
    if PG_ESCAPE not in value and not has_undecodable(value):
        return value
    out = []
    for ch in value:
        if ch == PG_ESCAPE:
            out.append(PG_ESCAPE * 2)
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"{PG_ESCAPE}{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ch)
    return "".join(out)


def pg_decode_path(value: str) -> str:
    if PG_ESCAPE not in value:
        return value
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch != PG_ESCAPE:
            out.append(ch)
            i += 1
        elif value[i + 1:i + 2] == PG_ESCAPE:
            out.append(PG_ESCAPE)
            i += 2
        else:
            out.append(chr(0xDC00 + int(value[i + 1:i + 3], 16)))
            i += 3
    return "".join(out)


class FsPath(TypeDecorator[str]):
    """A file name exactly as the OS gave it. A name that is valid UTF-8 is stored as TEXT;
    one with bytes that are not (lone surrogates from ``os.fsdecode``) is stored, on
    SQLite, as a BLOB of its raw bytes, which SQLite keeps as they are in any column, and on
    PostgreSQL as TEXT with those bytes escaped (:func:`pg_encode_path`). Lossless both
    ways, and an escaped or BLOB name never equals another name, so the unique constraint on
    paths still holds."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | bytes | None:
        if value is None:
            return None
        if dialect.name != "sqlite":
            return pg_encode_path(value)
        return os.fsencode(value) if has_undecodable(value) else value

    def process_result_value(self, value: object, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray, memoryview)):
            return os.fsdecode(bytes(value))
        return pg_decode_path(str(value)) if dialect.name != "sqlite" else str(value)


class SafeText(TypeDecorator[str]):
    """Text for people (error messages) that may quote a file name: undecodable bytes and
    control characters are stored escaped (see :func:`searchengine.media.pathnames.display_path`),
    never refused."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return display_path(value) if has_undecodable(value) else value


class Base(DeclarativeBase):
    pass


class Root(Base):
    """A folder (or file) the user asked to index; re-indexing with no paths walks these."""

    __tablename__ = "roots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(FsPath, unique=True)
    added_at: Mapped[datetime] = mapped_column(DateTime)


class MediaFile(Base):
    """One file on disk, indexed or failed."""

    __tablename__ = "media_files"
    # the failed ones are few: a partial index finds them without indexing every row
    __table_args__ = (Index("ix_media_files_failed", "status", sqlite_where=text("status != 'indexed'"),
                            postgresql_where=text("status != 'indexed'")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(FsPath, unique=True)
    modality: Mapped[str] = mapped_column(String(16), index=True)
    # not indexed: no query looks files up by hash (moves and copies are matched in memory,
    # transcripts are found from a file's id); an index cost 85 bytes an item
    content_hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16))  # "indexed" | "failed"
    error: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    indexed_at: Mapped[datetime] = mapped_column(DateTime)
    # the file's st_dev / st_ino when indexed (None for rows from before revision 0003): the
    # server serves a file only while it is still this one
    device: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    inode: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # photos and videos (revision 0008): when taken (UTC ns; None: the mtime is the date),
    # where (GPS, and the nearest place's names), with what camera; ``facts``: these were read
    taken_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    place: Mapped[str | None] = mapped_column(Text, nullable=True)
    camera: Mapped[str | None] = mapped_column(String(200), nullable=True)
    facts: Mapped[bool] = mapped_column(Boolean, server_default=false())

    units: Mapped[list["Unit"]] = relationship(
        back_populates="file", cascade="all, delete-orphan", passive_deletes=True
    )


UNIT_KINDS = ("image", "chunk", "window", "ocr", "frame", "sound", "place")
"""What a unit is: a whole image, a chunk of a text file (with its ``page`` where the file has
pages, slides or chapters), a window of a transcript, text read in an image (with its ``box``),
a key frame of a video (at ``start`` seconds), a sound event of a recording or a video's sound
track (from ``start`` to ``end`` seconds; ``text``: its labels, "Bark 狗叫; Dog 狗"), the names
of the place a photo was taken (its ``text``, embedded with the text encoder)."""



class Unit(Base):
    """An embedded unit (see :data:`UNIT_KINDS`). Its id is its FAISS id."""

    __tablename__ = "units"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(
        ForeignKey("media_files.id", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    start: Mapped[float | None] = mapped_column(Float, nullable=True)
    end: Mapped[float | None] = mapped_column(Float, nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    kind: Mapped[str] = mapped_column(String(16), server_default="image")
    # text read in an image: where, as JSON [x0, y0, x1, y1] in fractions of the width/height
    box: Mapped[str | None] = mapped_column(Text, nullable=True)
    # a document's page (1-based): a PDF page, a slide, an e-book chapter (see formats)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # float32 little-endian, L2-normalised: the FAISS index can always be rebuilt from these
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # a sound event's 521 class scores, float16 little-endian (revision 0009; None for other
    # kinds and for sound units indexed before it): the class-space evidence of the ranker
    scores: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    file: Mapped[MediaFile] = relationship(back_populates="units")


class IndexState(Base):
    """Key/value facts about the index, e.g. the write generation FAISS is checked against."""

    __tablename__ = "index_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RemovedUnit(Base):
    """The change log FAISS catches up from: a unit id removed at a generation. (Units
    added after a generation are those with a higher id: ids only grow.) Entries at or
    below the generation of the saved FAISS file are pruned when it is saved."""

    __tablename__ = "removed_units"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, index=True)
    unit_id: Mapped[int] = mapped_column(BigInteger)


class ImageText(Base):
    """The text read in an image (OCR), cached by content hash and by reader (``source``,
    e.g. ``ocr:ppocr``): ``lines`` is a JSON list of ``{"text", "box", "score"}``. An image
    with no text has an entry too (an empty list), so it is never read again."""

    __tablename__ = "image_texts"
    __table_args__ = (UniqueConstraint("content_hash", "source", name="uq_image_texts_hash_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(200))
    lines: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Transcript(Base):
    """The full transcript of a recording, cached by content hash (a moved or copied file is
    never transcribed again) and by source (``asr:base``, ``asr:tiny.en``, ``sidecar``)."""

    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("content_hash", "source", name="uq_transcripts_hash_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    duration: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    segments: Mapped[str] = mapped_column(Text)  # JSON list of [start, end, text]
    created_at: Mapped[datetime] = mapped_column(DateTime)
