"""Latin-script words written (or read) without the space between them: "caravanroute",
"HarbourStreetBakery", "BankofChina". A text reader often drops a narrow space, and such a
token holds none of its words as a whole word, so the keyword side's whole-word test
(:func:`searchengine.store.keywords.matches`) would never find "caravan" or "route" in it.

:func:`split` cuts such a token into dictionary words: first at its capitals (a lower-case
letter followed by a capital), then each part that is not itself a word by dynamic
programming over the dictionary, preferring the fewest pieces and, among as many, the longest
(the sum of the squares of their lengths): "caravanroute" -> caravan / route, never cara /
van / route. A token that is a word itself is never cut ("startup", "heartbeat"), nor one that
cannot be covered wholly by words (a serial number, a misreading: "OFHICE"). The dictionary is
the one the text-in-images language judge uses (:func:`searchengine.ocr.language.english_words`:
BERT's uncased whole words of 3 letters or more), plus a few short function words (of, to,
in ...) that sit between words on signs ("BankofChina").

:func:`spelled_apart` gives a text with its joined tokens written apart, and where each of its
characters came from in the original, so that a match found there is highlighted on the text
as it is stored and shown (the stored text is never changed). Nothing here runs unless a query
word occurs inside a longer token (see ``keywords``), and the word list loads then, once.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

log = logging.getLogger(__name__)

MIN_TOKEN = 5  # letters: a shorter token is not cut (two words of 3 and 2 letters at least)
MAX_TOKEN = 48  # letters: a longer run is not language (and the cut is quadratic)
MAX_PIECE = 24  # letters in one dictionary word looked for
# words of one or two letters that may stand between dictionary words (the dictionary holds
# words of 3 letters or more): function words only, so that a token is not covered by
# fragments ("cara van" needs none of them, "bankof" needs "of")
SHORT_WORDS = frozenset("of in to on at by an or is it as be up no we my us go do so if".split())

_LETTER = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"  # Latin-script letters
_TOKEN = re.compile(f"[{_LETTER}]+")
_SPACE = re.compile(r"\s+")

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


@lru_cache(maxsize=8192)
def fold(word: str) -> str:
    """Lower case without accents, as the dictionary is written."""
    return "".join(ch for ch in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(ch))


def _dictionary() -> frozenset[str] | None:
    try:
        from searchengine.ocr.language import english_words

        return english_words()
    except Exception as exc:  # the word list is missing: joined words stay as written
        log.debug("joined words are not split (%s)", exc)
        return None


def split(token: str, words: frozenset[str] | None = None, prefer: frozenset[str] = frozenset()
          ) -> list[str] | None:
    """The dictionary words ``token`` (letters only) is made of, as written in it (case kept),
    or None when it is a word itself, too short or long, or not wholly made of words.
    ``prefer``: words (folded) that break a tie between cuts into as many pieces: the words
    of a query ("lighthousekeeper" is light / housekeeper or lighthouse / keeper; asked for
    "lighthouse", the second); they count as dictionary words, but a cut into more pieces
    is never taken for them ("caravanroute" holds no "van")."""
    if not (MIN_TOKEN <= len(token) <= MAX_TOKEN) or not _TOKEN.fullmatch(token):
        return None
    dictionary = _dictionary() if words is None else words
    if dictionary is None:
        return None
    return _split(token, dictionary, prefer)


def _split(token: str, dictionary: frozenset[str], prefer: frozenset[str] = frozenset()) -> list[str] | None:
    if fold(token) in dictionary:
        return None
    pieces: list[str] = []
    for part in _CAMEL.split(token):
        if _is_word(part, dictionary):
            pieces.append(part)
            continue
        cut = _cut(part, dictionary, prefer)
        if cut is None:
            return None
        pieces.extend(cut)
    return pieces if len(pieces) >= 2 else None


def _is_word(part: str, dictionary: frozenset[str]) -> bool:
    folded = fold(part)
    return folded in dictionary or folded in SHORT_WORDS


def _cut(part: str, dictionary: frozenset[str], prefer: frozenset[str] = frozenset()) -> list[str] | None:
    """Fewest dictionary words covering ``part``, then the most of ``prefer``, then the
    longest; None if none covers it."""
    folded = fold(part)
    if len(folded) != len(part):  # a letter that folds to two: cut nothing
        return None
    n = len(folded)
    # best[i]: (pieces, -preferred pieces, -sum of squared lengths, where the last piece
    # starts) for folded[:i]
    best: list[tuple[int, int, int, int] | None] = [None] * (n + 1)
    best[0] = (0, 0, 0, 0)
    for end in range(1, n + 1):
        for start in range(max(0, end - MAX_PIECE), end):
            before = best[start]
            if before is None:
                continue
            piece = folded[start:end]
            preferred = piece in prefer
            if not preferred and piece not in SHORT_WORDS and (len(piece) < 3 or piece not in dictionary):
                continue
            cand = (before[0] + 1, before[1] - preferred, before[2] - len(piece) ** 2, start)
            if best[end] is None or cand[:3] < best[end][:3]:  # type: ignore[index]
                best[end] = cand
    if best[n] is None:
        return None
    out: list[str] = []
    end = n
    while end > 0:
        start = best[end][3]  # type: ignore[index]
        out.append(part[start:end])
        end = start
    return out[::-1]


@lru_cache(maxsize=4096)
def _split_cached(token: str, prefer: frozenset[str]) -> tuple[str, ...] | None:
    pieces = split(token, prefer=prefer)
    return tuple(pieces) if pieces else None


def spelled_apart(text: str, prefer: frozenset[str] = frozenset()) -> tuple[str, list[int]] | None:
    """``text`` with each joined token written as its words (:func:`split`, ``prefer`` as
    there), a space between them, and for each character of that text its offset in
    ``text`` (an inserted space: the offset of the character after it); None when ``text``
    holds no joined token."""
    out: list[str] = []
    offsets: list[int] = []
    last = 0
    changed = False
    for m in _TOKEN.finditer(text):
        pieces = _split_cached(m.group(), prefer) if len(m.group()) >= MIN_TOKEN else None
        if not pieces:
            continue
        changed = True
        out.append(text[last:m.start()])
        offsets.extend(range(last, m.start()))
        at = m.start()
        for j, piece in enumerate(pieces):
            if j:
                out.append(" ")
                offsets.append(at)
            out.append(piece)
            offsets.extend(range(at, at + len(piece)))
            at += len(piece)
        last = m.end()
    if not changed:
        return None
    out.append(text[last:])
    offsets.extend(range(last, len(text)))
    return "".join(out), offsets


def find(needle: str, text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` where ``needle`` (a word or a phrase of Latin-script words, which
    ``pattern`` matches as written) occurs as words of joined tokens: a word as one piece of
    the :func:`split` of a token holding it, a phrase in :func:`spelled_apart` (mapped back
    to ``text``). Cheap where nothing is joined: a word looks only at the tokens that hold it,
    a phrase first checks that its letters, spaces left out, occur in the text's."""
    words = needle.split()
    if not words:
        return []
    prefer = frozenset(fold(w) for w in words)
    if len(words) == 1:
        spans = []
        target = fold(words[0])
        for m in _TOKEN.finditer(text):  # the tokens holding the word, and not the word
            token = m.group()
            if len(token) < MIN_TOKEN or target not in fold(token):
                continue
            pieces = _split_cached(token, prefer)
            at = m.start()
            for piece in pieces or ():
                if fold(piece) == target:
                    spans.append((at, at + len(piece)))
                at += len(piece)
        return spans
    if _SPACE.sub("", needle).casefold() not in _SPACE.sub("", text).casefold():
        return []
    apart = spelled_apart(text, prefer=prefer)
    if apart is None:
        return []
    spelled, offsets = apart
    return [(offsets[a], offsets[b - 1] + 1) for a, b in (m.span() for m in pattern.finditer(spelled))]
