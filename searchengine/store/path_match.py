"""Path conditions that compile for SQLite and PostgreSQL alike: a glob (SQLite's ``GLOB``;
on PostgreSQL a case-sensitive ``LIKE`` that matches the same names) and a prefix range
(compared byte-wise on PostgreSQL, ``COLLATE "C"``, as SQLite compares)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, literal

PREFIX_END = "\U0010ffff"


class PathGlob(ColumnElement[bool]):
    """``column`` matches the SQLite GLOB ``pattern`` (``*``, ``?``, and ``[[]`` for a
    literal ``[``: what :func:`searchengine.query.filters.sqlite_glob` makes)."""

    type = Boolean()
    inherit_cache = True

    def __init__(self, column: Any, pattern: str):
        self.column, self.pattern = column, pattern


class PathRange(ColumnElement[bool]):
    """``prefix <= column < prefix + U+10FFFF``: every name starting with ``prefix``."""

    type = Boolean()
    inherit_cache = True

    def __init__(self, column: Any, prefix: str):
        self.column, self.prefix = column, prefix


def like_of_glob(pattern: str) -> str:
    """The LIKE pattern (escape ``\\``) of an SQLite GLOB pattern."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("[[]", i):
            out.append("[")
            i += 3
            continue
        ch = pattern[i]
        out.append("%" if ch == "*" else "_" if ch == "?" else "\\" + ch if ch in "%_\\" else ch)
        i += 1
    return "".join(out)


@compiles(PathGlob)
def _glob_sqlite(element: PathGlob, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.column, **kw)} GLOB {compiler.process(literal(element.pattern, element.column.type), **kw)})"


@compiles(PathGlob, "postgresql")
def _glob_postgresql(element: PathGlob, compiler: Any, **kw: Any) -> str:
    return (f"({compiler.process(element.column, **kw)} LIKE "
            f"{compiler.process(literal(like_of_glob(element.pattern), element.column.type), **kw)} ESCAPE '\\')")


@compiles(PathRange)
def _range_sqlite(element: PathRange, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.column, **kw)
    return (f"({col} >= {compiler.process(literal(element.prefix, element.column.type), **kw)} AND "
            f"{col} < {compiler.process(literal(element.prefix + PREFIX_END, element.column.type), **kw)})")


@compiles(PathRange, "postgresql")
def _range_postgresql(element: PathRange, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.column, **kw) + ' COLLATE "C"'
    return (f"({col} >= {compiler.process(literal(element.prefix, element.column.type), **kw)} AND "
            f"{col} < {compiler.process(literal(element.prefix + PREFIX_END, element.column.type), **kw)})")
