"""Losses of a fixed tiny batch against references computed by hand (plain Python math)."""
from __future__ import annotations

import math
from typing import Dict, List

import pytest
import torch

from FlagEmbedding.abc.finetune.embedder import AbsEmbedderModel
from FlagEmbedding.abc.finetune.reranker import AbsRerankerModel

B, G, D, TEMPERATURE = 2, 3, 4, 0.5


class IdentityEmbedder(AbsEmbedderModel):
    """Reps are the ``x`` feature itself, so the loss can be checked on known vectors."""

    def encode_batch(self, features: Dict[str, torch.Tensor]) -> torch.Tensor:
        return features["x"]


def batch():
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(B, D, generator=generator)
    p = torch.randn(B * G, D, generator=generator)
    teacher = [3.0, 1.0, 0.5, 0.2, 2.0, -1.0]
    return q, p, teacher


def dot(a: List[float], b: List[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def scores_by_hand(q, p) -> List[List[float]]:
    return [[dot(qi, pj) / TEMPERATURE for pj in p.tolist()] for qi in q.tolist()]


def ce(row: List[float], target: int) -> float:
    return -row[target] + math.log(sum(math.exp(v) for v in row))


def log_softmax(row: List[float]) -> List[float]:
    norm = math.log(sum(math.exp(v) for v in row))
    return [v - norm for v in row]


def softmax(row: List[float]) -> List[float]:
    total = sum(math.exp(v) for v in row)
    return [math.exp(v) / total for v in row]


def teacher_targets(teacher: List[float]) -> List[List[float]]:
    return [softmax(teacher[i * G:(i + 1) * G]) for i in range(B)]


def soft_ce(targets: List[List[float]], student: List[List[float]]) -> float:
    return -sum(sum(t * s for t, s in zip(tr, log_softmax(sr))) for tr, sr in zip(targets, student)) / len(student)


def m3_by_hand(targets: List[List[float]], scores: List[List[float]], first: List[int]) -> float:
    total = 0.0
    for i in range(G):
        per_query = []
        for row_index, row in enumerate(scores):
            masked = list(row)
            for earlier in range(i):
                masked[first[row_index] + earlier] = torch.finfo(torch.float32).min
            per_query.append(targets[row_index][i] * ce(masked, first[row_index] + i))
        total += sum(per_query) / len(per_query)
    return total


def loss_of(kd_loss_type="kl_div", teacher=True, no_in_batch=False, **kwargs) -> float:
    q, p, scores = batch()
    model = IdentityEmbedder(None, temperature=TEMPERATURE, kd_loss_type=kd_loss_type, **kwargs)
    out = model(queries={"x": q}, passages={"x": p}, teacher_scores=scores if teacher else None,
                no_in_batch_neg_flag=no_in_batch)
    return out.loss.item()


def test_in_batch_loss_without_teacher():
    q, p, _ = batch()
    full = scores_by_hand(q, p)
    expected = sum(ce(full[i], i * G) for i in range(B)) / B
    assert loss_of(teacher=False) == pytest.approx(expected, rel=1e-5)


def test_in_batch_kl_div_adds_soft_ce_on_own_group():
    q, p, teacher = batch()
    full = scores_by_hand(q, p)
    local = [full[i][i * G:(i + 1) * G] for i in range(B)]
    expected = soft_ce(teacher_targets(teacher), local) + sum(ce(full[i], i * G) for i in range(B)) / B
    assert loss_of("kl_div") == pytest.approx(expected, rel=1e-5)


def test_in_batch_m3_kd_loss_on_full_matrix():
    q, p, teacher = batch()
    expected = m3_by_hand(teacher_targets(teacher), scores_by_hand(q, p), [i * G for i in range(B)])
    assert loss_of("m3_kd_loss") == pytest.approx(expected, rel=1e-5)


def test_no_in_batch_losses_use_own_group_only():
    q, p, teacher = batch()
    full = scores_by_hand(q, p)
    local = [full[i][i * G:(i + 1) * G] for i in range(B)]
    plain = sum(ce(row, 0) for row in local) / B
    assert loss_of(teacher=False, no_in_batch=True) == pytest.approx(plain, rel=1e-5)
    targets = teacher_targets(teacher)
    assert loss_of("kl_div", no_in_batch=True) == pytest.approx(soft_ce(targets, local) + plain, rel=1e-5)
    # FlagEmbedding 1.4.2 raised IndexError here for B > 1; the local variant targets column i of each (B, G) row.
    assert loss_of("m3_kd_loss", no_in_batch=True) == pytest.approx(m3_by_hand(targets, local, [0] * B), rel=1e-5)


def test_mrl_averages_renormalized_prefix_losses():
    q, p, _ = batch()

    def normalized(rows):
        return [[v / math.sqrt(sum(x * x for x in row)) for v in row] for row in rows]

    expected = []
    for dim in (2, 4):
        qd = torch.tensor(normalized([row[:dim] for row in q.tolist()]))
        pd = torch.tensor(normalized([row[:dim] for row in p.tolist()]))
        full = scores_by_hand(qd, pd)
        expected.append(sum(ce(full[i], i * G) for i in range(B)) / B)
    got = loss_of(teacher=False, use_mrl=True, mrl_dims=[2, 9], normalize_embeddings=True)  # 9 is capped at 4
    assert got == pytest.approx(sum(expected) / 2, rel=1e-5)


def test_sub_batches_give_the_same_loss():
    q, p, teacher = batch()
    whole = IdentityEmbedder(None, temperature=TEMPERATURE)(queries={"x": q}, passages={"x": p},
                                                             teacher_scores=teacher).loss
    sliced = IdentityEmbedder(None, temperature=TEMPERATURE, sub_batch_size=4)(
        queries={"x": q}, passages={"x": p}, teacher_scores=teacher).loss
    chunked = IdentityEmbedder(None, temperature=TEMPERATURE)(
        queries=[{"x": q[:1]}, {"x": q[1:]}], passages=[{"x": p[:4]}, {"x": p[4:]}], teacher_scores=teacher).loss
    assert sliced.item() == pytest.approx(whole.item(), rel=1e-6)
    assert chunked.item() == pytest.approx(whole.item(), rel=1e-6)


def test_eval_mode_returns_no_loss():
    q, p, _ = batch()
    model = IdentityEmbedder(None).eval()
    assert model(queries={"x": q}, passages={"x": p}).loss is None


def test_constructor_errors():
    with pytest.raises(ValueError, match="negatives_cross_device=True needs an initialized torch.distributed"):
        IdentityEmbedder(None, negatives_cross_device=True)
    with pytest.raises(ValueError, match="use_mrl=True needs at least one value in mrl_dims."):
        IdentityEmbedder(None, use_mrl=True)
    with pytest.raises(ValueError, match="kd_loss_type must be one of"):
        IdentityEmbedder(None, kd_loss_type="mse")


class LogitReranker(AbsRerankerModel):
    """Scores are the ``x`` feature itself."""

    def encode(self, features):
        return features["x"]


def test_reranker_loss_ce_plus_teacher_soft_ce():
    logits = [2.0, 0.5, -1.0, 0.3, 1.2, 0.0]
    teacher = [3.0, 1.0, 0.5, 0.2, 2.0, -1.0]
    model = LogitReranker(torch.nn.Identity(), train_batch_size=2, train_group_size=G)
    out = model(pair={"x": torch.tensor(logits).view(-1, 1)}, teacher_scores=teacher)
    groups = [logits[:3], logits[3:]]
    expected = sum(ce(g, 0) for g in groups) / 2 + soft_ce(teacher_targets(teacher), groups)
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    assert out.scores.view(-1).tolist() == pytest.approx(logits)


def test_reranker_short_last_batch_uses_group_size():
    logits = [2.0, 0.5, -1.0]  # one query although train_batch_size is 4
    model = LogitReranker(torch.nn.Identity(), train_batch_size=4, train_group_size=3)
    out = model(pair={"x": torch.tensor(logits)})
    assert out.loss.item() == pytest.approx(ce(logits, 0), rel=1e-6)
    with pytest.raises(ValueError, match="4 pair scores cannot be split into groups of 3."):
        model(pair={"x": torch.zeros(4)})
