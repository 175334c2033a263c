"""BGEM3FlagModel against a reference computed directly with transformers and the saved head weights."""
import os

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from FlagEmbedding import BGEM3FlagModel

QUERIES = ["What is a panda?", "capital of France"]
PASSAGES = ["The giant panda is a bear species endemic to China.", "Paris is the capital of France. Paris!"]


class Reference:
    """Per-text forward with plain transformers + the two linear heads loaded from their .pt files."""

    def __init__(self, path):
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.colbert = torch.nn.Linear(32, 32)
        self.colbert.load_state_dict(torch.load(os.path.join(path, "colbert_linear.pt")))
        self.sparse = torch.nn.Linear(32, 1)
        self.sparse.load_state_dict(torch.load(os.path.join(path, "sparse_linear.pt")))
        tok = self.tokenizer
        self.excluded = {tok.cls_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id}

    @torch.no_grad()
    def __call__(self, text, max_length=512):
        ids = self.tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
        hidden = self.model(input_ids=torch.tensor([ids])).last_hidden_state[0]
        dense = hidden[0] / hidden[0].norm()
        weights = torch.relu(self.sparse(hidden)).squeeze(-1)
        lexical = {}
        for token_id, weight in zip(ids, weights.tolist()):
            if token_id in self.excluded or weight <= 0:
                continue
            lexical[str(token_id)] = max(lexical.get(str(token_id), 0.0), weight)
        colbert = self.colbert(hidden[1:])
        colbert = colbert / colbert.norm(dim=-1, keepdim=True)
        return dense.numpy(), lexical, colbert.numpy()


@pytest.fixture(scope="module")
def m3(tiny_xlmr_m3):
    return BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", batch_size=1)


@pytest.fixture(scope="module")
def ref(tiny_xlmr_m3):
    return Reference(tiny_xlmr_m3)


def test_three_outputs_match_reference(m3, ref):
    texts = QUERIES + PASSAGES
    out = m3.encode(texts, return_dense=True, return_sparse=True, return_colbert_vecs=True)
    assert set(out) == {"dense_vecs", "lexical_weights", "colbert_vecs"}
    for i, text in enumerate(texts):
        dense, lexical, colbert = ref(text)
        np.testing.assert_allclose(out["dense_vecs"][i], dense, atol=1e-5)
        got = out["lexical_weights"][i]
        assert sorted(got) == sorted(lexical)
        assert all(isinstance(k, str) for k in got)
        for key, weight in lexical.items():
            assert abs(float(got[key]) - weight) < 1e-5
        assert out["colbert_vecs"][i].shape == colbert.shape  # every token after CLS, incl. the final </s>
        np.testing.assert_allclose(out["colbert_vecs"][i], colbert, atol=1e-5)


def test_unrequested_outputs_are_none_and_single_string_unwraps(m3, ref):
    out = m3.encode(QUERIES[0])
    assert out["lexical_weights"] is None and out["colbert_vecs"] is None
    np.testing.assert_allclose(out["dense_vecs"], ref(QUERIES[0])[0], atol=1e-5)
    single = m3.encode(QUERIES[0], return_sparse=True, return_colbert_vecs=True)
    assert isinstance(single["lexical_weights"], dict)
    assert single["colbert_vecs"].ndim == 2
    empty = m3.encode([], return_sparse=True)
    assert empty["dense_vecs"].shape == (0, 32) and empty["lexical_weights"] == []


def test_no_mode_selected_is_an_error(m3):
    with pytest.raises(ValueError, match="Must choose one or more from"):
        m3.encode(["x"], return_dense=False, return_sparse=False, return_colbert_vecs=False)


def test_helpers(m3, ref):
    out = m3.encode(QUERIES + PASSAGES, return_sparse=True, return_colbert_vecs=True)
    lw = out["lexical_weights"]
    a, b = lw[1], lw[3]
    expected = sum(float(w) * float(b[k]) for k, w in a.items() if k in b)
    assert abs(m3.compute_lexical_matching_score(a, b) - expected) < 1e-6
    matrix = m3.compute_lexical_matching_score(lw[:2], lw[2:])
    assert matrix.shape == (2, 2) and abs(matrix[1, 1] - expected) < 1e-6
    with pytest.raises(ValueError, match="The input format of lexical_weights is not correct."):
        m3.compute_lexical_matching_score(a, lw)
    q, p = out["colbert_vecs"][0], out["colbert_vecs"][2]
    assert abs(float(m3.colbert_score(q, p)) - float((q @ p.T).max(1).sum() / len(q))) < 1e-5
    tokens = m3.convert_id_to_token(lw[0])
    assert isinstance(tokens, dict)
    assert set(tokens) == {m3.tokenizer.decode([int(k)]) for k in lw[0]}


def test_compute_score_matches_reference(m3, ref):
    pairs = [[q, p] for q in QUERIES for p in PASSAGES]
    weights = [0.4, 0.2, 0.4]
    scores = m3.compute_score(pairs, weights_for_different_modes=weights, max_query_length=8, max_passage_length=12)
    assert list(scores) == ["colbert", "sparse", "dense", "sparse+dense", "colbert+sparse+dense"]
    for i, (q, p) in enumerate(pairs):
        qd, ql, qc = ref(q, 8)
        pd, pl, pc = ref(p, 12)
        dense = float(qd @ pd)
        sparse = sum(w * pl[k] for k, w in ql.items() if k in pl)
        colbert = float((qc @ pc.T).max(1).sum() / len(qc))
        assert abs(scores["dense"][i] - dense) < 1e-5
        assert abs(scores["sparse"][i] - sparse) < 1e-5
        assert abs(scores["colbert"][i] - colbert) < 1e-5
        assert abs(scores["sparse+dense"][i] - (0.2 * sparse + 0.4 * dense) / 0.6) < 1e-5
        assert abs(scores["colbert+sparse+dense"][i] - (0.4 * colbert + 0.2 * sparse + 0.4 * dense)) < 1e-5
    one = m3.compute_score(pairs[0])
    assert isinstance(one["dense"], float)
    assert m3.compute_score([]) == []


def test_compute_score_on_two_devices(tiny_xlmr_m3, m3):
    pairs = [[q, p] for q in QUERIES for p in PASSAGES]
    multi = BGEM3FlagModel(tiny_xlmr_m3, devices=["cpu", "cpu"])
    multi.encode(QUERIES)  # an encode pool exists: compute_score must still work (no pickled pool)
    got = multi.compute_score(pairs)
    want = m3.compute_score(pairs)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=1e-6)
    one = multi.compute_score(pairs[0])  # a single pair on several devices is wrapped first
    assert abs(one["dense"] - want["dense"][0]) < 1e-6
    merged = multi.encode(QUERIES + PASSAGES, return_sparse=True, return_colbert_vecs=True)
    assert len(merged["lexical_weights"]) == 4 and len(merged["colbert_vecs"]) == 4
    multi.stop_self_pool()


@pytest.mark.parametrize("weights,message", [
    ([0, 0, 0], r"weights_for_different_modes \[0, 0, 0\]: the dense \+ sparse weights and the sum of all three must "
                r"not be 0 \(the hybrid scores divide by them\)\."),
    ([0, 0, 1], r"weights_for_different_modes \[0, 0, 1\]: the dense \+ sparse weights"),
    ([1, float("nan"), 1], r"weights_for_different_modes must be 3 finite numbers, got \[1, nan, 1\]\."),
])
def test_compute_score_rejects_weights_that_would_give_nan(m3, weights, message):
    with pytest.raises(ValueError, match=rf"^{message}"):
        m3.compute_score([["q", "p"]], weights_for_different_modes=weights)
