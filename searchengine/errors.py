"""One exception tree for everything the engine raises on purpose.

The CLI maps the kinds to exit codes (see ``EXIT_CODES`` in :mod:`searchengine.cli`), the
HTTP layer to status codes; library users catch :class:`SearchEngineError`.
"""

from __future__ import annotations


class SearchEngineError(Exception):
    """Base class of every error the engine raises deliberately."""


class InvalidInputError(SearchEngineError):
    """Bad usage or input: an empty query, an unreadable query image, a bad flag value."""


class IndexUnavailableError(SearchEngineError):
    """An index that does not exist or cannot be opened."""


class IndexDamagedError(IndexUnavailableError):
    """An index whose files are damaged beyond automatic repair."""


class IndexIncompatibleError(IndexUnavailableError):
    """An index built with another model, or written by a newer version of the schema."""


class IndexBusyError(IndexUnavailableError):
    """Another process is writing to the index."""


class ModelUnavailableError(SearchEngineError):
    """A model spec that is unknown, or whose weights cannot be loaded."""


class MediaDecodeError(SearchEngineError):
    """One media file could not be decoded (recorded as failed; never stops a run)."""


class NotRegularFileError(MediaDecodeError, OSError):
    """A path that is not a regular file (a FIFO, socket, device, or a link to one): never
    opened, so that reading it cannot block or run for ever. Also an ``OSError``, so code
    that treats unreadable files as failures treats these the same way."""


class MediaTooLargeError(MediaDecodeError):
    """A media file over a per-file limit (bytes of text, seconds of audio, pixels)."""


class InsecureSettingError(InvalidInputError):
    """A setting that would leave the service open: e.g. an API token that is too short."""


class ClusterUnavailableError(SearchEngineError):
    """Indexing on a Ray cluster was asked for, but Ray is not installed or the cluster
    cannot be reached or started."""
