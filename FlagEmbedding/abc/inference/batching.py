"""Length-sorted batching with an out-of-memory back-off, shared by every single-device path."""
from __future__ import annotations

import logging
from typing import Callable, List, Sequence, Tuple, TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

from FlagEmbedding.abc.inference.devices import empty_device_cache

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: factor the batch size shrinks by after an out-of-memory error (FlagEmbedding 1.4.2's ``batch_size * 3 // 4``)
OOM_BACKOFF = 0.75


def is_out_of_memory(error: BaseException) -> bool:
    """True for the errors that mean "this batch does not fit on the device"."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def run_length_sorted(
    lengths: Sequence[int],
    batch_size: int,
    run_batch: Callable[[List[int]], T],
    desc: str = "Inference",
    show_progress: bool = True,
) -> Tuple[List[T], List[List[int]]]:
    """Run ``run_batch`` over inputs sorted by descending length.

    ``run_batch`` receives the original indices of one batch and returns its output. The first (longest)
    batch is a probe: on out-of-memory the batch size shrinks by a quarter (never below 1) and the probe is
    retried; any other error propagates unchanged. The probe's output is kept.

    Returns the per-batch outputs and, for each, the original indices it covered (longest batch first).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    order = np.argsort([-n for n in lengths], kind="stable").tolist()
    if not order:
        return [], []

    outputs: List[T] = []
    index_batches: List[List[int]] = []
    while True:
        probe = order[:batch_size]
        try:
            outputs.append(run_batch(probe))
            index_batches.append(probe)
            break
        except Exception as error:  # noqa: BLE001 - re-raised unless it is an OOM
            if not is_out_of_memory(error) or batch_size == 1:
                raise
            batch_size = max(1, int(batch_size * OOM_BACKOFF))
            empty_device_cache()
            logger.warning("Out of memory; retrying with batch_size=%d.", batch_size)

    starts = range(batch_size, len(order), batch_size)
    for start in tqdm(starts, desc=desc, disable=not show_progress or len(order) < batch_size * 2):
        batch = order[start:start + batch_size]
        outputs.append(run_batch(batch))
        index_batches.append(batch)
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
