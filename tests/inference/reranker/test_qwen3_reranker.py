"""Qwen3-Reranker: the registry picks the Qwen3 class, and its scores equal the model card's own computation
(tokenizer + AutoModelForCausalLM logits, yes/no log_softmax), written out below, on a tiny random Qwen3."""
from __future__ import annotations

import functools
import math
import os
import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from FlagEmbedding import FlagAutoReranker, FlagLLMReranker, RerankerModelClass
from FlagEmbedding.inference.reranker.decoder_only import Qwen3LLMReranker
from FlagEmbedding.utils.errors import InputError
from tests.tiny_models import save_tiny_decoder

# ---------------------------------------------------------------------------- the model card, verbatim in spirit
CARD_SYSTEM = ('Judge whether the Document meets the requirements based on the Query and the Instruct provided. '
               'Note that the answer can only be "yes" or "no".')
CARD_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
CARD_MAX_LENGTH = 8192


def card_prefix(system: str = CARD_SYSTEM) -> str:
    return "<|im_start|>system\n" + system + "<|im_end|>\n<|im_start|>user\n"


def format_instruction(instruction, query, doc):
    if instruction is None:
        instruction = 'Given a web search query, retrieve relevant passages that answer the query'
    return "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}".format(
        instruction=instruction, query=query, doc=doc)


@functools.lru_cache(maxsize=None)
def card_model(folder):
    """The model card's loading: the tokenizer padded on the left, the causal LM in eval mode."""
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    return tokenizer, AutoModelForCausalLM.from_pretrained(folder).eval()


def card_logits(folder, pairs, instruction=None, max_length=CARD_MAX_LENGTH, system=CARD_SYSTEM):
    """``(logit("no"), logit("yes"))`` per pair, computed as the model card does (one left-padded batch)."""
    tokenizer, model = card_model(folder)
    token_false_id = tokenizer.convert_tokens_to_ids("no")
    token_true_id = tokenizer.convert_tokens_to_ids("yes")
    prefix_tokens = tokenizer.encode(card_prefix(system), add_special_tokens=False)
    suffix_tokens = tokenizer.encode(CARD_SUFFIX, add_special_tokens=False)
    texts = [format_instruction(instruction, query, doc) for query, doc in pairs]
    inputs = tokenizer(texts, padding=False, truncation="longest_first", return_attention_mask=False,
                       max_length=max_length - len(prefix_tokens) - len(suffix_tokens))
    for i, ele in enumerate(inputs["input_ids"]):
        inputs["input_ids"][i] = prefix_tokens + ele + suffix_tokens
    inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
    with torch.no_grad():
        batch_scores = model(**inputs).logits[:, -1, :]
    return torch.stack([batch_scores[:, token_false_id], batch_scores[:, token_true_id]], dim=1)


def card_scores(folder, pairs, **kwargs):
    """The model card's ``compute_logits``: ``exp(log_softmax([no, yes])[:, 1])``."""
    batch_scores = torch.nn.functional.log_softmax(card_logits(folder, pairs, **kwargs), dim=1)
    return batch_scores[:, 1].exp().tolist()


# the model card pads with ``max_length`` and ``padding=True`` (transformers warns that max_length is then unused)
pytestmark = pytest.mark.filterwarnings("ignore:`max_length` is ignored when `padding`=`True`:UserWarning")

# ---------------------------------------------------------------------------- fixtures
LONG_DOC = " ".join(["The giant panda is a bear species endemic to China, what is a panda?"] * 12)
PAIRS = [
    ["what is panda?", "hi"],
    ["what is panda?", "The giant panda is a bear species endemic to China."],
    ["Hi! Hello there?", LONG_DOC],
    ["capital of France?", "Paris is the capital of France. Yes or No: does it answer?"],
]


@pytest.fixture(scope="module")
def qwen3_dir(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("qwen3") / "Qwen3-Reranker-0.6B"
    return save_tiny_decoder(str(folder), causal_lm=True, arch="qwen3")


@pytest.fixture(scope="module")
def reranker(qwen3_dir) -> Qwen3LLMReranker:
    return Qwen3LLMReranker(qwen3_dir, devices="cpu")


# ---------------------------------------------------------------------------- registry
@pytest.mark.parametrize("name", ["Qwen/Qwen3-Reranker-0.6B", "Qwen/Qwen3-Reranker-4B", "Qwen/Qwen3-Reranker-8B",
                                  "./runs/Qwen3-Reranker-4B/checkpoint-10/"])
def test_registry_names_resolve_to_the_qwen3_class(name):
    assert FlagAutoReranker.reranker_class(name) is Qwen3LLMReranker
    assert FlagAutoReranker.reranker_class("anything", model_class="decoder-only-qwen3") is Qwen3LLMReranker
    assert RerankerModelClass("decoder-only-qwen3") is RerankerModelClass.DECODER_ONLY_QWEN3
    assert issubclass(Qwen3LLMReranker, FlagLLMReranker)


def test_from_finetuned_loads_the_template_by_folder_name_and_by_model_class(qwen3_dir, tmp_path):
    expected = card_scores(qwen3_dir, PAIRS[:2])
    auto = FlagAutoReranker.from_finetuned(qwen3_dir, devices="cpu")
    assert type(auto) is Qwen3LLMReranker and auto.trust_remote_code is False
    assert auto.compute_score(PAIRS[:2]) == pytest.approx(expected, abs=1e-5)
    renamed = tmp_path / "my-qwen3-finetune"
    shutil.copytree(qwen3_dir, renamed)
    with pytest.raises(ValueError, match="decoder-only-lightweight, decoder-only-qwen3"):
        FlagAutoReranker.from_finetuned(str(renamed), devices="cpu")
    explicit = FlagAutoReranker.from_finetuned(str(renamed), model_class="decoder-only-qwen3", devices="cpu")
    assert type(explicit) is Qwen3LLMReranker
    assert explicit.compute_score(PAIRS[:2]) == pytest.approx(expected, abs=1e-5)


# ---------------------------------------------------------------------------- scores
@pytest.mark.parametrize("batch_size", [128, 3])
def test_scores_equal_the_model_card_with_left_padding_and_truncation(qwen3_dir, batch_size):
    tokenizer = AutoTokenizer.from_pretrained(qwen3_dir)
    max_length = 96
    room = max_length - len(tokenizer.encode(card_prefix(), add_special_tokens=False)) - \
        len(tokenizer.encode(CARD_SUFFIX, add_special_tokens=False))
    lengths = [len(tokenizer(format_instruction(None, q, d))["input_ids"]) for q, d in PAIRS]
    assert lengths[2] > room > max(lengths[:2] + lengths[3:])  # the long pair is cut, the others are not
    assert len(set(lengths)) == len(lengths)  # every row is padded differently

    reranker = Qwen3LLMReranker(qwen3_dir, devices="cpu", max_length=max_length, batch_size=batch_size)
    assert reranker.tokenizer.padding_side == "left" and reranker.normalize is True
    expected = card_scores(qwen3_dir, PAIRS, max_length=max_length)
    scores = reranker.compute_score(PAIRS)
    assert scores == pytest.approx(expected, abs=1e-5)
    assert all(0.0 < s < 1.0 for s in scores)
    # the truncated pair differs from the same pair scored whole (the default max_length keeps it whole)
    whole = card_scores(qwen3_dir, PAIRS[2:3])[0]
    assert abs(whole - expected[2]) > 1e-4
    assert Qwen3LLMReranker(qwen3_dir, devices="cpu", batch_size=batch_size).compute_score(PAIRS[2:3]) == \
        pytest.approx([whole], abs=1e-5)


def test_normalize_false_gives_the_log_odds(reranker, qwen3_dir):
    logits = card_logits(qwen3_dir, PAIRS)
    log_odds = (logits[:, 1] - logits[:, 0]).tolist()
    assert reranker.compute_score(PAIRS, normalize=False) == pytest.approx(log_odds, abs=1e-5)
    probabilities = card_scores(qwen3_dir, PAIRS)
    assert [1 / (1 + math.exp(-x)) for x in log_odds] == pytest.approx(probabilities, abs=1e-6)
    assert reranker.compute_score(PAIRS) == pytest.approx(probabilities, abs=1e-5)
    raw = Qwen3LLMReranker(reranker.model_name_or_path, devices="cpu", normalize=False)
    assert raw.compute_score(PAIRS) == pytest.approx(log_odds, abs=1e-5)
    single = reranker.compute_score(PAIRS[1])
    assert isinstance(single, float) and single == pytest.approx(probabilities[1], abs=1e-5)


def test_instruction_and_system_prompt_overrides(reranker, qwen3_dir):
    instruction = "Given a question, find the passage about animals"
    custom = Qwen3LLMReranker(qwen3_dir, devices="cpu", query_instruction_for_rerank=instruction)
    expected = card_scores(qwen3_dir, PAIRS, instruction=instruction)
    assert custom.compute_score(PAIRS) == pytest.approx(expected, abs=1e-5)
    assert custom.compute_score(PAIRS) != pytest.approx(card_scores(qwen3_dir, PAIRS), abs=1e-4)

    system = 'Decide if the Document answers the Query. Answer "yes" or "no".'
    expected = card_scores(qwen3_dir, PAIRS, system=system)
    assert reranker.compute_score(PAIRS, prompt=system) == pytest.approx(expected, abs=1e-5)
    constructor = Qwen3LLMReranker(qwen3_dir, devices="cpu", prompt=system)
    assert constructor.compute_score(PAIRS) == pytest.approx(expected, abs=1e-5)


def test_passage_instruction_goes_inside_the_document_line(qwen3_dir):
    reranker = Qwen3LLMReranker(qwen3_dir, devices="cpu", passage_instruction_for_rerank="Passage: ")
    expected = card_scores(qwen3_dir, [[q, "Passage: " + d] for q, d in PAIRS])
    assert reranker.compute_score(PAIRS) == pytest.approx(expected, abs=1e-5)


def test_misuse_is_reported(reranker, qwen3_dir, llm_reranker_dir):
    with pytest.raises(ValueError, match=r"^`query_instruction_format` is not used by Qwen3LLMReranker"):
        Qwen3LLMReranker(qwen3_dir, devices="cpu", query_instruction_format="{}: {}")
    with pytest.raises(ValueError, match=r"^`max_length` \(20\) leaves no room for the pair"):
        reranker.compute_score(PAIRS, max_length=20)
    with pytest.raises(TypeError, match="`prompt` must be a str"):
        reranker.compute_score(PAIRS, prompt=3)
    tokenizer = AutoTokenizer.from_pretrained(llm_reranker_dir)
    if tokenizer.convert_tokens_to_ids("yes") not in (None, tokenizer.unk_token_id):
        pytest.skip("the shared tiny decoder tokenizer happens to have a 'yes' token")
    with pytest.raises(InputError, match=r"has no 'yes' token"):
        Qwen3LLMReranker(llm_reranker_dir, devices="cpu")


def test_use_dataloader_gives_the_same_scores(reranker, qwen3_dir):
    expected = card_scores(qwen3_dir, PAIRS)
    pairs = reranker.get_detailed_inputs(PAIRS)
    scores = reranker.compute_score_single_gpu(pairs, batch_size=2, use_dataloader=True, num_workers=0)
    assert scores == pytest.approx(expected, abs=1e-5)
    assert os.path.basename(reranker.model_name_or_path) == "Qwen3-Reranker-0.6B"
