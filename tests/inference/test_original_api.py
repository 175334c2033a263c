"""Calls written for the original keep their meaning: positional order, extra methods, any sequence of str."""
from collections import defaultdict

import datasets
import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from FlagEmbedding import BGEM3FlagModel, FlagModel, FlagReranker
from FlagEmbedding.retrieval.metrics import evaluate_mrr, evaluate_recall_cap
from tests import tiny_models

TEXTS = ["a quick brown fox", "jumps over the lazy dog", "hello world"]
PAIRS = [["what is a panda?", "The giant panda is a bear."], ["capital of France", "Paris is the capital."]]


@pytest.fixture(scope="module")
def flag_model(tiny_bert):
    return FlagModel(tiny_bert, devices="cpu", use_fp16=False, pooling_method="mean")


@pytest.fixture(scope="module")
def m3(tiny_xlmr_m3):
    return BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", use_fp16=False)


@pytest.fixture(scope="module")
def reranker(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rerankers") / "bge-reranker-v2-m3"
    return FlagReranker(tiny_models.save_tiny_xlmr(str(folder), classifier=True, m3_heads=False), devices="cpu")


# ---------------------------------------------------------------------------------------------- positional order
def test_m3_encode_positional_order_is_the_originals(m3):
    """``encode(s, 12, 8192, True, True, False)`` = batch 12, max length 8192, dense + sparse, no ColBERT."""
    out = m3.encode(TEXTS, 12, 8192, True, True, False)
    ref = m3.encode(TEXTS, batch_size=12, max_length=8192, return_dense=True, return_sparse=True,
                    return_colbert_vecs=False)
    assert out["colbert_vecs"] is None and len(out["lexical_weights"]) == 3
    np.testing.assert_array_equal(out["dense_vecs"], ref["dense_vecs"])
    assert out["lexical_weights"] == ref["lexical_weights"]


def test_m3_encode_queries_and_corpus_take_return_flags_positionally(m3):
    queries = m3.encode_queries(TEXTS, None, None, False, True, True)
    assert queries["dense_vecs"] is None and len(queries["lexical_weights"]) == len(queries["colbert_vecs"]) == 3
    corpus = m3.encode_corpus(TEXTS, 2, 16, True, False, False)
    assert corpus["lexical_weights"] is None and corpus["colbert_vecs"] is None
    # same batch size and length as the positional call (other batch shapes differ in the last float bits)
    np.testing.assert_allclose(corpus["dense_vecs"], m3.encode(TEXTS, batch_size=2, max_length=16)["dense_vecs"],
                               rtol=0, atol=1e-6)


def test_reranker_options_after_max_length_are_keyword_only(reranker):
    with pytest.raises(TypeError, match="positional"):
        reranker.compute_score_single_gpu(PAIRS, 8, 16, 32, True)
    assert reranker.compute_score_single_gpu(PAIRS, 8, 16, 32, normalize=True) == pytest.approx(
        reranker.compute_score(PAIRS, batch_size=8, query_max_length=16, max_length=32, normalize=True))


def test_pool_takes_a_method_name_not_a_worker_function(flag_model):
    with pytest.raises(TypeError, match=r"^`method_name` must be the name of a method \(str\) or None, got function"):
        flag_model.start_multi_process_pool(lambda *args: None)


# ---------------------------------------------------------------------------------------------- extra methods
def test_flag_model_pooling_is_the_models_pooling(flag_model, tiny_bert):
    tokenizer, model = AutoTokenizer.from_pretrained(tiny_bert), AutoModel.from_pretrained(tiny_bert).eval()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    expected = (hidden * mask).sum(1) / mask.sum(1)
    torch.testing.assert_close(flag_model.pooling(hidden, batch["attention_mask"]), expected)
    normalized = torch.nn.functional.normalize(expected, dim=-1).numpy()
    np.testing.assert_allclose(flag_model.encode(TEXTS), normalized, atol=1e-5)
    with pytest.raises(ValueError, match=r"`attention_mask` is required for pooling_method='mean'"):
        flag_model.pooling(hidden)


# ---------------------------------------------------------------------------------------------- any sequence of str
@pytest.mark.parametrize("wrap", [tuple, np.array, pd.Series, lambda texts: (t for t in texts),
                                  lambda texts: datasets.Dataset.from_dict({"text": texts})["text"]],
                         ids=["tuple", "numpy", "pandas", "generator", "datasets-column"])
def test_texts_may_be_any_sequence_of_str(flag_model, wrap):
    expected = flag_model.encode(TEXTS)
    np.testing.assert_array_equal(flag_model.encode(wrap(TEXTS)), expected)
    np.testing.assert_array_equal(flag_model.encode_corpus(wrap(TEXTS)), flag_model.encode_corpus(TEXTS))
    np.testing.assert_array_equal(flag_model.encode_queries(wrap(TEXTS)), flag_model.encode_queries(TEXTS))


def test_tutorial_usage_numpy_column_of_a_dataset(m3):
    """MIRACL / MLDR tutorials: ``model.encode(ds["text"])`` and numpy arrays of str."""
    corpus = datasets.Dataset.from_dict({"docid": ["1", "2", "3"], "text": TEXTS})
    out = m3.encode(corpus["text"], return_sparse=True)
    ref = m3.encode(TEXTS, return_sparse=True)
    np.testing.assert_array_equal(out["dense_vecs"], ref["dense_vecs"])
    assert out["lexical_weights"] == ref["lexical_weights"]
    assert isinstance(ref["lexical_weights"][0], defaultdict)
    np.testing.assert_array_equal(m3.encode_queries(np.array(TEXTS))["dense_vecs"],
                                  m3.encode_queries(TEXTS)["dense_vecs"])


@pytest.mark.parametrize("bad, message", [
    (np.array([1, 2]), r"^`sentences\[0\]` must be a str, got int64"),
    ({"a": "b"}, r"^`sentences` must be a str or a sequence of str, got dict\.$"),
    (b"bytes", r"^`sentences` must be a str or a sequence of str, got bytes\.$"),
    (pd.Series(["ok", None]), r"^`sentences\[1\]` must be a str, got float \(nan\)\.$"),
])
def test_non_string_items_are_rejected_by_position(flag_model, bad, message):
    with pytest.raises(TypeError, match=message):
        flag_model.encode(bad)


def test_pairs_may_be_any_sequence(reranker, m3):
    expected = reranker.compute_score(PAIRS)
    assert reranker.compute_score(np.array(PAIRS)) == expected
    assert reranker.compute_score(tuple(tuple(pair) for pair in PAIRS)) == expected
    assert reranker.compute_score(np.array(PAIRS[0])) == reranker.compute_score(PAIRS[0])
    assert reranker.compute_score(pd.Series([tuple(pair) for pair in PAIRS])) == expected
    assert m3.compute_score(np.array(PAIRS))["dense"] == m3.compute_score(PAIRS)["dense"]
    with pytest.raises(TypeError, match=r"`sentence_pairs\[1\]` passage must be a str, got int"):
        reranker.compute_score([["q", "p"], ["q", 3]])


def test_mrr_and_capped_recall_return_defaultdict_as_the_original():
    qrels, run = {"q": {"d1": 1}}, {"q": {"d0": 2.0, "d1": 1.0}}
    mrr, capped = evaluate_mrr(qrels, run, [1, 2]), evaluate_recall_cap(qrels, run, [1, 2])
    assert isinstance(mrr, defaultdict) and dict(mrr) == {"MRR@1": 0.0, "MRR@2": 0.5}
    assert isinstance(capped, defaultdict) and dict(capped) == {"R_cap@1": 0.0, "R_cap@2": 1.0}
