"""Loading pretrained objects with one clear message when a model is neither local nor downloadable."""
from __future__ import annotations

import os
from typing import Any, Callable

from FlagEmbedding.utils.errors import ModelNotFoundError


def model_not_found(name_or_path: str) -> ModelNotFoundError:
    """The error for a model that is neither a local folder nor reachable (says how to get a local copy)."""
    return ModelNotFoundError(
        f"model '{name_or_path}' is not a local folder and could not be downloaded from the Hugging Face Hub; "
        f"download it on a connected machine (`hf download {name_or_path} --local-dir <folder>`) and pass that "
        f"folder's path instead."
    )


def from_pretrained(loader: Callable[..., Any], name_or_path: str, **kwargs: Any) -> Any:
    """Call ``loader(name_or_path, **kwargs)`` (e.g. ``AutoModel.from_pretrained``).

    Errors about a local folder propagate unchanged; a failure to resolve a non-local name becomes an
    ``OSError`` naming the model and how to supply a local copy.
    """
    if os.path.isdir(name_or_path):
        return loader(name_or_path, **kwargs)
    try:
        return loader(name_or_path, **kwargs)
    except (OSError, ValueError) as error:
        raise model_not_found(name_or_path) from error
