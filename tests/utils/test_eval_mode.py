"""``eval_mode``: eval inside the block, the training flag restored after (also on error)."""
from __future__ import annotations

import pytest
import torch

from FlagEmbedding.utils.eval_mode import eval_mode


@pytest.mark.parametrize("training", [True, False])
def test_eval_inside_and_the_flag_restored_after(training):
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)).train(training)
    with eval_mode(model) as inside:
        assert inside is model and not model.training and not model[1].training
    assert model.training is training and model[1].training is training


def test_flag_restored_when_the_block_raises():
    model = torch.nn.Dropout(0.5).train()
    with pytest.raises(RuntimeError, match="^boom$"):
        with eval_mode(model):
            raise RuntimeError("boom")
    assert model.training
