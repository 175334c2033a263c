"""The timed training-step loop of ``train_step.py``, shared by our interpreter and the original's worker.

Collated batches travel between interpreters as one safetensors file (tensors under ``"<step>.<group>.<name>"``,
the non-tensor fields of each batch as JSON in the file's metadata); no pickles. Needs only torch, safetensors
and :func:`_common.measure`, so the original FlagEmbedding 1.4.2's venv can import it.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, List

import torch
from safetensors.torch import load_file, save_file

from _common import measure


def save_batches(batches: List[Dict[str, Any]], path: str) -> None:
    """Write ``batches`` (feature dicts of tensors plus JSON-serializable fields) to the safetensors file ``path``."""
    tensors, extras = {}, []
    for step, batch in enumerate(batches):
        extras.append({})
        for group, value in batch.items():
            if isinstance(value, dict):
                tensors.update({f"{step}.{group}.{name}": tensor.contiguous() for name, tensor in value.items()})
            else:
                extras[-1][group] = value
    save_file(tensors, path, metadata={"extras": json.dumps(extras)})


def load_batches(path: str) -> List[Dict[str, Any]]:
    """The batches written by :func:`save_batches`."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        batches: List[Dict[str, Any]] = [dict(extra) for extra in json.loads(handle.metadata()["extras"])]
    for key, tensor in load_file(path).items():
        step, group, name = key.split(".", 2)
        batches[int(step)].setdefault(group, {})[name] = tensor
    return batches


def count_tokens(batches: List[Dict[str, Any]]) -> int:
    """Non-padding tokens of every feature dict of ``batches``."""
    return sum(int(value["attention_mask"].sum()) for batch in batches for value in batch.values()
               if isinstance(value, dict))


def timed_steps(module: torch.nn.Module, initial: Dict[str, torch.Tensor], batches: List[Dict[str, Any]],
                step_loss: Callable[[Dict[str, Any]], torch.Tensor], learning_rate: float,
                weight_decay: float, backward: bool = True) -> Dict[str, Any]:
    """Forward + loss + backward + AdamW step of ``module`` over ``batches``: one untimed warm-up step (kernel
    selection, first allocations), then the timed steps, each starting from ``initial`` weights, a fresh
    optimizer and ``torch.manual_seed(0)`` (the same dropout masks in every loop). Returns the timed wall and CPU
    seconds, the peak RSS increase (MiB) of the timed steps and their losses. ``backward=False``: ``step_loss``
    already wrote the gradients (the cached loss)."""
    module.train()
    for warm_up in (True, False):
        module.load_state_dict(initial)
        torch.manual_seed(0)
        optimizer = torch.optim.AdamW(module.parameters(), lr=learning_rate, weight_decay=weight_decay)
        losses, stats = [], {}
        with measure(stats):
            for batch in batches[:1] if warm_up else batches:
                loss = step_loss(batch)
                if backward:
                    loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(float(loss.detach()))
    return {"seconds": stats["seconds"], "cpu_seconds": stats["cpu_seconds"],
            "peak_rss_increase_mib": stats["peak_rss_mib"], "losses": losses}
