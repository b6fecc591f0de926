"""Stage 3, encode: one batch of decoded files through the encoder, images and texts each
in one call, then the sound events (blends of class-name vectors), vectors handed back per
file in order."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from searchengine.encoders.base import Encoder
from searchengine.pipeline.decode import Decoded


def encode_batch(encoder: Callable[[], Encoder], batch: Sequence[Decoded], dim: int,
                 text_batch: int, cache_dir: Path | None = None) -> list[np.ndarray]:
    """The vectors of each file of ``batch`` (images first, then chunks, then sound events,
    as decoded); an empty array for a file that failed to decode. ``encoder()`` is called
    only when there is something to encode. ``cache_dir`` keeps the sound classes' vectors
    (default: the settings' cache folder)."""
    ok = [d for d in batch if d.error is None]
    images = [img for d in ok for img in d.images]
    texts = [c[2] for d in ok for c in d.chunks]
    sounds = [s for d in ok for s in d.sounds]
    image_vecs = (np.concatenate([encoder().encode_prepared_images(images[i : i + text_batch])
                                  for i in range(0, len(images), text_batch)])
                  if images else np.zeros((0, dim), np.float32))  # in batches: a video has many frames
    text_vecs = (np.concatenate([encoder().encode_texts(texts[i : i + text_batch]) for i in range(0, len(texts), text_batch)])
                 if texts else np.zeros((0, dim), np.float32))
    sound_vecs = np.zeros((0, dim), np.float32)
    if sounds:
        from searchengine.sounds.space import event_vectors

        if cache_dir is None:
            from searchengine.config import Settings

            cache_dir = Settings.from_env().cache_dir
        sound_vecs = event_vectors(encoder(), sounds, cache_dir)
        from searchengine.sounds.class_space import name_vectors

        name_vectors(encoder(), cache_dir)  # made once a text tower, kept for the searches (class space)
    out: list[np.ndarray] = []
    ii = ti = si = 0
    for d in batch:
        if d.error is not None:
            out.append(np.zeros((0, dim), np.float32))
            continue
        n_img, n_txt, n_snd = len(d.images), len(d.chunks), len(d.sounds)
        out.append(np.concatenate([image_vecs[ii : ii + n_img], text_vecs[ti : ti + n_txt],
                                   sound_vecs[si : si + n_snd]]))
        ii += n_img
        ti += n_txt
        si += n_snd
    return out
