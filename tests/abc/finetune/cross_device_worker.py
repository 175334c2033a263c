"""Worker of test_cross_device: one rank of a 2-process gloo run with ``negatives_cross_device``.

Usage: ``python -m torch.distributed.run --nproc_per_node 2 tests/abc/finetune/cross_device_worker.py OUT_DIR``.
Each rank trains on its slice of the batch built by :func:`full_batch` under DDP and writes its loss and the
(DDP-averaged) gradient per loss type to ``OUT_DIR/rank<r>.json``.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Dict, List, Optional, Tuple

import torch
import torch.distributed as dist

from FlagEmbedding.abc.finetune.embedder import AbsEmbedderModel

B, G, D, TEMPERATURE = 2, 3, 4, 0.5
LOSS_TYPES = ("none", "kl_div", "m3_kd_loss")


class ProjectionEmbedder(AbsEmbedderModel):
    """Reps = normalized linear projection of the ``x`` feature (so there are gradients to compare)."""

    def encode_batch(self, features: Dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.nn.functional.normalize(self.model(features["x"]), dim=-1)


def full_batch(world_size: int) -> Tuple[torch.Tensor, torch.Tensor, List[float]]:
    """Queries, passages and teacher scores of all ranks together (rank r owns rows r*B..)."""
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(world_size * B, D, generator=generator)
    p = torch.randn(world_size * B * G, D, generator=generator)
    teacher = torch.randn(world_size * B * G, generator=generator).tolist()
    return q, p, teacher


def make_model(kd: str, cross_device: bool) -> ProjectionEmbedder:
    torch.manual_seed(1)
    return ProjectionEmbedder(torch.nn.Linear(D, D, bias=False), negatives_cross_device=cross_device,
                              temperature=TEMPERATURE, kd_loss_type="kl_div" if kd == "none" else kd)


def loss_and_grad(model: torch.nn.Module, q, p, teacher: Optional[List[float]]) -> Tuple[float, List[List[float]]]:
    loss = model(queries={"x": q}, passages={"x": p}, teacher_scores=teacher).loss
    loss.backward()
    weight = model.module.model.weight if hasattr(model, "module") else model.model.weight
    return loss.item(), weight.grad.tolist()


def main(out_dir: str) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    q, p, teacher = full_batch(world)
    q_local, p_local = q[rank * B:(rank + 1) * B], p[rank * B * G:(rank + 1) * B * G]
    t_local = teacher[rank * B * G:(rank + 1) * B * G]
    results = {}
    for kd in LOSS_TYPES:
        model = torch.nn.parallel.DistributedDataParallel(make_model(kd, cross_device=True))
        loss, grad = loss_and_grad(model, q_local, p_local, None if kd == "none" else t_local)
        results[kd] = {"loss": loss, "grad": grad}
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
        json.dump(results, handle)
    dist.barrier()
    # gloo's teardown (destroy_process_group / interpreter exit) intermittently hangs after all work is done;
    # every result is on disk, so leave without it
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
