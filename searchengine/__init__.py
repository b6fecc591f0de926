"""searchengine: cross-modal semantic search over photos, recordings and documents.

Importing this package does not import torch; models load on first use.
"""

from searchengine.config import Settings
from searchengine.errors import (
    IndexBusyError,
    IndexDamagedError,
    IndexIncompatibleError,
    IndexUnavailableError,
    InvalidInputError,
    MediaDecodeError,
    ModelUnavailableError,
    SearchEngineError,
)
from searchengine.query.hits import Hit

__version__ = "0.1.0"

__all__ = [
    "SearchEngine", "IndexReport", "IndexStatus", "Hit", "Settings",
    "SearchEngineError", "InvalidInputError", "IndexUnavailableError", "IndexDamagedError",
    "IndexIncompatibleError", "IndexBusyError", "ModelUnavailableError", "MediaDecodeError",
]


def __getattr__(name: str):  # lazy: keep `import searchengine` light
    if name in ("SearchEngine", "IndexStatus"):
        from searchengine import engine

        return getattr(engine, name)
    if name == "IndexReport":
        from searchengine.pipeline import IndexReport

        return IndexReport
    raise AttributeError(name)
