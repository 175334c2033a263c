"""One input path per reranker: a pair scored by the training model equals the same pair scored by the
inference class (cross-encoder and LLM), and the shared rules against hand-computed values."""
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from FlagEmbedding import FlagLLMReranker, FlagReranker
from FlagEmbedding.abc.finetune.reranker import (AbsLLMRerankerCollator, AbsLLMRerankerTrainDataset,
                                                 AbsRerankerCollator, AbsRerankerDataArguments,
                                                 AbsRerankerTrainDataset)
from FlagEmbedding.finetune.reranker.decoder_only.base import CrossDecoderModel
from FlagEmbedding.finetune.reranker.decoder_only.base.runner import configure_reranker_tokenizer
from FlagEmbedding.finetune.reranker.encoder_only.base import CrossEncoderModel
from FlagEmbedding.utils.reranker_inputs import bos_ids, keep_of_second, llm_input_ids, yes_token_id
from tests import tiny_models

PAIRS = [["what is a panda?", "The giant panda is a bear species endemic to China, with black and white fur."],
         ["capital of France", "Paris is the capital of France."],
         ["a much longer query with many words in it to cut", "short passage"]]
PROMPT = "Predict whether passage B answers query A."


def data_args(tmp_path, **options) -> AbsRerankerDataArguments:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"query": "q", "pos": ["p"], "neg": ["n"]}) + "\n")
    return AbsRerankerDataArguments(train_data=[str(path)], train_group_size=2, **options)


def test_cross_encoder_training_and_inference_score_a_pair_alike(tmp_path):
    folder = tiny_models.save_tiny_xlmr(str(tmp_path / "bge-reranker-v2-m3"), classifier=True, m3_heads=False)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    dataset = AbsRerankerTrainDataset(data_args(tmp_path, query_max_len=8, passage_max_len=16), tokenizer)
    inference = FlagReranker(folder, devices="cpu")
    # the training budgets: query 8 + 16 // 4, passage 16 + 8 // 2, pair 8 + 16
    features, _ = inference.prepare_features(PAIRS, 12, 24, {}, {})
    examples = [dataset.create_one_example(query, passage) for query, passage in PAIRS]
    assert [example["input_ids"] for example in examples] == features["input_ids"]
    assert max(len(ids) for ids in features["input_ids"]) == 24  # the pair truncation was exercised
    batch = AbsRerankerCollator(tokenizer=tokenizer, padding=True, return_tensors="pt")([(examples, None)])["pair"]
    model = CrossEncoderModel(AutoModelForSequenceClassification.from_pretrained(folder), tokenizer).eval()
    with torch.no_grad():
        training_scores = model.encode(batch).view(-1).tolist()
    assert inference.compute_score(PAIRS, query_max_length=12, max_length=24) == pytest.approx(training_scores,
                                                                                               abs=1e-5)


def test_llm_training_and_inference_score_a_pair_alike(tmp_path):
    folder = tiny_models.save_tiny_decoder(str(tmp_path / "bge-reranker-v2-gemma"), causal_lm=True)
    tokenizer = configure_reranker_tokenizer(AutoTokenizer.from_pretrained(folder))
    dataset = AbsLLMRerankerTrainDataset(data_args(tmp_path, query_max_len=64, passage_max_len=64), tokenizer)
    inference = FlagLLMReranker(folder, devices="cpu", query_instruction_for_rerank=None,
                                passage_instruction_for_rerank=None, prompt=PROMPT)
    examples = [dataset.create_one_example(query, passage, prompt=PROMPT) for query, passage in PAIRS]
    features, _ = inference.prepare_features(PAIRS, 64, 64, {"prompt": PROMPT}, {})
    assert [example["input_ids"] for example in examples] == features["input_ids"]
    assert inference.yes_loc == yes_token_id(tokenizer)
    collator = AbsLLMRerankerCollator(tokenizer=tokenizer, padding=True, pad_to_multiple_of=8)
    batch = collator([(examples, None)])["pair"]
    model = CrossDecoderModel(AutoModelForCausalLM.from_pretrained(folder), tokenizer).eval()
    assert model.yes_loc == inference.yes_loc
    with torch.no_grad():
        training_scores = model.encode(batch).view(-1).tolist()
    assert inference.compute_score(PAIRS) == pytest.approx(training_scores, abs=1e-5)


class _Tokenizer:
    """Stands in for a tokenizer that splits ``Yes`` into two pieces."""

    bos_token_id, pad_token_id = 1, 1

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [41, 42] if text == "Yes" else []}


def test_yes_is_the_first_sub_token_and_bos_follows_the_pad_rule():
    tokenizer = _Tokenizer()
    assert yes_token_id(tokenizer) == 41  # the next-token prediction after the prompt starts "Yes"
    assert bos_ids(tokenizer) == [] and bos_ids(tokenizer, always=True) == [1]  # BOS equal to pad
    tokenizer.pad_token_id = 0
    assert bos_ids(tokenizer) == [1]


@pytest.mark.parametrize("first, second, limit, kept", [(3, 10, 20, 10), (3, 10, 8, 5), (9, 4, 8, 4), (3, 5, 3, 5)])
def test_only_second_truncation(first, second, limit, kept):
    """As transformers' ``truncation="only_second"``: nothing is cut when the first part alone overflows."""
    assert keep_of_second(first, second, limit) == kept


def test_llm_input_layout():
    assert llm_input_ids([1], [10, 11], [5], [20, 21, 22], [30], 6) == [1, 10, 11, 5, 20, 21, 5, 30]
