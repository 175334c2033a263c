"""Length-sorted, token-budget batching with an out-of-memory back-off, shared by every single-device path."""
from __future__ import annotations

import logging
from typing import Callable, List, Optional, Sequence, Tuple, TypeVar

import numpy as np
import torch
from FlagEmbedding.backends.cpu_info import last_level_cache_bytes
from FlagEmbedding.abc.inference.devices import empty_device_cache, is_cpu
from FlagEmbedding.utils.progress import stage_bar

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: factor the batch size shrinks by after an out-of-memory error (FlagEmbedding 1.4.2's ``batch_size * 3 // 4``)
OOM_BACKOFF = 0.75

#: Bounds of the CPU token budget (see :func:`cpu_token_budget`), and the budget where the cache size or the
#: model's activation width is unknown.
CPU_TOKEN_BUDGET_RANGE = (1024, 16384)


def is_out_of_memory(error: BaseException) -> bool:
    """True for the errors that mean "this batch does not fit on the device"."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def cpu_token_budget(activation_width: Optional[int]) -> int:
    """Padded tokens per CPU forward pass: the largest power of two whose widest activation
    (``activation_width`` fp32 values per token, the feed-forward width) fits the last-level cache, within
    :data:`CPU_TOKEN_BUDGET_RANGE`; its upper bound when the cache size or the width is unknown.

    Past that size the activations of one layer leave the cache between the GEMMs that read them, and tokens/s
    drops: all-MiniLM-L6-v2 (width 1536) on a 32 MiB L3 runs about 1.1x faster in 4k-token batches than in 16k
    ones, a BERT-base-shaped model (width 3072) fastest in 2k ones (see docs/guides/speed.rst).
    """
    low, high = CPU_TOKEN_BUDGET_RANGE
    cache = last_level_cache_bytes()
    if not cache or not activation_width:
        return high
    fitting = cache // (4 * activation_width)
    return min(high, max(low, 1 << max(0, fitting.bit_length() - 1)))


def token_budget(batch_size: int, longest: int, device: Optional[str] = None,
                 activation_width: Optional[int] = None) -> int:
    """Padded tokens per forward pass: ``batch_size`` rows of the longest input, capped on CPU at
    :func:`cpu_token_budget` (never below one row of the longest input)."""
    budget = batch_size * longest
    if device is not None and is_cpu(device):
        budget = min(budget, max(cpu_token_budget(activation_width), longest))
    return budget


def run_length_sorted(
    lengths: Sequence[int],
    batch_size: int,
    run_batch: Callable[[List[int]], T],
    desc: str = "Inference",
    show_progress: bool = True,
    device: Optional[str] = None,
    activation_width: Optional[int] = None,
) -> Tuple[List[T], List[List[int]]]:
    """Run ``run_batch`` over inputs sorted by descending length, in token-budget batches.

    Each batch starts at the longest remaining input and takes as many inputs as fit the padded-token budget
    (:func:`token_budget`): the first batch holds ``batch_size`` inputs (fewer on CPU when the budget caps it),
    later batches of shorter inputs hold more, so no batch pads more tokens than the first. ``run_batch``
    receives the original indices of one batch and returns its output. On out-of-memory the budget shrinks
    by a quarter of the failing batch (never below one input) and the batch is retried; any other error
    propagates unchanged. The bar (``desc``) advances the open stage of a job instead when there is one (see
    :func:`~FlagEmbedding.utils.progress.stage_bar`).

    Returns the per-batch outputs and, for each, the original indices it covered (longest batch first).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    order = np.argsort([-n for n in lengths], kind="stable").tolist()
    if not order:
        return [], []

    budget = token_budget(batch_size, max(1, lengths[order[0]]), device, activation_width)
    outputs: List[T] = []
    index_batches: List[List[int]] = []
    start = 0
    with stage_bar(len(order), desc, disable=not show_progress or len(order) < batch_size * 2) as progress:
        while start < len(order):
            longest = max(1, lengths[order[start]])
            batch = order[start:start + max(1, budget // longest)]
            try:
                outputs.append(run_batch(batch))
            except Exception as error:  # noqa: BLE001 - re-raised unless it is an OOM
                if not is_out_of_memory(error) or len(batch) == 1:
                    raise
                budget = max(1, int(len(batch) * OOM_BACKOFF)) * longest
                empty_device_cache()
                logger.warning("Out of memory; retrying with %d inputs per batch.", budget // longest)
                continue
            index_batches.append(batch)
            start += len(batch)
            progress.update(len(batch))
    return outputs, index_batches


def restore_order(rows: torch.Tensor, index_batches: List[List[int]]) -> torch.Tensor:
    """Put rows produced batch by batch (see :func:`run_length_sorted`) back in input order."""
    flat = torch.tensor([i for batch in index_batches for i in batch], dtype=torch.long)
    inverse = torch.empty_like(flat)
    inverse[flat] = torch.arange(len(flat))
    return rows[inverse.to(rows.device)]


def restore_list_order(items: List[T], index_batches: List[List[int]]) -> List[T]:
    """List counterpart of :func:`restore_order`."""
    flat = [i for batch in index_batches for i in batch]
    result: List[T] = [None] * len(flat)  # type: ignore[list-item]
    for item, index in zip(items, flat):
        result[index] = item
    return result
