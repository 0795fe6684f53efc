"""Domain errors of the online-learning library.

Adapters (CLI, HTTP, Prefect) translate these into exit codes, status codes or flow states; the
library never decides how an error is shown.
"""

from __future__ import annotations


class OnlineLearningError(Exception):
    """Base class of every error the library raises on purpose."""


class ConfigError(OnlineLearningError, ValueError):
    """A configuration value is out of range or inconsistent."""


class DataError(OnlineLearningError, ValueError):
    """Market data is missing, malformed or too short for the requested operation."""


class DataFormatError(DataError):
    """A user file does not follow the documented format.

    The message names the file and, where it applies, the row and the column.
    """

    def __init__(
        self,
        path: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path)
        self.row = row
        self.column = column
        where = [self.path]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")


class ModelNotFoundError(OnlineLearningError, LookupError):
    """The registry has no such model, version or alias."""


class RegistryError(OnlineLearningError):
    """The model registry failed to store or move a version."""
