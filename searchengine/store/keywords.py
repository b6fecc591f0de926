"""The keyword index: SQLite FTS5 with the trigram tokenizer over each unit's text (chunks,
transcript windows) and its file's name, so that words, product codes, order numbers and
Chinese substrings (no spaces needed) are found as written. One row a unit, ``rowid`` =
the unit id; written in the same transaction as the units (see the repository).

On PostgreSQL the same table (``rowid`` = the unit id, ``text``, ``name``) is a plain table
with ``pg_trgm`` GIN indexes on both columns (migration 0005): ``ILIKE '%word%'`` uses them,
and relevance is BM25's term-frequency part with length normalisation (no IDF), see
:func:`search_server`.

Query syntax: words are matched anywhere (any of them); a ``"quoted phrase"`` must occur as
written. Chinese written without spaces is cut into its words first ("揉纸的声音" -> 揉纸,
声音: :mod:`searchengine.store.chinese_terms`); the run as written is still highlighted
whole where it occurs. Terms of three characters or more use the trigram index; shorter
ones (a two-character Chinese word) are matched by a scan of the index's rows.

Words of letters match whole words ("out" is not in "about"), and also as one of the words of
a longer token they were run together in ("caravan" and "route" in "caravanroute", as a text
reader often reads a line: :mod:`searchengine.store.joined_words`); a quoted phrase of such
words (or a hyphenated word) is also looked for with each space or hyphen between its words
written the other ways - "lower-case", "lower case", "lowercase" (:func:`forms`). The stored
text is never changed: highlights are spans of it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # SQLAlchemy is imported by the functions that write or ask PostgreSQL:
    # a search on the folder's SQLite file runs :func:`fts_query` through the sqlite3 module
    from sqlalchemy import Select
    from sqlalchemy.engine import Connection

from searchengine.store import chinese_terms, joined_words

TABLE = "units_fts"
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|「([^」]+)」')
_SPLIT = re.compile(r"[\s,;:!?。，、；：！？()\[\]{}<>]+")


@dataclass(frozen=True)
class KeywordQuery:
    phrases: tuple[str, ...]  # must all occur
    terms: tuple[str, ...]  # any may occur
    whole: tuple[str, ...] = ()  # Chinese runs as written, cut into ``terms``: highlighted whole
    weak: tuple[str, ...] = ()  # terms that are bound characters (响 in 闹钟响了): half a word in coverage

    def __bool__(self) -> bool:
        return bool(self.phrases or self.terms)

    @property
    def needles(self) -> tuple[str, ...]:
        """What to highlight in a hit."""
        return self.phrases + self.terms + self.whole


# Words that carry no keyword meaning: left to the vector side (which reads them as language).
STOP_WORDS = frozenset("""a an and are as at be but by for from has have in into is it its of on or
that the their there this to was were what when where which who with without""".split())


_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def unquoted(query: str) -> str:
    """``query`` with its quotation marks taken out (its phrases become plain words)."""
    return _QUOTED.sub(lambda m: " " + next(g for g in m.groups() if g is not None) + " ", query)


def parse_query(query: str) -> KeywordQuery:
    query = _NOT_TEXT.sub("", query)  # control characters, lone surrogates (JSON escapes): not words
    phrases = tuple(p.strip() for m in _QUOTED.finditer(query) for p in m.groups() if p and p.strip())
    rest = _QUOTED.sub(" ", query)
    terms = [t.strip(".'-_") for t in _SPLIT.split(rest)]
    whole = [t for t in terms if chinese_terms.HAN_RUN.search(t)]
    terms = [w for t in terms for w in (chinese_terms.words(t) if t in whole else [t])]
    # CJK words of any length; others of 3 characters or more (one or two Latin letters match
    # nearly every text) and not stop words; digits count ("42" in an order number)
    terms = [t for t in terms if t and (_cjk(t) or (len(t) >= 3 and t.casefold() not in STOP_WORDS)
                                        or (len(t) >= 2 and any(c.isdigit() for c in t)))]
    terms = list(dict.fromkeys(terms))
    bound = set().union(*(chinese_terms.bound_characters(t) for t in whole)) if whole else set()
    free = {w for t in whole for w in chinese_terms.words(t)} - bound if bound else set()
    weak = tuple(t for t in terms if t in bound and t not in free and len(terms) > 1)
    return KeywordQuery(phrases, tuple(terms), tuple(w for w in dict.fromkeys(whole) if w not in terms), weak)


def _cjk(term: str) -> bool:
    return any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in term)


def file_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def add(conn: Connection, rows: Sequence[tuple[int, str | None, str]]) -> None:
    """Index units: (unit id, its text or None, its file's name)."""
    from sqlalchemy import text as sql_text

    if rows:
        conn.execute(sql_text(f"INSERT INTO {TABLE} (rowid, text, name) VALUES (:id, :text, :name)"),
                     [{"id": i, "text": t or "", "name": n} for i, t, n in rows])


def remove(conn: Connection, unit_ids: Sequence[int]) -> None:
    from sqlalchemy import text as sql_text

    ids = list(unit_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        conn.execute(sql_text(f"DELETE FROM {TABLE} WHERE rowid IN ({','.join(str(int(u)) for u in chunk)})"))


def rename(conn: Connection, unit_ids: Sequence[int], name: str) -> None:
    from sqlalchemy import text as sql_text

    ids = [int(u) for u in unit_ids]
    if ids:
        conn.execute(sql_text(f"UPDATE {TABLE} SET name = :name WHERE rowid IN ({','.join(map(str, ids))})"),
                     {"name": name})


def _fts_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


_LATIN = "A-Za-z\u00c0-\u024f"
_JOINERS = " \u2010\u2011-"  # a space, a hyphen, a non-breaking hyphen, a hyphen-minus (last: a class's literal)
# one space or hyphen between Latin letters: a compound is written three ways ("lower-case",
# "lower case", "lowercase"; a speech recogniser and a reader of signs pick any of them)
_GAP = re.compile(f"(?<=[{_LATIN}])[{_JOINERS}](?=[{_LATIN}])")
MAX_JOINS = 4  # joins of a phrase that may be written otherwise in the text
MAX_THREE_WAY = 3  # joins written all three ways (3^3 forms); up to MAX_JOINS, only left out (2^4)


def forms(needle: str) -> list[str]:
    """``needle`` as written and, for a phrase (or hyphenated word) of Latin-script words,
    with each space or hyphen between its words written the other ways - a space, a hyphen,
    or left out - in every combination ("lower-case": "lower case", "lowercase"; "caravan
    route": "caravanroute"), so that the trigram index finds text that writes the compound
    otherwise or whose words were run together; the exact test (:func:`matches`) then
    decides. The form as written comes first."""
    gaps = [m.start() for m in _GAP.finditer(needle)]
    if not gaps or len(gaps) > MAX_JOINS:
        return [needle]
    ways = ("", " ", "-") if len(gaps) <= MAX_THREE_WAY else ("",)
    choices = [(needle[at],) + tuple(w for w in ways if w != needle[at]) for at in gaps]
    out = []
    for picked in itertools.product(*choices):
        chars = list(needle)
        for at, sep in zip(gaps, picked):
            chars[at] = sep
        out.append("".join(chars))
    return out


def _fts_needle(needle: str) -> str:
    variants = [_fts_string(f) for f in forms(needle) if len(f) >= 3]  # the trigram index holds no shorter
    return variants[0] if len(variants) == 1 else "(" + " OR ".join(variants) + ")"


def search(conn: Connection, query: KeywordQuery, limit: int, allowed_sql: str = "") -> list[tuple[int, float]]:
    """(unit id, relevance) best first: BM25 over the trigram index (higher is better).
    With phrases, every phrase must occur; else any term. ``allowed_sql``: an extra SQL
    condition on ``rowid`` (e.g. ``rowid IN (SELECT ...)``)."""
    statement = fts_query(query, limit, allowed_sql)
    if statement is None:
        return []
    # straight to sqlite3 (its :name parameters): a condition compiled with literal values may
    # hold a colon inside a string, which SQLAlchemy's text() would take for a parameter
    return relevances(conn.exec_driver_sql(*statement).fetchall())


def relevances(rows: Sequence[Any]) -> list[tuple[int, float]]:
    """(unit id, relevance) of the rows of :func:`fts_query`'s statement."""
    return [(int(r[0]), -float(r[1])) for r in rows]


def fts_query(query: KeywordQuery, limit: int, allowed_sql: str = "") -> tuple[str, dict[str, Any]] | None:
    """The SQLite statement of :func:`search` and its named parameters (None: nothing to
    look for), run as it is by SQLAlchemy or by the sqlite3 module."""
    if not query:
        return None
    needles = list(query.phrases) if query.phrases else list(query.terms)
    required = bool(query.phrases)
    long = [n for n in needles if len(n) >= 3]
    short = [n for n in needles if len(n) < 3]
    if not required and long:
        short = []  # a MATCH cannot be OR-ed with other conditions; the long terms suffice
    binds: dict[str, Any] = {"limit": int(limit)}
    where = []
    if long:
        binds["match"] = (" AND " if required else " OR ").join(_fts_needle(n) for n in long)
        where.append(f"{TABLE} MATCH :match")
    likes = []
    for j, needle in enumerate(short):  # the trigram index cannot hold these: a scan
        binds[f"like{j}"] = f"%{_escape_like(needle)}%"
        likes.append(f"(text LIKE :like{j} ESCAPE '\\' OR name LIKE :like{j} ESCAPE '\\')")
    if likes:
        where.append("(" + (" AND " if required else " OR ").join(likes) + ")")
    if allowed_sql:
        where.append(allowed_sql)
    relevance = f"bm25({TABLE})" if long else "0"
    return (f"SELECT rowid, {relevance} AS r FROM {TABLE} WHERE {' AND '.join(where)} ORDER BY r, rowid LIMIT :limit",
            binds)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@lru_cache(maxsize=256)
def _pattern(needle: str) -> re.Pattern[str]:
    """How a needle matches text: a word of letters (Latin, Cyrillic ...) only as a whole
    word - "out" is not in "about" -, codes, numbers and CJK text anywhere."""
    # a space or hyphen between Latin letters matches either, or nothing (see :func:`forms`)
    body = f"[{_JOINERS}]?".join(re.escape(part) for part in _GAP.split(needle))
    if needle[:1].isalpha() and not _cjk(needle[:1]):
        body = r"(?<![^\W_])" + body  # not after a letter or digit ("_" separates, as in names)
    if needle[-1:].isalpha() and not _cjk(needle[-1:]):
        body = body + r"(?![^\W_])"
    return re.compile(body, re.IGNORECASE)


def _spans(needle: str, text: str) -> list[tuple[int, int]]:
    """Where ``needle`` occurs in ``text`` (:func:`_pattern`); where it does not, where it
    occurs once the text's joined words are written apart ("caravan" and "caravan route" in
    "caravanroute": :func:`searchengine.store.joined_words.find`), as spans of ``text``."""
    pattern = _pattern(needle)
    spans = [m.span() for m in pattern.finditer(text)]
    if spans or _cjk(needle) or not any(ch.isalpha() for ch in needle):
        return spans
    return list(_joined_spans(needle, text))


@lru_cache(maxsize=2048)  # a candidate's text is tested for a needle up to three times a query
def _joined_spans(needle: str, text: str) -> tuple[tuple[int, int], ...]:
    return tuple(joined_words.find(needle, text, _pattern(needle)))


def _occurs(needle: str, hay: str) -> bool:
    return bool(_spans(needle, hay))


def matches(text: str | None, name: str, query: KeywordQuery) -> bool:
    """The exact test of a keyword candidate (the trigram index finds substrings): every
    phrase occurs, or (no phrases) any term does, in the text or the file name (a word also
    as one of the words of a longer token they were run together in: :func:`_spans`)."""
    hay = f"{text or ''}\n{name}"
    if query.phrases:
        return all(_occurs(p, hay) for p in query.phrases)
    return any(_occurs(t, hay) for t in query.terms)


WEAK_WEIGHT = 0.5  # a bound character counts for half a word


def coverage(text: str | None, name: str, query: KeywordQuery) -> float:
    """The share of the query's words (terms) that occur in the text or the file name; 1.0
    for a query of phrases alone (a candidate holds them all). A bound Chinese character
    (响 in 闹钟响了, 声 in 快门声: :func:`chinese_terms.cut_marked`) counts for half a word:
    it is part of many longer words (闷响, 哔哔声), so a unit holding it alone holds a third
    of 闹钟响了, not half, and gets no keyword credit for it (MIN_COVERAGE)."""
    if not query.terms:
        return 1.0
    hay = f"{text or ''}\n{name}"
    weak = set(query.weak)
    weights = [WEAK_WEIGHT if t in weak else 1.0 for t in query.terms]
    found = sum(w for t, w in zip(query.terms, weights) if _occurs(t, hay))
    return found / sum(weights)


def highlights(text: str | None, query: KeywordQuery) -> list[tuple[int, int]]:
    """Character spans of the query's words and phrases in ``text`` (case-insensitive, on
    the original text), merged where they overlap."""
    if not text or not query:
        return []
    spans = sorted(span for needle in query.needles for span in _spans(needle, text))
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        elif b > a:
            merged.append((a, b))
    return merged


BM25_K1, BM25_B, AVG_CHARS = 1.2, 0.75, 400.0  # AVG_CHARS: a text chunk's usual length


def search_server(conn: Connection, query: KeywordQuery, limit: int, allowed: Select | None = None
                  ) -> list[tuple[int, float]]:
    """:func:`search` on PostgreSQL: the needles found with ``ILIKE`` (the trigram indexes
    answer needles of three characters or more), ranked by the sum over the needles of
    BM25's saturated term frequency, ``tf / (tf + k1 * (1 - b + b * len / avg))``, where tf
    counts the needle's occurrences in the text and name (case-folded). ``allowed``: a
    subquery of the unit ids the filters allow."""
    from sqlalchemy import Float, and_, cast, column, false, func, literal, or_, select, table
    from sqlalchemy.sql.expression import ColumnElement

    if not query:
        return []
    needles = list(query.phrases) if query.phrases else list(query.terms)
    required = bool(query.phrases)
    t = table(TABLE, column("rowid"), column("text"), column("name"))
    found = [or_(*(c.ilike(f"%{_escape_like(f)}%", escape="\\") for f in forms(n) for c in (t.c.text, t.c.name)))
             for n in needles]
    hay = func.lower(t.c.text + literal(" ") + t.c.name)
    length = cast(func.length(hay), Float)
    norm = literal(BM25_K1) * (literal(1 - BM25_B) + literal(BM25_B) * length / literal(AVG_CHARS))
    score: ColumnElement[float] = literal(0.0)
    for n in needles:
        tf: ColumnElement[float] = literal(0.0)
        for form in forms(n):  # the phrase as written, or its words run together
            folded = form.casefold()
            tf = tf + (length - cast(func.length(func.replace(hay, folded, "")), Float)) / literal(float(max(len(folded), 1)))
        score = score + tf / (tf + norm)
    where = and_(*found) if required else or_(*found) if found else false()
    stmt = select(t.c.rowid, score.label("r")).where(where)
    if allowed is not None:
        stmt = stmt.where(t.c.rowid.in_(allowed.scalar_subquery()))
    rows = conn.execute(stmt.order_by(score.desc(), t.c.rowid).limit(int(limit))).all()
    return [(int(r[0]), float(r[1])) for r in rows]
