"""Saved web pages (.html, .htm, .xhtml): the main text - inside ``<main>`` or ``<article>``
when the page has one - without navigation, scripts, styles, headers, footers and forms."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from searchengine.media.formats.base import Budget, Format, Section
from searchengine.media.regular import read_bounded

# elements whose content is never the page's text
_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "nav", "footer", "header", "aside",
                   "form", "button", "select", "iframe", "head", "menu", "dialog", "canvas", "object"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                   "source", "track", "wbr"})
_BLOCK = frozenset({"p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "td", "th",
                    "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "dd", "dt", "dl", "figure",
                    "figcaption", "br", "hr", "body", "title"})
_MAIN = ("main", "article")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_MAX_DEPTH = 2000


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.skip = 0  # depth inside skipped elements
        self.all: list[str] = []
        self.main: list[str] = []
        self.in_main = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag in _BLOCK:
                self._out("\n")
            return
        if len(self.stack) >= _MAX_DEPTH:
            return
        self.stack.append(tag)
        hidden = any(k == "hidden" or (k == "aria-hidden" and v == "true") for k, v in attrs)
        if tag in _SKIP or hidden or self.skip:
            self.skip += 1
        if tag in _MAIN and not self.skip:
            self.in_main += 1
        if tag in _BLOCK:
            self._out("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or tag not in self.stack:
            return
        while self.stack:  # close what was left open inside it
            open_tag = self.stack.pop()
            if self.skip:
                self.skip -= 1
            elif open_tag in _MAIN and self.in_main:
                self.in_main -= 1
            if open_tag == tag:
                break
        if tag in _BLOCK:
            self._out("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self._out(data)

    def _out(self, s: str) -> None:
        self.all.append(s)
        if self.in_main:
            self.main.append(s)


def _tidy(parts: list[str]) -> str:
    text = "".join(parts)
    text = re.sub(r"[^\S\n]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def decode_bytes(raw: bytes) -> str:
    m = _CHARSET.search(raw[:4096])
    for encoding in ([m.group(1).decode("ascii", "replace")] if m else []) + ["utf-8-sig", "cp1252"]:
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("latin-1")


def main_text(markup: str) -> str:
    """The page's main text, paragraphs separated by blank lines."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    main = _tidy(parser.main)
    return main if main else _tidy(parser.all)


def read(path: Path, budget: Budget) -> list[Section]:
    text = main_text(decode_bytes(read_bounded(path, min(budget.limits.max_bytes, 64 * 1024 * 1024))))
    budget.add_chars(len(text))
    return [Section(text)]


FORMAT = Format("html", "text", (".html", ".htm", ".xhtml"), read=read, mime="text/html",
                description="saved web page")
