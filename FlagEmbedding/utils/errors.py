"""Errors a user fixes by changing their input, told apart from bugs.

The concrete types also derive from the built-in the API promises (``ValueError``, ``FileNotFoundError``,
``OSError``, ``ImportError``), so library callers catch them as before; command lines
(:func:`FlagEmbedding.utils.cli.run_cli`) print them as one ``error: ...`` line without a traceback.
"""
from __future__ import annotations

from typing import Optional

#: optional top-level packages -> how to install them (a missing one is a user error, not a bug)
OPTIONAL_PACKAGES = {
    "air_benchmark": "pip install --no-deps air-benchmark",
    "mteb": 'pip install "FlagEmbedding[eval]"',
    "faiss": 'pip install "FlagEmbedding[eval]"',
    "pytrec_eval": 'pip install "FlagEmbedding[eval]"',
    "datasets": 'pip install "FlagEmbedding[eval]"',
    "peft": 'pip install "FlagEmbedding[finetune]"',
    "accelerate": 'pip install "FlagEmbedding[finetune]"',
    "deepspeed": "pip install --no-build-isolation deepspeed",
    "qdrant_client": 'pip install "FlagEmbedding[qdrant]"',
    "pymilvus": 'pip install "FlagEmbedding[milvus]"',
}


class UserError(Exception):
    """Base of the errors a user fixes by changing their input; command lines print them as one line."""


class InputError(UserError, ValueError):
    """A bad value or a bad data file (the message names the argument, or the file and line)."""


class InputTypeError(UserError, TypeError):
    """An argument of the wrong type (e.g. one string where a list of strings is expected); the message names the
    argument. A ``TypeError``, so callers catching that still do."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named (or data that must exist locally) is missing."""


class ModelNotFoundError(UserError, OSError):
    """A model that is neither a local folder nor downloadable."""


class IntegrityError(InputError):
    """A stored file does not match the checksum recorded when it was written (changed or damaged since);
    ``path`` names the file. Callers that can rebuild it do so (logged); others refuse with this message."""

    def __init__(self, path: str, problem: str = "does not match the checksum recorded when it was written "
                                                 "(changed after it was built), or none is recorded"):
        super().__init__(f"{path}: {problem}.")
        self.path = path


class NonFiniteLossError(UserError, FloatingPointError):
    """Training produced a NaN or infinite loss (the message says at which step and what to try)."""


class MissingPackageError(UserError, ImportError):
    """An optional package is not installed (the message says how to install it)."""


def missing_package(error: ImportError) -> Optional[MissingPackageError]:
    """A :class:`MissingPackageError` for a ``ModuleNotFoundError`` of an optional package, else ``None``."""
    name = (getattr(error, "name", None) or "").split(".")[0]
    if not isinstance(error, ModuleNotFoundError) or name not in OPTIONAL_PACKAGES:
        return None
    return MissingPackageError(f"the optional package '{name}' is not installed; install it with "
                               f"`{OPTIONAL_PACKAGES[name]}`.")


def user_error_message(error: BaseException) -> Optional[str]:
    """The one-line message of a user error, or ``None`` for anything that is a bug (keeps its traceback).

    User errors are :class:`UserError`, a missing optional package and an operating-system error about a path the
    user named (missing file, no permission, a folder where a file was expected).
    """
    if isinstance(error, UserError):
        return " ".join(str(error).split())
    if isinstance(error, ImportError):
        converted = missing_package(error)
        return str(converted) if converted else None
    if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)) \
            and error.filename:
        return f"{error.strerror}: {error.filename}"
    return None
