"""The SQL schema. Changed only together with a migration under ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Root(Base):
    """A folder (or file) the user asked to index; re-indexing with no paths walks these."""

    __tablename__ = "roots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String, unique=True)
    added_at: Mapped[datetime] = mapped_column(DateTime)


class MediaFile(Base):
    """One file on disk, indexed or failed."""

    __tablename__ = "media_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String, unique=True)
    modality: Mapped[str] = mapped_column(String(16), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)  # "indexed" | "failed"
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    indexed_at: Mapped[datetime] = mapped_column(DateTime)

    units: Mapped[list["Unit"]] = relationship(
        back_populates="file", cascade="all, delete-orphan", passive_deletes=True
    )


class Unit(Base):
    """An embedded unit: a whole image, a text chunk. Its id is its FAISS id."""

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
    # float32 little-endian, L2-normalised: the FAISS index can always be rebuilt from these
    vector: Mapped[bytes] = mapped_column(LargeBinary)

    file: Mapped[MediaFile] = relationship(back_populates="units")


class IndexState(Base):
    """Key/value facts about the index, e.g. the write generation FAISS is checked against."""

    __tablename__ = "index_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


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
