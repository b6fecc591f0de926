"""The indexing step for sound events: classify a recording's (or a video's sound track's)
audio in patches and hand the decoder its events (``--sounds auto|on|off``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from searchengine.sounds import features
from searchengine.sounds import model as sound_model
from searchengine.sounds.events import SoundEvent, find_events

log = logging.getLogger(__name__)


def sounds_enabled(mode: str, model_path: Path | str | None) -> bool:
    """Whether ``--sounds MODE`` finds sound events here: ``on`` fails clearly without the
    model file, ``auto`` goes without it (one log line), ``off`` never looks. A path the user
    gave must exist, whatever the mode."""
    if mode == "off":
        return False
    if sound_model.find_model(model_path) is not None:
        return True
    if mode == "on":
        raise sound_model.SoundModelUnavailableError(
            f"--sounds on: the sound-event model (YAMNet w8a8) is not installed; {sound_model.INSTALL_HINT}; "
            "or index with --sounds off (or auto)")
    log.warning("sound events are not indexed: the sound-event model is not installed (%s)", sound_model.INSTALL_HINT)
    return False


class SoundEvents:
    """Thread-safe: one instance serves all decode workers of a run; the model loads on the
    first recording."""

    def __init__(self, mode: str, model_path: Path | str | None, cache_dir: Path | None,
                 classifier: Callable[[], sound_model.SoundClassifier] | None = None):
        self.enabled = sounds_enabled(mode, model_path)
        self._classifier = classifier or (lambda: sound_model.shared(model_path, cache_dir))

    def detect(self, audio: np.ndarray) -> tuple[list[SoundEvent], float]:
        """The events of 16 kHz mono ``audio``, and the CPU seconds it took (this thread's: the
        model runs on it alone)."""
        classifier = self._classifier()  # loading it is not the recording's cost
        t0 = time.thread_time()
        scores = classifier.scores(features.patches(audio))
        events = find_events(scores, len(audio) / features.SAMPLE_RATE, audio)
        return events, time.thread_time() - t0
