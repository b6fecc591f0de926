"""Recordings and videos whose sound units were made before each event's class scores were
kept (revision 0009) get them at the end of the next run: their sound is decoded again and
its events found again (YAMNet, about 3% of a recording's indexing), and the file's ``sound``
units are replaced by the new ones, scores included - its words, frames and other units stay
as they are (nothing is transcribed or embedded again but the events' short label vectors).
Until then such units rank by their vector alone (:mod:`searchengine.sounds.class_space`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from searchengine.catalog.catalog import Catalog
from searchengine.config import Settings
from searchengine.encoders.base import Encoder
from searchengine.errors import MediaDecodeError
from searchengine.media.pathnames import display_path
from searchengine.store.repository import FileRecord, NewUnit

log = logging.getLogger(__name__)


def fill_sound_scores(catalog: Catalog, encoder: Callable[[], Encoder], settings: Settings, *,
                      progress: bool = False) -> int:
    """Make again the sound units of the files whose units lack class scores (when sound
    events are enabled); returns how many files were updated. A file changed since it was
    indexed, gone, or whose sound cannot be read now is left for a later run."""
    repo = catalog.repo
    if not repo.sound_scores_pending():  # the mark of migration 0009: most indexes never scan
        return 0
    pending = repo.files_with_unscored_sounds()
    if not pending:
        repo.sound_scores_filled()
        return 0
    from searchengine.media.audio import decode_audio
    from searchengine.sounds.class_space import name_vectors
    from searchengine.sounds.space import event_vectors
    from searchengine.sounds.stage import SoundEvents

    events = SoundEvents(settings.sounds, settings.sound_model, settings.cache_dir)
    if not events.enabled:
        log.info("%d files hold sound units without class scores; sound events are off, so they are kept as they are",
                 len(pending))
        return 0
    done = 0
    with tqdm(total=len(pending), desc="sound classes", unit="file", disable=not progress, leave=False) as bar:
        for rec in pending:
            bar.update(1)
            if not _unchanged(rec):
                continue
            try:
                found, _ = events.detect(decode_audio(Path(rec.path)))
            except MediaDecodeError as exc:
                log.warning("the sound events of %s are kept without class scores for now: %s",
                            display_path(rec.path), exc)
                continue
            vectors = event_vectors(encoder(), found, settings.cache_dir)
            units = [NewUnit(e.start, e.end, e.text, v, kind="sound", scores=e.scores) for e, v in zip(found, vectors)]
            catalog.replace_kind_units(rec.id, "sound", units)
            done += 1
    if repo.sound_units_without_scores() == 0:
        repo.sound_scores_filled()
    if done:
        name_vectors(encoder(), settings.cache_dir)  # the class names' vectors, for the searches
        log.info("found the sound events of %d files again, with their class scores", done)
    return done


def _unchanged(rec: FileRecord) -> bool:
    """The file as it was indexed: its size, and a time not after the recorded one (which,
    for a recording with a sidecar transcript, is the later of the two files' times)."""
    try:
        st = os.stat(rec.path)
    except OSError:
        return False
    return st.st_size == rec.size and st.st_mtime_ns <= rec.mtime_ns
