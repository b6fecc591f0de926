"""From YAMNet's per-patch class scores to sound events: stretches where a non-speech class
is confidently present, merged across neighbouring patches, with their start and end
seconds, their classes and their labels.

A patch is *active* when an event class (see :mod:`searchengine.sounds.classes`) scores at
least ``THRESHOLD``. Runs of active patches (bridging ``MAX_GAP`` inactive ones) make one
event, cut every ``MAX_SECONDS``; its classes are the best each class scored in it (a bark
right after a phone makes one event named by both). Speech alone makes none: it is the transcript's. Music is an event like
any other, labelled with the genres and instruments heard with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from searchengine.sounds.classes import SoundClasses, sound_classes
from searchengine.sounds.features import PATCH_SECONDS, log_mel, patch_start

# The quantised model's probabilities come in steps (0.09, 0.18, 0.32, 0.5, 0.68, 0.82, 0.91):
# 0.3 is "the third step", chosen with benchmarks/bench_sounds.py (docs/sounds.md).
THRESHOLD = 0.3
MAX_GAP = 1  # inactive patches (0.48 s each) bridged inside one event
MAX_SECONDS = 30.0  # a long stretch (a piece of music) is cut into events this long: moments stay close
LABEL_FLOOR = 0.15  # a class under this score is not named in the event's text
MAX_LABELS = 5
TOP_T = 10  # classes blended into the event's vector (as the offline profiles' ImageNet classes)


@dataclass(frozen=True)
class SoundEvent:
    start: float
    end: float
    classes: tuple[int, ...]  # best first: the TOP_T classes blended into its vector
    weights: tuple[float, ...]  # their scores
    text: str  # "Bark 狗叫; Dog 狗": the labels, English and Chinese
    # the best score each of the 521 classes reached in it (speech and the room classes too):
    # stored with the unit, the ranker's class-space evidence (searchengine.sounds.class_space)
    scores: np.ndarray | None = field(default=None, compare=False, repr=False)


def find_events(scores: np.ndarray, duration: float, audio: np.ndarray | None = None,
                classes: SoundClasses | None = None) -> list[SoundEvent]:
    """The events in a recording of ``duration`` seconds whose patches scored ``scores``
    (N, 521). With ``audio`` (16 kHz mono), each event's start is refined to where its
    loudness rises within its first patch."""
    table = classes or sound_classes()
    if len(scores) == 0:
        return []
    masked = np.where(table.events[None, :], scores, 0.0)
    active: np.ndarray = np.asarray((masked >= THRESHOLD).any(axis=1))
    runs: list[list[int]] = []
    current: list[int] = []
    gap = 0
    for i in range(len(scores)):
        if not active[i]:
            gap += 1
            if current and gap > MAX_GAP:
                runs.append(current)
                current = []
            continue
        if current and patch_start(i) + PATCH_SECONDS - patch_start(current[0]) > MAX_SECONDS:
            runs.append(current)
            current = []
        current.append(i)
        gap = 0
    if current:
        runs.append(current)
    return [_event(masked, run, duration, audio, table, scores) for run in runs]


def _event(masked: np.ndarray, run: list[int], duration: float, audio: np.ndarray | None,
           table: SoundClasses, scores: np.ndarray) -> SoundEvent:
    profile = masked[run[0] : run[-1] + 1].max(axis=0)
    order = np.argsort(-profile)[:TOP_T]
    order = order[profile[order] > 0]
    labels = [table.label(int(c)) for c in order[:MAX_LABELS] if profile[c] >= LABEL_FLOOR]
    start = patch_start(run[0])
    if audio is not None:
        start = onset(audio, start)
    end = min(duration, patch_start(run[-1]) + PATCH_SECONDS) if duration > 0 else patch_start(run[-1]) + PATCH_SECONDS
    return SoundEvent(start=round(start, 2), end=round(max(end, start), 2),
                      classes=tuple(int(c) for c in order), weights=tuple(float(profile[c]) for c in order),
                      text="; ".join(labels),
                      scores=np.asarray(scores[run[0] : run[-1] + 1].max(axis=0), dtype=np.float32))


ONSET_RISE = 2.0  # natural-log units of summed mel energy (some 9 dB) above the quiet before


def onset(audio: np.ndarray, start: float) -> float:
    """Where the sound that made the patch at ``start`` begins: the first 10 ms frame after
    the quietest frame of the half second before the patch whose loudness rises
    ``ONSET_RISE`` above it; ``start`` itself when there is no such rise (the sound came in
    over others as loud)."""
    from searchengine.sounds.features import HOP, SAMPLE_RATE

    first = max(0.0, start - 0.5)
    a, b = int(first * SAMPLE_RATE), int((start + PATCH_SECONDS) * SAMPLE_RATE)
    if b - a < SAMPLE_RATE // 4:
        return start
    loud = np.log(np.exp(log_mel(audio[a:b]).astype(np.float64)).sum(axis=1))  # log of summed mel energy
    offset = int(round((start - first) * SAMPLE_RATE / HOP))
    quietest = int(np.argmin(loud[: offset + 1]))
    rises = np.nonzero(loud[quietest:] - loud[quietest] >= ONSET_RISE)[0]
    return first + (quietest + int(rises[0])) * HOP / SAMPLE_RATE if len(rises) else start
