"""``negatives_cross_device`` under ``torchrun --nproc_per_node 2`` (CPU, gloo) equals one process on the
concatenated batch: the same loss and, after DDP's gradient averaging, the same gradients."""
from __future__ import annotations

import json
import sys

import pytest
import torch

from tests.abc.finetune import cross_device_worker as worker
from tests.helpers.training import run_subprocess


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("cross_device")
    run_subprocess([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                    "--standalone", worker.__file__, str(out)], timeout=300)
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


@pytest.mark.parametrize("kd", worker.LOSS_TYPES)
def test_cross_device_matches_single_process(rank_results, kd):
    q, p, teacher = worker.full_batch(2)
    single = worker.make_model(kd, cross_device=False)
    loss, grad = worker.loss_and_grad(single, q, p, None if kd == "none" else teacher)
    rank_losses = [result[kd]["loss"] for result in rank_results]
    if kd == "kl_div":  # each rank distills its own rows: the mean over ranks is the single-process loss
        assert sum(rank_losses) / 2 == pytest.approx(loss, rel=1e-5)
    else:
        assert rank_losses == pytest.approx([loss, loss], rel=1e-5)
    for result in rank_results:  # DDP leaves the averaged gradient on every rank
        assert torch.allclose(torch.tensor(result[kd]["grad"]), torch.tensor(grad), rtol=1e-4, atol=1e-6)
