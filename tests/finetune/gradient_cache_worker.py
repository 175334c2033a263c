"""Worker of test_gradient_cache's 2-process test: one rank of a gloo DDP run with ``negatives_cross_device``.

Usage: ``python -m torch.distributed.run --nproc_per_node 2 tests/finetune/gradient_cache_worker.py MODEL OUT``.
For each loss variant every rank takes one uncached DDP step and one cached step (fresh copies of the tiny BERT
``MODEL``, the same seed, dropout on) on its own rows and saves both losses and DDP-averaged gradients to
``OUT/rank<r>.pt``.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Dict

import torch
import torch.distributed as dist
from transformers import AutoModel, AutoTokenizer

from FlagEmbedding.finetune.common.gradient_cache import gradient_cache_step
from FlagEmbedding.finetune.embedder.encoder_only.base import BiEncoderOnlyEmbedderModel

VARIANTS = ("none", "kl_div", "m3_kd_loss")
QUERIES = [["what is a panda?", "capital of France", "how are you"],
           ["dense vectors for retrieval", "the quick brown fox", "numbers 0 1 2"]]
PASSAGES = ["The giant panda is a bear species endemic to China.", "Paris is the capital of France.",
            "Hi! Hello there, how are you doing today?", "Deep learning models embed text into dense vectors.",
            "The quick brown fox jumps over the lazy dog.", "numbers 0 1 2 3 4 5 6 7 8 9"]
GROUP, CHUNK = 2, 2


def step(path: str, rank: int, variant: str, cached: bool) -> Dict[str, Any]:
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    model = BiEncoderOnlyEmbedderModel(
        AutoModel.from_pretrained(path), tokenizer=tokenizer, negatives_cross_device=True, temperature=0.05,
        normalize_embeddings=True, kd_loss_type="kl_div" if variant == "none" else variant, sub_batch_size=CHUNK)
    # the BERT pooler is unused: without find_unused_parameters DDP would never reduce its bucket
    ddp = torch.nn.parallel.DistributedDataParallel(model.train(), find_unused_parameters=True)
    queries = QUERIES[rank]
    passages = [PASSAGES[(i + k + rank) % len(PASSAGES)] for i in range(len(queries)) for k in range(GROUP)]
    inputs: Dict[str, Any] = {"queries": dict(tokenizer(queries, padding=True, return_tensors="pt")),
                              "passages": dict(tokenizer(passages, padding=True, return_tensors="pt"))}
    if variant != "none":
        inputs["teacher_scores"] = [0.5 * k - rank for k in range(len(passages))]
    torch.manual_seed(100 + rank)
    if cached:
        loss = gradient_cache_step(ddp, inputs, CHUNK)
    else:
        loss = ddp(**inputs).loss
        loss.backward()
    return {"loss": float(loss.item()),
            "grads": {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}}


def main(path: str, out_dir: str) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    results = {}
    for variant in VARIANTS:
        plain, cached = step(path, rank, variant, False), step(path, rank, variant, True)
        results[variant] = {"loss": plain["loss"], "grads": plain["grads"], "cached_loss": cached["loss"],
                            "cached": cached["grads"]}
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.barrier()
    # gloo's teardown intermittently hangs after all work is done (see tests/abc/finetune/cross_device_worker.py)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
