"""The 521 AudioSet classes YAMNet scores: English names (``data/yamnet_class_map.csv``,
from tensorflow/models, Apache-2.0), Chinese names (``data/audioset_zh.json``, written by
this project), and which of them make a sound event.

Not events: speech (it stays with the transcript), silence, and the classes that describe a
recording's room or quality rather than something heard in it ("Inside, small room",
"Reverberation", "Field recording")."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np

from searchengine.errors import ModelUnavailableError

N_CLASSES = 521
SPEECH = frozenset(range(0, 6)) | {65}  # Speech .. Speech synthesizer; Hubbub, speech babble
SILENCE = 494
ROOM = frozenset(range(500, 507)) | {512, 520}  # Inside/Outside .. Echo; Sidetone; Field recording
MUSIC = 132
NOT_EVENTS = SPEECH | ROOM | {SILENCE}


SYNONYMS = "、"  # separates a class's Chinese names: "闹钟、闹铃", as commas do its English ones


@dataclass(frozen=True)
class SoundClasses:
    english: tuple[str, ...]
    chinese: tuple[str, ...]  # the usual word first, then common synonyms: "警笛、警报器、警报声"
    events: np.ndarray  # bool (521,): the classes that make a sound unit

    def label(self, i: int) -> str:
        """"Bark 狗叫、犬吠": what goes into the keyword index and the hit's text (every
        Chinese name: a query finds the class by any of them)."""
        return f"{self.english[i]} {self.chinese[i]}" if self.chinese[i] else self.english[i]

    @property
    def chinese_first(self) -> tuple[str, ...]:
        """Each class's usual Chinese name alone: what its vector is made from (a list of
        near-synonyms would pull the class towards the words they share, such as 声)."""
        return tuple(name.split(SYNONYMS, 1)[0] for name in self.chinese)


def _data(name: str) -> str:
    return files("searchengine.sounds").joinpath(f"data/{name}").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def sound_classes() -> SoundClasses:
    rows = list(csv.reader(io.StringIO(_data("yamnet_class_map.csv"))))[1:]
    english = tuple(r[2] for r in rows)
    chinese = tuple(json.loads(_data("audioset_zh.json")))
    if len(english) != N_CLASSES or len(chinese) != N_CLASSES:  # pragma: no cover - a packaging fault
        raise ModelUnavailableError(f"sound class tables hold {len(english)} and {len(chinese)} names, "
                                    f"not {N_CLASSES}")
    events = np.ones(N_CLASSES, dtype=bool)
    events[list(NOT_EVENTS)] = False
    return SoundClasses(english, chinese, events)
