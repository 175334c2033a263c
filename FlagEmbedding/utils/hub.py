"""Loading pretrained objects with one clear message when a model is neither local nor downloadable."""
from __future__ import annotations

import os
from typing import Any, Callable


def model_not_found_message(name_or_path: str) -> str:
    """The one-sentence explanation for a model that is neither a local folder nor reachable."""
    return (
        f"Model '{name_or_path}' is not a local folder and could not be downloaded from the Hugging Face Hub; "
        f"download it on a connected machine (e.g. `huggingface-cli download {name_or_path} --local-dir "
        f"<folder>`) and pass that folder's path instead."
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
        raise OSError(model_not_found_message(name_or_path)) from error
