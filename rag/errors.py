"""The library's own exceptions; entry points turn them into one line for the user."""


class RlaError(Exception):
    """Base class: the message says what went wrong and how to fix it."""


class SourceError(RlaError):
    """A corpus file could not be read (encoding, corrupt PDF, encrypted, too large).

    `lasting` when the same bytes would fail the same way under the same limits (a corrupt PDF, not
    a missing file): ingest remembers such a file by its hash and does not read it again until it changes.
    """

    def __init__(self, message: str, lasting: bool = False) -> None:
        super().__init__(message)
        self.lasting = lasting


class IndexMissing(RlaError):
    """No index has been built at the given folder."""


class IndexMismatch(RlaError):
    """The index was built with other settings (model, dimension) than asked for."""


class IndexCorrupt(RlaError):
    """The index on disk is damaged or was edited: a checksum, the manifest, or what its files say of each other."""


class IndexLocked(RlaError):
    """Another process is writing the index."""


class IndexUnwritable(RlaError, OSError):
    """The index folder cannot be written (read-only, no space): an OSError, explained in one line."""


class ModelError(RlaError):
    """The embedding model could not be loaded or failed verification."""


class QueryError(RlaError):
    """A query or filter given by the user is not valid."""
