"""How models and documents are named in evaluation: results-folder names and passage texts."""
from __future__ import annotations

import os
from typing import Any

from FlagEmbedding.retrieval.readers import passage_text
from FlagEmbedding.utils.errors import InputError

__all__ = ["backend_suffix", "display_name", "passage_text"]


def display_name(name_or_path: str) -> str:
    """The name shown for a model (and the name of its results folder): the last part of its normalised path.

    ``.../model/1_Pooling/..``, ``model/.`` and trailing separators all name ``model``; a name that would still be
    ``.`` or ``..`` (a folder outside the output folder) is an :class:`InputError`.
    """
    local = os.path.exists(name_or_path)
    path = os.path.abspath(name_or_path) if local else os.path.normpath(name_or_path)
    name = os.path.basename(path.rstrip("/\\")) or path.strip("/\\")
    if name in ("", ".", ".."):
        raise InputError(f"Model name or path {name_or_path!r} does not name a model folder; pass the folder itself "
                         f"(results are written in a sub-folder named after it).")
    return name


def backend_suffix(model: Any) -> str:
    """What a model's runtime adds to its display name: nothing on torch, else ``+<backend>`` and
    ``-<quantization>`` (``+onnx``, ``+onnx-int8``), so results of another runtime get a folder of their own; a
    long-text strategy other than truncation adds ``+<strategy>`` (``+chunk_max``, ``+maxp``) likewise."""
    backend = getattr(model, "backend", "torch")
    strategy = getattr(model, "long_text_strategy", "truncate")
    long_text = "" if strategy == "truncate" else f"+{strategy}"
    if backend == "torch":
        return long_text
    quantize = getattr(model, "quantize", None)
    return f"+{backend}" + (f"-{quantize}" if quantize else "") + long_text
