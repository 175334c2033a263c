"""A module in eval mode for one block of code."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``module`` in eval mode for the block (dropout off); its training flag is restored after, also on error."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
