"""CLIP's byte-pair tokenizer without torch: the same tokens as open_clip's
``SimpleTokenizer`` (open_clip, MIT licence; originally OpenAI CLIP, MIT), as NumPy arrays,
so a text query need not import torch."""

from __future__ import annotations

import gzip
import html
import json
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np


@lru_cache()
def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def _pairs(word: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(a, b) for a, b in zip(word, word[1:])}


def _clean(text: str) -> str:
    if not text.isascii():  # mojibake needs non-ASCII characters; ftfy costs 60 ms to import
        import ftfy

        text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return " ".join(text.split()).lower()


N_MERGES = 49152 - 256 - 2
SPECIALS = ["<start_of_text>", "<end_of_text>"]


def _tables(merge_lines: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """(token -> id, "first second" -> merge rank), as open_clip builds them."""
    vocab = list(_bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m.split()) for m in merge_lines] + SPECIALS
    return {t: i for i, t in enumerate(vocab)}, {m: i for i, m in enumerate(merge_lines)}


def write_tables(bpe_path: Path, out: Path) -> None:
    """Both tables as one JSON file, which loads several times faster than the BPE file
    (the dictionaries are built by the JSON parser, in C)."""
    merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")[1 : N_MERGES + 1]
    encoder, ranks = _tables(merges)
    out.write_text(json.dumps({"encoder": encoder, "ranks": ranks}, ensure_ascii=False), encoding="utf-8")


class ClipTokenizer:
    """``tokenizer(texts) -> int64 array [len(texts), context_length]``, from open_clip's
    ``bpe_simple_vocab_16e6.txt.gz`` or the JSON tables :func:`write_tables` made of it."""

    def __init__(self, bpe_path: Path, context_length: int = 77):
        import regex

        if bpe_path.suffix == ".json":
            tables = json.loads(bpe_path.read_text(encoding="utf-8"))
            self._encoder, self._ranks = tables["encoder"], tables["ranks"]
        else:
            merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")[1 : N_MERGES + 1]
            self._encoder, self._ranks = _tables(merges)
        self._byte_encoder = _bytes_to_unicode()
        self._cache: dict[str, str] = {t: t for t in SPECIALS}
        self._pattern = regex.compile(
            "|".join(SPECIALS) + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            regex.IGNORECASE,
        )
        self.sot, self.eot = self._encoder[SPECIALS[0]], self._encoder[SPECIALS[1]]
        self.context_length = context_length

    def _bpe(self, token: str) -> str:
        if token in self._cache:
            return self._cache[token]
        word: tuple[str, ...] = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = _pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda p: self._ranks.get(f"{p[0]} {p[1]}", float("inf")))
            if f"{bigram[0]} {bigram[1]}" not in self._ranks:
                break
            first, second = bigram
            merged: list[str] = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    merged.extend(word[i:])
                    break
                merged.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
            if len(word) == 1:
                break
            pairs = _pairs(word)
        out = " ".join(word)
        self._cache[token] = out
        return out

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for token in self._pattern.findall(_clean(text)):
            token = "".join(self._byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self._encoder[t] for t in self._bpe(token).split(" "))
        return ids

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = [self.sot] + self.encode(text) + [self.eot]
            if len(tokens) > self.context_length:
                tokens = tokens[: self.context_length]
                tokens[-1] = self.eot
            out[row, : len(tokens)] = tokens
        return out
