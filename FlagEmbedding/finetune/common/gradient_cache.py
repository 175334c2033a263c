"""Cached contrastive loss (GradCache: Gao et al., "Scaling Deep Contrastive Learning Batch Size under Memory
Limited Setup", 2021) for every embedder kind.

One training step with the cache (:func:`gradient_cache_step`):

1. every query and passage chunk of ``chunk_size`` rows is encoded without a graph (``torch.no_grad``), after
   recording the random state (:class:`RandContext`);
2. the reps become leaf tensors that require grad; the model's ordinary :meth:`batch_loss` runs on them (the full
   batch's scores: in-batch and cross-device negatives, distillation, MRL, M3 heads and self-distillation), and
   its backward stops at the reps, leaving ``d loss / d reps``;
3. each chunk is encoded again, with a graph, under the same random state (the same dropout masks), and
   ``sum(reps * cached grad)`` is back-propagated into the parameters; only one chunk's activations are alive.

The loss and the parameter gradients equal those of the uncached step that encodes in the same chunks
(``sub_batch_size = chunk_size``); peak memory is that of one chunk's forward and backward plus the reps, for
about one extra forward pass of compute. Under ``DistributedDataParallel`` the chunks run on the wrapped module
and the gradients are averaged over the processes once, after the last chunk (skipped inside ``no_sync``, as
DDP does for gradient accumulation).
"""
from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.checkpoint import get_device_states, set_device_states

from FlagEmbedding.utils.errors import InputError

logger = logging.getLogger(__name__)

Chunk = Dict[str, Any]
#: elements per all-reduce when gradients are averaged over processes
SYNC_BUCKET_ELEMENTS = 1 << 24


class RandContext:
    """Records the CPU (and the CUDA devices of ``tensors``) random state when built; inside ``with`` that state
    is restored, and the state from before the ``with`` is back afterwards (so replaying a chunk leaves the
    random stream where the first pass left it)."""

    def __init__(self, *tensors: Any):
        self.cpu_state = torch.get_rng_state()
        self.devices, self.device_states = get_device_states(*tensors)
        self._fork: Any = None

    def __enter__(self) -> None:
        self._fork = torch.random.fork_rng(devices=self.devices, enabled=True)
        self._fork.__enter__()
        torch.set_rng_state(self.cpu_state)
        set_device_states(self.devices, self.device_states)

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self._fork.__exit__(exc_type, exc, traceback)
        self._fork = None


def split_features(features: Any, chunk_size: int) -> List[Chunk]:
    """Collated features (a dict, or the collator's list of sub-batch dicts) as dicts of at most ``chunk_size``
    rows, in row order; ``None`` gives no chunk."""
    if chunk_size <= 0:
        raise InputError(f"gradient_cache_chunk_size must be a positive number of rows, got {chunk_size}.")
    if features is None:
        return []
    chunks = []
    for part in features if isinstance(features, list) else [features]:
        rows = part["attention_mask"].shape[0]
        for start in range(0, rows, chunk_size):
            chunks.append({key: value[start:start + chunk_size] if isinstance(value, Tensor) else value
                           for key, value in part.items()})
    return chunks


def _float_tensors(reps: Any) -> List[Tensor]:
    """The floating-point tensors of a rep (a tensor or a dict of tensors), in a fixed order."""
    if isinstance(reps, Tensor):
        return [reps] if reps.is_floating_point() else []
    if isinstance(reps, dict):
        return [tensor for key in sorted(reps) for tensor in _float_tensors(reps[key])]
    raise TypeError(f"gradient cache: reps must be a tensor or a dict of tensors, got {type(reps).__name__}.")


def _as_leaves(reps: Any) -> Any:
    """A copy of ``reps`` whose floating-point tensors are detached leaves that require grad."""
    if isinstance(reps, Tensor):
        return reps.detach().requires_grad_(True) if reps.is_floating_point() else reps
    return {key: _as_leaves(value) for key, value in reps.items()}


def _encode_without_graph(model: Any, chunks: List[Chunk]) -> Tuple[List[Any], List[RandContext]]:
    """Leaf reps of every chunk (no graph) and the random state each chunk started from."""
    reps, states = [], []
    for chunk in chunks:
        states.append(RandContext(*[value for value in chunk.values() if isinstance(value, Tensor)]))
        with torch.no_grad():
            reps.append(_as_leaves(model.encode_batch(chunk)))
    return reps, states


def _backward_chunks(model: Any, chunks: List[Chunk], leaves: List[Any], states: List[RandContext]) -> None:
    """Re-encode each chunk with a graph under its recorded random state and back-propagate the cached
    gradients of its reps."""
    for chunk, cached, state in zip(chunks, leaves, states):
        cached_leaves = _float_tensors(cached)
        if all(leaf.grad is None for leaf in cached_leaves):
            continue  # the loss does not depend on this chunk
        with state:
            fresh = _float_tensors(model.encode_batch(chunk))
        outputs = [(tensor, leaf.grad) for tensor, leaf in zip(fresh, cached_leaves)
                   if leaf.grad is not None and tensor.requires_grad]
        if outputs:
            torch.autograd.backward([tensor for tensor, _ in outputs], [grad for _, grad in outputs])


def average_gradients(module: nn.Module) -> None:
    """Average the ``.grad`` of the trainable parameters over the processes, as DDP's reducer does: a gradient
    missing on some processes counts as zeros there; one missing on every process stays ``None``."""
    world = dist.get_world_size()
    trainable = [param for param in module.parameters() if param.requires_grad]
    device = trainable[0].device if trainable else torch.device("cpu")
    used = torch.tensor([param.grad is not None for param in trainable], dtype=torch.int32, device=device)
    dist.all_reduce(used)
    params = [param for param, count in zip(trainable, used.tolist()) if count > 0]
    for param in params:
        if param.grad is None:
            param.grad = torch.zeros_like(param)
    start = 0
    while start < len(params):
        bucket: List[nn.Parameter] = []
        size = 0
        while start < len(params) and (not bucket or size + params[start].numel() <= SYNC_BUCKET_ELEMENTS):
            bucket.append(params[start])
            size += params[start].numel()
            start += 1
        grads = [param.grad for param in bucket if param.grad is not None]
        flat = torch.cat([grad.reshape(-1) for grad in grads])
        dist.all_reduce(flat)
        flat.div_(world)
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset:offset + grad.numel()].view_as(grad))
            offset += grad.numel()


def gradient_cache_step(model: nn.Module, inputs: Dict[str, Any], chunk_size: int,
                        scale_loss: Optional[Callable[[Tensor], Tensor]] = None) -> Tensor:
    """One cached training step (see the module docstring): accumulates the parameter gradients of the batch's
    loss into ``.grad`` and returns the loss (detached, unscaled).

    Args:
        model: An embedder training model (:class:`~FlagEmbedding.abc.finetune.embedder.AbsEmbedderModel`), in
            training mode, possibly wrapped in ``DistributedDataParallel``.
        inputs: The collator's batch: ``queries``, ``passages`` and optionally ``teacher_scores`` and
            ``no_in_batch_neg_flag``.
        chunk_size: Rows encoded at once (queries and passages chunked separately).
        scale_loss: Applied to the loss before its backward (gradient-accumulation division, fp16 loss scaling);
            it may raise to stop the step before any gradient is written.
    """
    if isinstance(model, nn.DataParallel):
        raise InputError("gradient_cache does not support torch.nn.DataParallel (several GPUs in one process); "
                         "launch one process per GPU with torchrun instead.")
    ddp = isinstance(model, nn.parallel.DistributedDataParallel)
    embedder: Any = model.module if ddp else model
    chunks = [split_features(inputs.get(name), chunk_size) for name in ("queries", "passages")]
    (q_leaves, q_states), (p_leaves, p_states) = [_encode_without_graph(embedder, part) for part in chunks]
    q_reps, p_reps = embedder.concat_reps(q_leaves), embedder.concat_reps(p_leaves)
    loss = embedder.batch_loss(q_reps, p_reps, inputs.get("teacher_scores"),
                               bool(inputs.get("no_in_batch_neg_flag", False)))
    scaled = scale_loss(loss) if scale_loss is not None else loss
    scaled.backward()
    del q_reps, p_reps, scaled
    _backward_chunks(embedder, chunks[0], q_leaves, q_states)
    _backward_chunks(embedder, chunks[1], p_leaves, p_states)
    if ddp and getattr(model, "require_backward_grad_sync", True) and dist.get_world_size() > 1:
        average_gradients(embedder)
    return loss.detach()


def cached_training_step(trainer: Any, model: nn.Module, inputs: Dict[str, Any]) -> Tensor:
    """``Trainer.training_step`` with the cached loss: the loss is divided by the gradient-accumulation steps
    (and fp16-scaled) before its backward, checked by ``trainer.check_loss`` first, the chunks run under the
    accelerator's autocast; returns the divided loss, as ``Trainer.training_step`` does."""
    model.train()
    if hasattr(trainer.optimizer, "train") and callable(trainer.optimizer.train):
        trainer.optimizer.train()
    inputs = trainer._prepare_inputs(inputs)
    steps = getattr(trainer, "current_gradient_accumulation_steps", None) or trainer.args.gradient_accumulation_steps
    scaler = getattr(trainer.accelerator, "scaler", None)

    def scale(loss: Tensor) -> Tensor:
        trainer.check_loss(loss)
        loss = loss / steps
        return scaler.scale(loss) if scaler is not None else loss

    with trainer.accelerator.autocast():
        loss = gradient_cache_step(model, inputs, trainer.args.gradient_cache_chunk_size, scale_loss=scale)
    return loss / steps
