"""The one list of formats. Adding a format: a module with its :class:`Format` (see
:mod:`searchengine.media.formats.base`) and one line here."""

from __future__ import annotations

from pathlib import Path

from searchengine.media.formats import docx, epub, html, media, odt, pdf, plain, pptx, raw, rtf
from searchengine.media.formats.base import Format

FORMATS: tuple[Format, ...] = (
    media.IMAGES,
    raw.FORMAT,
    plain.FORMAT,
    pdf.FORMAT,
    docx.FORMAT,
    pptx.FORMAT,
    odt.FORMAT,
    epub.FORMAT,
    html.FORMAT,
    rtf.FORMAT,
    media.AUDIO,
    media.VIDEO,
)

MODALITIES: tuple[str, ...] = tuple(dict.fromkeys(f.modality for f in FORMATS))
_BY_EXTENSION: dict[str, Format] = {}
for _f in FORMATS:
    for _ext in _f.extensions:
        assert _ext not in _BY_EXTENSION, f"{_ext} is claimed by {_BY_EXTENSION[_ext].name} and {_f.name}"
        _BY_EXTENSION[_ext] = _f


def format_of(path: Path | str) -> Format | None:
    """The format a file is read as (by its extension), or None for a file we skip."""
    return _BY_EXTENSION.get(Path(path).suffix.lower())


def modality_of(path: Path) -> str | None:
    """The modality a file is indexed as, or None for a file we skip."""
    f = format_of(path)
    return f.modality if f is not None else None


def extensions(modality: str) -> frozenset[str]:
    return frozenset(e for f in FORMATS if f.modality == modality for e in f.extensions)


def described() -> str:
    """The kinds of file, for help texts: ``image (.jpg, ...), text (.txt, .pdf, ...)``."""
    return "; ".join(f"{m}: {' '.join(sorted(extensions(m)))}" for m in MODALITIES)
