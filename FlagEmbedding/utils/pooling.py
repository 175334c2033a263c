"""Sentence pooling over token states, shared by inference and fine-tuning."""
from __future__ import annotations

import os
from typing import Optional, Tuple

import torch

from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import read_json_file

POOLING_METHODS = ("cls", "mean", "last_token")
#: sentence-transformers ``1_Pooling/config.json`` switches -> our pooling method
_SENTENCE_TRANSFORMERS_MODES = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
                                "pooling_mode_lasttoken": "last_token"}


def check_pooling_method(method: str, allowed: tuple = POOLING_METHODS) -> str:
    """Raise :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``) naming ``pooling_method`` unless ``method`` is one
    of ``allowed``."""
    if method not in allowed:
        raise InputError(f"pooling_method must be one of {list(allowed)}, got {method!r}.")
    return method


def last_token_indices(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last real token per row: -1 everywhere when every row ends with a real token."""
    if bool(attention_mask[:, -1].all()):
        return torch.full((attention_mask.shape[0],), attention_mask.shape[1] - 1, device=attention_mask.device)
    return attention_mask.sum(dim=1) - 1


def pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor, method: str) -> torch.Tensor:
    """Pool ``[batch, seq, hidden]`` states into ``[batch, hidden]``.

    ``cls`` takes position 0, ``mean`` the mask-weighted mean, ``last_token`` the last real token
    (position -1 when every row ends with a real token, i.e. left padding or none); any other ``method`` raises
    :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``).
    """
    if method == "cls":
        return hidden_states[:, 0]
    if method == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
        return (hidden_states * mask).sum(dim=1) / mask.sum(dim=1)
    if method == "last_token":
        rows = torch.arange(hidden_states.shape[0], device=hidden_states.device)
        return hidden_states[rows, last_token_indices(attention_mask)]
    raise InputError(f"pooling_method must be one of {list(POOLING_METHODS)}, got {method!r}.")


def declared_pooling(folder: str) -> Optional[Tuple[str, str]]:
    """``(pooling method, config file)`` a sentence-transformers folder declares (``modules.json`` naming a
    ``Pooling`` module whose ``config.json`` turns on exactly one of cls / mean / last-token), else ``None``."""
    modules_path = os.path.join(folder, "modules.json")
    if not os.path.isfile(modules_path):
        return None
    try:
        modules = read_json_file(modules_path)
        module = next(m for m in modules if str(m.get("type", "")).endswith(".Pooling"))
        config_path = os.path.join(folder, module.get("path", ""), "config.json")
        config = read_json_file(config_path)
    except (OSError, ValueError, StopIteration, AttributeError, TypeError):
        return None
    if not isinstance(config, dict):
        return None
    modes = [method for key, method in _SENTENCE_TRANSFORMERS_MODES.items() if config.get(key)]
    others = [key for key, value in config.items() if key.startswith("pooling_mode") and value
              and key not in _SENTENCE_TRANSFORMERS_MODES]
    return (modes[0], config_path) if len(modes) == 1 and not others else None
