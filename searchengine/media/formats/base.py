"""What a format is: a handler with its extensions, how its files are recognised (sniffing),
how one is decoded into passages with their locations, and its limits. Formats register in
:mod:`searchengine.media.formats.registry`; everything that lists kinds of file (the walk's
``modality_of``, CLI help, the HTTP schemas, the web page) reads them from there."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from searchengine.errors import MediaDecodeError, MediaTooLargeError
from searchengine.media.pathnames import display_path


@dataclass(frozen=True)
class Limits:
    """What one document may cost before it is refused (with a reason naming the file)."""

    max_bytes: int = 256 * 1024 * 1024  # the file itself
    max_unpacked: int = 512 * 1024 * 1024  # all members of a zip container, uncompressed
    max_ratio: float = 200.0  # a member's uncompressed / compressed size (zip bombs: ~1000x)
    max_members: int = 20_000
    max_chars: int = 16 * 1024 * 1024  # text extracted, all passages together
    max_pages: int = 5_000  # PDF pages, slides, chapters
    seconds: float = 120.0  # wall time to decode one file


DEFAULT_LIMITS = Limits()


@dataclass
class Section:
    """A stretch of a document chunked on its own (passages never cross sections): a PDF
    page, a slide, a chapter, or the whole text. ``page`` is its 1-based number where the
    format has pages (PDF pages, slides, EPUB chapters), else None. A page with no text
    layer carries its ``image`` instead, for the OCR to read."""

    text: str
    page: int | None = None
    image: Any = None  # PIL.Image.Image of a scanned page


@dataclass(frozen=True)
class Format:
    """One kind of file.

    ``modality``: what its files are indexed as (``image``, ``text``, ``audio``, ``video``).
    ``extensions``: lower-case, with the dot. ``sniff``: given the first bytes, whether the
    file really is of this format (None: trust the extension). ``read``: a document's
    sections (text formats only; None for media the decoder handles itself). ``location``:
    what ``page`` means for it ("page", "slide", "chapter"), or None. ``mime``: for serving."""

    name: str
    modality: str
    extensions: tuple[str, ...]
    read: Callable[[Path, "Budget"], list[Section]] | None = None
    sniff: Callable[[bytes], bool] | None = None
    location: str | None = None
    mime: str = "application/octet-stream"
    description: str = ""


@dataclass
class Budget:
    """The limits of one file's decode, and the clock it runs against."""

    path: Path
    limits: Limits = DEFAULT_LIMITS
    started: float = field(default_factory=time.monotonic)
    chars: int = 0

    @property
    def name(self) -> str:
        return display_path(self.path)

    def check_time(self) -> None:
        spent = time.monotonic() - self.started
        if spent > self.limits.seconds:
            raise MediaTooLargeError(
                f"{self.name}: reading took over the limit of {self.limits.seconds:g} s a file; "
                "stopped and not indexed")

    def add_chars(self, n: int) -> None:
        self.chars += n
        if self.chars > self.limits.max_chars:
            raise MediaTooLargeError(
                f"{self.name}: more than {self.limits.max_chars:,} characters of text; not indexed "
                "(a dump, not a document)")

    def check_pages(self, n: int, what: str = "pages") -> None:
        if n > self.limits.max_pages:
            raise MediaTooLargeError(
                f"{self.name}: {n:,} {what}, over the limit of {self.limits.max_pages:,}; not indexed")

    def refuse(self, reason: str) -> MediaDecodeError:
        return MediaDecodeError(f"{self.name}: {reason}")


def password_protected(budget: Budget) -> MediaDecodeError:
    return budget.refuse("password-protected: skipped")
