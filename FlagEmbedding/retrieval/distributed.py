"""Several processes (``torchrun``) sharing the encoding of one corpus-embedding cache.

Under ``torchrun --nnodes N --nproc_per_node G`` every rank runs the same command. :func:`init_distributed`
joins a ``gloo`` process group (``torch.distributed``); the cache then splits the shards still missing
between the ranks (:func:`assigned`), each rank writes its shards into the shared cache folder, and a
:func:`barrier` holds rank 0 until every rank is done. A rank that dies closes its gloo connections, so the
others stop with an error instead of waiting (torchrun also stops the whole group); the next launch
re-encodes only the shards that are not in the cache yet.
"""
from __future__ import annotations

import datetime
import logging
import os
from typing import List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist

from FlagEmbedding.utils.errors import InputError

logger = logging.getLogger(__name__)

#: how long a rank waits at a barrier for a slower (alive) rank: the last shards of a large corpus may take hours
BARRIER_TIMEOUT = datetime.timedelta(hours=24)


def world() -> Tuple[int, int]:
    """``(rank, world_size)`` of this process: from the process group, else torchrun's variables, else ``(0, 1)``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_distributed() -> bool:
    """True when more than one process takes part (a process group of size > 1 is initialized)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init_distributed() -> bool:
    """Join the ``gloo`` group when launched by torchrun with ``WORLD_SIZE > 1`` (an existing group is reused).

    Returns whether this run is distributed.
    """
    if is_distributed():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return False
    dist.init_process_group(backend="gloo", timeout=BARRIER_TIMEOUT)
    rank, size = world()
    logger.info("Rank %d of %d joined the gloo process group.", rank, size)
    return True


def shutdown() -> None:
    """Leave the process group joined by :func:`init_distributed` (no-op without one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def require_shared_folder(folder: Optional[str], flag: str = "--corpus_embd_save_dir") -> None:
    """``InputError`` (a ``ValueError``) when several processes run but ``folder`` (where the ranks share vectors) is
    unset."""
    if is_distributed() and not folder:
        raise InputError(f"A distributed run (torchrun with more than one process) needs {flag}: the ranks share "
                         "the corpus embeddings through that folder (on a filesystem every node can read).")


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if is_distributed():
        dist.barrier()


def broadcast_flags(flags: Sequence[bool]) -> List[bool]:
    """Rank 0's ``flags`` on every rank (each rank passes a list of the same length)."""
    if not is_distributed():
        return list(flags)
    tensor = torch.tensor([bool(flag) for flag in flags], dtype=torch.uint8)
    dist.broadcast(tensor, src=0)
    return [bool(value) for value in tensor.tolist()]


def check_same(text: str, what: str) -> None:
    """``InputError`` (a ``ValueError``) on every rank unless all ranks pass the same ``text`` (e.g. a cache
    fingerprint)."""
    if not is_distributed():
        return
    data = list(text.encode("utf-8"))
    length = torch.tensor([len(data)], dtype=torch.int64)
    dist.broadcast(length, src=0)
    reference = torch.zeros(int(length.item()), dtype=torch.uint8)
    if dist.get_rank() == 0:
        reference = torch.tensor(data, dtype=torch.uint8)
    dist.broadcast(reference, src=0)
    differs = torch.tensor([int(reference.tolist() != data)], dtype=torch.int64)
    dist.all_reduce(differs, op=dist.ReduceOp.MAX)
    if differs.item():
        raise InputError(f"The ranks disagree on {what}; every node must see the same model files and data "
                         "(same paths on a shared filesystem).")


def assigned(items: Sequence[int], rank: Optional[int] = None, world_size: Optional[int] = None) -> List[int]:
    """The items of ``items`` this rank handles: every ``world_size``-th one, starting at position ``rank``."""
    if rank is None or world_size is None:
        rank, world_size = world()
    return list(items[rank::world_size])


def local_device(devices: Optional[Sequence[str]]) -> Optional[List[str]]:
    """The device of this rank under torchrun: ``devices[LOCAL_RANK % len(devices)]``, else ``cuda:LOCAL_RANK``
    when CUDA is available, else ``devices`` unchanged (CPU)."""
    if not is_distributed():
        return None if devices is None else list(devices)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if devices:
        return [list(devices)[local_rank % len(devices)]]
    if torch.cuda.is_available():
        return [f"cuda:{local_rank % torch.cuda.device_count()}"]
    return None
