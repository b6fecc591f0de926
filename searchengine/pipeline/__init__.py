"""Indexing as explicit stages, each a small unit with its own timing:

plan    walk, stat, hash, decide (unchanged / moved / copied / changed / new / deleted)
decode  read each file: images decoded and prepared for the model, text chunked, speech
        transcribed (worker threads)
encode  batches of prepared images and texts through the encoder
write   SQL and FAISS changed together, one file at a time visible to searches

joined by a bounded queue between decode and encode (:mod:`searchengine.pipeline.runner`).
The model is asked for only when the first file needs encoding: a run with nothing to do
loads none.
"""

from searchengine.pipeline.report import IndexReport, StageTimes
from searchengine.pipeline.runner import IndexRun

__all__ = ["IndexReport", "IndexRun", "StageTimes"]
