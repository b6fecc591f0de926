"""Reading zip-based documents (DOCX, PPTX, ODT, EPUB) and their XML safely: member count,
total unpacked size and compression ratio are checked before anything is inflated, and
inflating stops at the declared size whatever the header claims (a zip bomb lies in its
headers); XML is parsed with defusedxml (no entity declarations, no external entities: the
"billion laughs" is refused, not expanded)."""

from __future__ import annotations

import zipfile
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from searchengine.errors import MediaDecodeError, MediaTooLargeError
from searchengine.media.formats.base import Budget, password_protected
from searchengine.media.regular import open_regular

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted OOXML file is an OLE container


def is_zip(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


class Container:
    """An open zip document; use as a context manager."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self._handle: Any = None
        self.zip: zipfile.ZipFile | None = None

    def __enter__(self) -> "Container":
        b = self.budget
        try:
            self._handle = open_regular(b.path)
            head = self._handle.read(8)
            if head.startswith(OLE_MAGIC):
                raise password_protected(b)  # (or a pre-2007 binary file; either way unreadable)
            if not is_zip(head):
                raise b.refuse("not a zip container (damaged, or not this kind of document)")
            self._handle.seek(0, 2)
            size = self._handle.tell()
            if size > b.limits.max_bytes:
                raise MediaTooLargeError(f"{b.name}: larger than the limit of {b.limits.max_bytes:,} bytes; not indexed")
            self._count_members(size)  # before zipfile reads a central directory of any size
            self._handle.seek(0)
            self.zip = zipfile.ZipFile(self._handle)
        except MediaDecodeError:
            self.close()
            raise
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            self.close()
            raise b.refuse(f"damaged zip container: {exc}") from exc
        self._check(self.zip.infolist())
        return self

    def _count_members(self, size: int) -> None:
        """Refuse a container whose end record declares too many members (zip64 included)."""
        tail_at = max(0, size - 65_557)  # the end record, and a comment of at most 64 KiB
        self._handle.seek(tail_at)
        tail = self._handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            return  # zipfile says what is wrong
        count = int.from_bytes(tail[at + 10:at + 12], "little")
        locator = tail.rfind(b"PK\x06\x07", 0, at)
        if count == 0xFFFF and locator >= 0:
            self._handle.seek(int.from_bytes(tail[locator + 8:locator + 16], "little"))
            record = self._handle.read(56)
            if record[:4] == b"PK\x06\x06":
                count = int.from_bytes(record[32:40], "little")
        if count > self.budget.limits.max_members:
            raise MediaTooLargeError(f"{self.budget.name}: {count:,} members in the zip container, over the "
                                     f"limit of {self.budget.limits.max_members:,}; refused (zip bomb?)")

    def _check(self, infos: list[zipfile.ZipInfo]) -> None:
        b, lim = self.budget, self.budget.limits
        if len(infos) > lim.max_members:
            raise MediaTooLargeError(f"{b.name}: {len(infos):,} members in the zip container, over the "
                                     f"limit of {lim.max_members:,}; refused (zip bomb?)")
        total = sum(i.file_size for i in infos)
        if total > lim.max_unpacked:
            raise MediaTooLargeError(f"{b.name}: unpacks to {total:,} bytes, over the limit of "
                                     f"{lim.max_unpacked:,}; refused (zip bomb?)")
        for i in infos:
            if i.flag_bits & 0x1:
                raise password_protected(b)
            if i.file_size > 1_000_000 and i.file_size > lim.max_ratio * max(i.compress_size, 1):
                raise MediaTooLargeError(
                    f"{b.name}: member {i.filename!r} is compressed {i.file_size / max(i.compress_size, 1):,.0f}:1, "
                    f"over the limit of {lim.max_ratio:g}:1; refused (zip bomb)")

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()
        if self._handle is not None:
            self._handle.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def names(self) -> list[str]:
        assert self.zip is not None
        return self.zip.namelist()

    def read(self, name: str) -> bytes:
        """A member's bytes, inflated no further than its declared size (and the limits)."""
        assert self.zip is not None
        b = self.budget
        try:
            info = self.zip.getinfo(name)
        except KeyError as exc:
            raise b.refuse(f"member {name!r} is missing from the container") from exc
        b.check_time()
        cap = min(info.file_size, b.limits.max_unpacked)
        try:
            with self.zip.open(info) as member:
                data = member.read(cap + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise b.refuse(f"member {name!r} cannot be read: {exc}") from exc
        except RuntimeError as exc:  # "File is encrypted, password required"
            raise password_protected(b) from exc
        if len(data) > cap:
            raise MediaTooLargeError(f"{b.name}: member {name!r} unpacks past its declared size; refused (zip bomb)")
        return data

    def xml(self, name: str) -> Element:
        return parse_xml(self.read(name), self.budget, name)


def parse_xml(data: bytes, budget: Budget, what: str = "XML") -> Element:
    """Parse with entity declarations and external references forbidden."""
    try:
        return safe_xml.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise budget.refuse(f"{what}: XML entity declarations refused ({type(exc).__name__}; "
                            "an entity-expansion bomb?)") from exc
    except safe_xml.ParseError as exc:
        raise budget.refuse(f"{what}: malformed XML: {exc}") from exc


def local(tag: str) -> str:
    """The local part of a ``{namespace}tag``."""
    return tag.rsplit("}", 1)[-1]
