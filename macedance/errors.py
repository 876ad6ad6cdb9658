"""The package's exceptions: one base class, specific subclasses.

Every error a user can cause (bad file, bad shape, bad option, missing model) derives from
:class:`MaceDanceError`; the CLI prints its message on one line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class MaceDanceError(Exception):
    """Base class of every error raised on purpose by macedance."""


class ValidationError(MaceDanceError, ValueError):
    """A value does not have the expected shape, range or type.

    The message names the field, what was expected and what was found, and the file when known.
    """

    def __init__(self, field: str, expected: str, found: str, *, source: str | Path | None = None):
        self.field = field
        self.expected = expected
        self.found = found
        self.source = str(source) if source is not None else None
        prefix = f"{self.source}: " if self.source else ""
        super().__init__(f"{prefix}{field}: expected {expected}, found {found}")

    def with_source(self, source: str | Path) -> "ValidationError":
        """The same error, attributed to the file ``source``."""
        return ValidationError(self.field, self.expected, self.found, source=source)


class DataFormatError(MaceDanceError):
    """A file cannot be read as the format it claims to be (corrupt, truncated, wrong layout)."""


class UnsafePickleError(DataFormatError):
    """A pickle references a global outside the allowed set; it was not executed."""


class SchemaVersionError(DataFormatError):
    """A file was written by a newer (or unknown) version of the on-disk schema."""


class InputNotFoundError(MaceDanceError, FileNotFoundError):
    """An input file or directory does not exist or holds nothing usable."""


class BodyModelError(MaceDanceError):
    """A licensed body model (SMPL) is missing or unusable; the message says how to point to one."""


class MissingDependencyError(MaceDanceError, ImportError):
    """An optional package is needed for this feature; the message names what to install."""
