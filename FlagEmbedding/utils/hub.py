"""Reaching the Hugging Face Hub: fail fast when it is unreachable, one clear message when a model is missing."""
from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any, Callable
from urllib.parse import urlparse

from FlagEmbedding.utils.errors import ModelNotFoundError

logger = logging.getLogger(__name__)

#: seconds the reachability probe waits for a TCP connection to the Hub endpoint
HUB_PROBE_TIMEOUT_S = 3.0
_probed = False


def hub_reachable() -> bool:
    """Whether the Hub endpoint (``$HF_ENDPOINT``) accepts a TCP connection; ``False`` in offline mode."""
    from huggingface_hub import constants

    if constants.is_offline_mode():
        return False
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=HUB_PROBE_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def offline_if_unreachable() -> None:
    """Before the first Hub access of the process: when the Hub is unreachable, switch ``huggingface_hub``,
    ``transformers`` and ``datasets`` to offline mode (cached files only) instead of letting every request retry
    for about a minute. Logs one warning when it does."""
    global _probed
    if _probed:
        return
    _probed = True
    if hub_reachable():
        return
    from huggingface_hub import constants

    if not constants.is_offline_mode():
        logger.warning("The Hugging Face Hub (%s) is unreachable; working offline with cached files only.",
                       constants.ENDPOINT)
    constants.HF_HUB_OFFLINE = True
    os.environ["HF_HUB_OFFLINE"] = "1"  # for libraries that read the variable when they are imported later
    datasets_config = sys.modules.get("datasets.config")
    if datasets_config is not None:
        setattr(datasets_config, "HF_HUB_OFFLINE", True)


def model_not_found(name_or_path: str) -> ModelNotFoundError:
    """The error for a model that is neither a local folder nor reachable (says how to get a local copy)."""
    return ModelNotFoundError(
        f"Model '{name_or_path}' is not a local folder and could not be downloaded from the Hugging Face Hub; "
        f"download it on a connected machine (`hf download {name_or_path} --local-dir <folder>`) and pass that "
        f"folder's path instead."
    )


def from_pretrained(loader: Callable[..., Any], name_or_path: str, **kwargs: Any) -> Any:
    """Call ``loader(name_or_path, **kwargs)`` (e.g. ``AutoModel.from_pretrained``).

    Errors about a local folder propagate unchanged; for a non-local name the Hub is probed first
    (:func:`offline_if_unreachable`) and a failure to resolve it becomes :class:`ModelNotFoundError` naming the
    model and how to supply a local copy.
    """
    if os.path.isdir(name_or_path):
        return loader(name_or_path, **kwargs)
    offline_if_unreachable()
    try:
        return loader(name_or_path, **kwargs)
    except (OSError, ValueError) as error:
        raise model_not_found(name_or_path) from error
