"""Photos and videos indexed before dates, places and cameras were read (revision 0008) get
them once, at the end of the next run: read from each file's header, stored with the units
it has (no photo is embedded again), plus its place's names as a "place" unit (one short
text through the text encoder)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from searchengine.catalog.catalog import Catalog
from searchengine.encoders.base import Encoder
from searchengine.media.photo_facts import video_taken
from searchengine.pipeline.decode import photo_facts
from searchengine.store.repository import FileFacts, FileWrite, NewUnit

log = logging.getLogger(__name__)

BATCH = 64


def fill_facts(catalog: Catalog, encoder: Callable[[], Encoder], *, progress: bool = False) -> int:
    """Read the date taken, place and camera of indexed photos and videos that lack them;
    returns how many files were updated."""
    pending = catalog.repo.files_without_facts()
    if not pending:
        return 0
    done = 0
    with tqdm(total=len(pending), desc="dates and places", unit="file", disable=not progress, leave=False) as bar:
        for i in range(0, len(pending), BATCH):
            writes = []
            for rec in pending[i:i + BATCH]:
                bar.update(1)
                path = Path(rec.path)
                if not path.is_file():
                    continue  # read when it is back
                if rec.modality == "image":
                    facts, place = photo_facts(path)
                else:
                    facts, place = FileFacts(taken_ns=video_taken(path)), None
                units = [u for u in catalog.repo.file_units(rec.id, catalog.dim) if u.kind != "place"]
                if place:
                    units.append(NewUnit(None, None, place, encoder().encode_texts([place])[0], kind="place"))
                writes.append(FileWrite(path=rec.path, modality=rec.modality, content_hash=rec.content_hash,
                                        size=rec.size, mtime_ns=rec.mtime_ns, units=units, device=rec.device,
                                        inode=rec.inode, facts=facts))
            done += sum(1 for r in catalog.store_files(writes) if r.ok)
    log.info("read the dates and places of %d photos and videos indexed before they were kept", done)
    return done
