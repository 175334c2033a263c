"""Extension points of the original's training classes, with its parameters and kinds."""
from __future__ import annotations

import inspect

import pytest
import torch
from transformers import DataCollatorForSeq2Seq

from FlagEmbedding.abc.finetune.embedder import AbsEmbedderModel
from FlagEmbedding.abc.finetune.reranker import AbsLLMRerankerCollator
from tests.abc.finetune.test_losses import (B, G, IdentityEmbedder, TEMPERATURE, batch, scores_by_hand, soft_ce,
                                            teacher_targets)


def test_distill_loss_is_static_and_takes_the_loss_type_first():
    assert isinstance(inspect.getattr_static(AbsEmbedderModel, "distill_loss"), staticmethod)
    q, p, teacher = batch()
    scores = torch.tensor(scores_by_hand(q, p))
    local = torch.stack([scores[i, i * G:(i + 1) * G] for i in range(B)])
    targets = torch.tensor(teacher_targets(teacher))
    loss = AbsEmbedderModel.distill_loss("kl_div", targets, local, G)
    assert loss.item() == pytest.approx(soft_ce(targets.tolist(), local.tolist()), rel=1e-5)
    with pytest.raises(ValueError, match=r"^distill_loss: kd_loss_type='m3_kd_loss' needs group_size\.$"):
        AbsEmbedderModel.distill_loss("m3_kd_loss", targets, local)
    with pytest.raises(ValueError, match=r"kd_loss_type must be one of \['kl_div', 'm3_kd_loss'\], got 'mse'"):
        AbsEmbedderModel.distill_loss("mse", targets, local, G)


def test_local_scores_with_a_score_function_and_its_kwargs():
    model = IdentityEmbedder(None, temperature=TEMPERATURE)
    q, p, _ = batch()
    expected = [[scores_by_hand(q, p)[i][i * G + j] * 2 for j in range(G)] for i in range(B)]

    def doubled(q_reps, p_reps, factor):
        return model.compute_score(q_reps, p_reps) * factor

    local = model.compute_local_score(q, p, doubled, factor=2.0)
    torch.testing.assert_close(local, torch.tensor(expected))
    torch.testing.assert_close(model.get_local_score(q, p, model.compute_score(q, p) * 2), torch.tensor(expected))


def test_llm_reranker_collator_is_a_seq2seq_collator():
    assert issubclass(AbsLLMRerankerCollator, DataCollatorForSeq2Seq)
    assert list(inspect.signature(AbsLLMRerankerCollator.__call__).parameters) == ["self", "features",
                                                                                    "return_tensors"]


def test_m3_score_functions_of_the_original(tiny_xlmr_m3):
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import EncoderOnlyEmbedderM3Model, EncoderOnlyEmbedderM3Runner

    model = EncoderOnlyEmbedderM3Model(EncoderOnlyEmbedderM3Runner.get_model(tiny_xlmr_m3), temperature=0.5)
    generator = torch.Generator().manual_seed(0)
    q, p = torch.randn(2, 3, 4, generator=generator), torch.randn(3, 5, 4, generator=generator)
    q_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    expected = [[sum(max(float(q[i, a] @ p[j, b]) for b in range(5)) for a in range(3)) / [3, 2][i] / 0.5
                 for j in range(3)] for i in range(2)]
    torch.testing.assert_close(model.compute_colbert_score(q, p, q_mask), torch.tensor(expected))
    dense_q, dense_p = torch.randn(2, 4, generator=generator), torch.randn(3, 4, generator=generator)
    torch.testing.assert_close(model.compute_dense_score(dense_q, dense_p), dense_q @ dense_p.T / 0.5)
    torch.testing.assert_close(model.compute_sparse_score(dense_q, dense_p), dense_q @ dense_p.T / 0.5)
