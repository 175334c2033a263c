"""FlagReranker (encoder cross-encoder) against plain transformers calls, plus the input contract."""
from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from FlagEmbedding import FlagReranker
from FlagEmbedding.abc.inference import AbsReranker


def xlmr_reference(folder, pairs, query_max_length=384, max_length=512, sigmoid=False):
    """Score each pair alone: ``<s> q </s></s> p </s>``, query then passage cut, passage cut to fit."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    cls_id, sep_id = tokenizer.convert_tokens_to_ids(["<s>", "</s>"])
    scores = []
    for query, passage in pairs:
        q_ids = tokenizer(query, add_special_tokens=False)["input_ids"][:query_max_length]
        p_ids = tokenizer(passage, add_special_tokens=False)["input_ids"][:max_length]
        p_ids = p_ids[: max(0, max_length - 4 - len(q_ids))]
        ids = [cls_id] + q_ids + [sep_id, sep_id] + p_ids + [sep_id]
        with torch.no_grad():
            logit = model(input_ids=torch.tensor([ids])).logits[0, 0].item()
        scores.append(1 / (1 + math.exp(-logit)) if sigmoid else logit)
    return scores


@pytest.fixture(scope="module")
def reranker(xlmr_reranker_dir):
    return FlagReranker(xlmr_reranker_dir, devices="cpu", batch_size=2)


def test_scores_match_plain_transformers(reranker, xlmr_reranker_dir, pairs):
    scores = reranker.compute_score(pairs)
    assert isinstance(scores, list) and all(isinstance(s, float) for s in scores)
    assert scores == pytest.approx(xlmr_reference(xlmr_reranker_dir, pairs), abs=1e-5)
    # a different batch size (other padding groups) gives the same scores in input order
    assert reranker.compute_score(pairs, batch_size=128) == pytest.approx(scores, abs=1e-5)


def test_truncation_of_query_and_passage(reranker, xlmr_reranker_dir):
    long_pairs = [
        ["what is the capital of France? " * 5, "The giant panda is a bear species endemic to China. " * 5],
        ["hi", "Paris is the capital of France. " * 10],
    ]
    scores = reranker.compute_score(long_pairs, query_max_length=6, max_length=20)
    assert scores == pytest.approx(xlmr_reference(xlmr_reranker_dir, long_pairs, 6, 20), abs=1e-5)
    # default query_max_length is max_length * 3 // 4
    scores = reranker.compute_score(long_pairs, max_length=24)
    assert scores == pytest.approx(xlmr_reference(xlmr_reranker_dir, long_pairs, 18, 24), abs=1e-5)


def test_very_long_texts_are_truncated(reranker, xlmr_reranker_dir):
    huge = [["panda " * 3000, "bear " * 5000]]
    scores = reranker.compute_score(huge, max_length=100)
    assert scores == pytest.approx(xlmr_reference(xlmr_reranker_dir, huge, 75, 100), abs=1e-5)


def test_normalize_applies_sigmoid(xlmr_reranker_dir, pairs):
    reranker = FlagReranker(xlmr_reranker_dir, devices="cpu", normalize=True)
    expected = xlmr_reference(xlmr_reranker_dir, pairs, sigmoid=True)
    assert reranker.compute_score(pairs) == pytest.approx(expected, abs=1e-5)
    raw = reranker.compute_score(pairs, normalize=False)
    assert raw == pytest.approx(xlmr_reference(xlmr_reranker_dir, pairs), abs=1e-5)


def test_single_pair_empty_and_tuple(reranker, xlmr_reranker_dir, pairs):
    expected = xlmr_reference(xlmr_reranker_dir, pairs[:1])[0]
    score = reranker.compute_score(pairs[0])
    assert isinstance(score, float) and score == pytest.approx(expected, abs=1e-5)
    assert reranker.compute_score(tuple(pairs[0])) == pytest.approx(expected, abs=1e-5)
    assert reranker.compute_score([tuple(p) for p in pairs[:2]]) == pytest.approx(
        xlmr_reference(xlmr_reranker_dir, pairs[:2]), abs=1e-5)
    assert reranker.compute_score([]) == []


@pytest.mark.parametrize("bad, error, message", [
    (None, TypeError, "`sentence_pairs` must be a pair of str or a list of pairs, got None."),
    ("just a string", TypeError, "got str"),
    ([["q", "p"], ["only one"]], ValueError, "`sentence_pairs[1]` must have exactly 2 elements"),
    ([["q", "p", "x"]], ValueError, "`sentence_pairs[0]` must have exactly 2 elements"),
    ([["q", "p"], ["q", None]], TypeError, "`sentence_pairs[1]` passage must be a str, got NoneType."),
    ([[3, "p"]], TypeError, "`sentence_pairs[0]` query must be a str, got int."),
    ([["q", "p"], [None, "p"]], TypeError, "`sentence_pairs[1]` query must be a str"),
    ([["q", "p"], "oops"], TypeError, "`sentence_pairs[1]` must be a (query, passage) pair, got str."),
    ([["q", "p"], ["q", "\ud83d"]], ValueError, "`sentence_pairs[1][1]` holds a lone surrogate ('\\ud83d')"),
])
def test_malformed_pairs_name_the_index(reranker, bad, error, message):
    with pytest.raises(error) as info:
        reranker.compute_score(bad)
    assert message in str(info.value)


@pytest.mark.parametrize("kwargs, name", [({"batch_size": 0}, "batch_size"), ({"max_length": -1}, "max_length"),
                                          ({"query_max_length": 0}, "query_max_length")])
def test_bad_lengths_are_rejected(reranker, pairs, kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}` must be a positive integer"):
        reranker.compute_score(pairs, **kwargs)


def test_instructions_are_applied(xlmr_reranker_dir, pairs):
    reranker = FlagReranker(
        xlmr_reranker_dir, devices="cpu", query_instruction_for_rerank="Q:",
        query_instruction_format="{}\\n{}", passage_instruction_for_rerank="P: ",
    )
    assert reranker.get_detailed_inputs(pairs[0]) == [["Q:\n" + pairs[0][0], "P: " + pairs[0][1]]]
    assert reranker.get_detailed_instruct("{}|{}", "a", "b") == "a|b"
    formatted = [["Q:\n" + q, "P: " + p] for q, p in pairs]
    assert reranker.compute_score(pairs) == pytest.approx(xlmr_reference(xlmr_reranker_dir, formatted), abs=1e-5)


def test_cpu_compute_has_no_permanent_side_effects(xlmr_reranker_dir, pairs):
    reranker = FlagReranker(xlmr_reranker_dir, devices="cpu", use_fp16=True)
    assert reranker.compute_score(pairs) == pytest.approx(xlmr_reference(xlmr_reranker_dir, pairs), abs=1e-5)
    assert reranker.use_fp16 is True
    assert next(reranker.model.parameters()).dtype == torch.float32


def test_cpu_bf16_is_opt_in(xlmr_reranker_dir, pairs):
    reranker = FlagReranker(xlmr_reranker_dir, devices="cpu", use_bf16=True)
    scores = reranker.compute_score(pairs)
    assert next(reranker.model.parameters()).dtype == torch.bfloat16
    assert scores == pytest.approx(xlmr_reference(xlmr_reranker_dir, pairs), abs=0.05)


def test_token_type_ids_for_bert_pairs(bert_reranker_dir, pairs):
    reranker = FlagReranker(bert_reranker_dir, devices="cpu")
    tokenizer = AutoTokenizer.from_pretrained(bert_reranker_dir)
    model = AutoModelForSequenceClassification.from_pretrained(bert_reranker_dir).eval()
    expected = []
    for query, passage in pairs:
        inputs = tokenizer(query, passage, return_tensors="pt")
        assert inputs["token_type_ids"].sum() > 0  # the passage really is segment 1
        with torch.no_grad():
            expected.append(model(**inputs).logits[0, 0].item())
    assert reranker.compute_score(pairs) == pytest.approx(expected, abs=1e-5)


def test_use_dataloader_gives_the_same_scores(reranker, xlmr_reranker_dir, pairs):
    scores = reranker.compute_score(pairs, use_dataloader=True, num_workers=2)
    assert scores == pytest.approx(xlmr_reference(xlmr_reranker_dir, pairs), abs=1e-5)


def test_multi_label_checkpoint_is_rejected(tmp_path):
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    from tests.tiny_models import save_xlmr_tokenizer

    folder = str(tmp_path / "two-labels")
    tokenizer = save_xlmr_tokenizer(folder)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1,
                              num_attention_heads=2, intermediate_size=32, num_labels=2)
    XLMRobertaForSequenceClassification(config).save_pretrained(folder)
    with pytest.raises(ValueError, match="exactly one output label.*num_labels=2"):
        FlagReranker(folder, devices="cpu")


def test_constructor_contract(xlmr_reranker_dir):
    reranker = FlagReranker(xlmr_reranker_dir, devices="cpu", cache_dir=None, custom_option=7)
    assert isinstance(reranker, AbsReranker)
    assert reranker.custom_option == 7 and reranker.kwargs["custom_option"] == 7
    assert (reranker.batch_size, reranker.max_length, reranker.query_max_length) == (128, 512, None)
    assert reranker.use_fp16 is False and reranker.normalize is False and reranker.pool is None
    assert reranker.target_devices == ["cpu"]


@pytest.mark.parametrize("backend", ["fast", "python"])
def test_pair_assembly_equals_transformers_only_second_truncation(reranker, backend):
    """Fast (tokenizers) and Python tokenizers assemble pairs like ``tokenizer(q, p, truncation="only_second")``."""
    from transformers import ByT5Tokenizer

    tokenizer = reranker.tokenizer if backend == "fast" else ByT5Tokenizer()
    pairs = [["what is a panda?", "The giant panda is a bear species endemic to China. " * 3], ["hi", "x"]]
    original = reranker.tokenizer
    reranker.tokenizer = tokenizer
    try:
        for max_length in (512, 24):
            features, lengths = reranker.prepare_features(pairs, 16, max_length, {}, {})
            expected = [tokenizer(q, p, truncation="only_second", max_length=max_length)["input_ids"] for q, p in pairs]
            assert features["input_ids"] == expected
            assert lengths == [len(ids) for ids in expected]
            assert features["attention_mask"] == [[1] * len(ids) for ids in expected]
    finally:
        reranker.tokenizer = original
