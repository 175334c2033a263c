"""Name lookup shared by the auto-loaders (:class:`FlagAutoModel`, :class:`FlagAutoReranker`)."""
from __future__ import annotations

import os


def registry_name(model_name_or_path: str) -> str:
    """The name looked up in a registry: the path's basename, or its parent's for ``checkpoint-N`` folders."""
    path = model_name_or_path.rstrip("/\\")
    name = os.path.basename(path)
    if name.startswith("checkpoint-"):
        name = os.path.basename(os.path.dirname(path))
    return name


def not_in_registry_message(name: str, kind: str = "model") -> str:
    """The error for a name missing from a registry."""
    return (
        f"Model name '{name}' not found in the model mapping. You can pull request to add the {kind}. "
        "You can also directly specify the corresponding `model_class` to instantiate the model."
    )
