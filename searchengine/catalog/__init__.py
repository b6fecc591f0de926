"""SQL + FAISS consistency: the catalog (the one owner of both), write and readers-writer
locks, the index folder's layout and manifest, atomic files, consistency checks, shards.

The package imports nothing itself, so a module that needs one of its leaves (the vector
index needs :mod:`searchengine.catalog.atomic_files`) does not pull in the catalog, which
imports that module back; import :class:`Catalog` from :mod:`searchengine.catalog.catalog`."""
