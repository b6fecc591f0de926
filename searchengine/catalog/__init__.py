"""SQL + FAISS consistency: the catalog (the one owner of both), write and readers-writer
locks, the index folder's layout and manifest, atomic files, consistency checks, shards."""

from searchengine.catalog.catalog import Catalog

__all__ = ["Catalog"]
