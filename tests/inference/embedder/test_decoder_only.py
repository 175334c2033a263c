"""Decoder-only embedders (FlagLLMModel, FlagICLModel, FlagPseudoMoEModel) against references computed here
with plain transformers: instruction formatting, ICL prefix/suffix/truncation, last-token pooling under left
and right padding, truncate_dim, normalization; plus examples, pools, domains and the documented snippets."""
import functools
import os
import re
import runpy
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from FlagEmbedding import FlagICLModel, FlagLLMModel, FlagPseudoMoEModel
from tests import tiny_models
from tests.helpers import REPO

INSTRUCTION = "Given a query, retrieve relevant passages."
QUERIES = [
    "what is a panda?",
    "Hi!",
    "Deep learning models embed text into dense vectors for retrieval, and the quick brown fox jumps.",
    "capital of France",
]
PASSAGES = [
    "The giant panda is a bear species endemic to China.",
    "Paris is the capital of France.",
    "Yes",
]
EXAMPLES = [
    {"instruct": "Answer the question.", "query": "what is a fox?", "response": "A fox is a small canid."},
    {"query": "capital of France", "response": "Paris is the capital of France."},  # instruct: the default
]
LLM_POOLING_ERROR = "Pooling method must be 'last_token' for LLM-based models."


# ---------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def tiny_decoder_right(tmp_path_factory):
    """Qwen2-style decoder whose tokenizer pads on the right."""
    return tiny_models.save_tiny_decoder(str(tmp_path_factory.mktemp("dec") / "qwen2-right"), padding_side="right")


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """Llama-style decoder (the tokenizer adds ``<s>``), right padding."""
    return tiny_models.save_tiny_decoder(
        str(tmp_path_factory.mktemp("dec") / "llama-right"), arch="llama", padding_side="right"
    )


@pytest.fixture(params=["qwen2-left", "qwen2-right", "llama-right"])
def decoder(request):
    """Each tiny decoder variant in turn."""
    name = {"qwen2-left": "tiny_decoder", "qwen2-right": "tiny_decoder_right", "llama-right": "tiny_llama"}
    return request.getfixturevalue(name[request.param])


# ---------------------------------------------------------------------------- references
@functools.lru_cache(maxsize=None)
def _load(path):
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path, dtype=torch.float32).eval()


def reference(path, texts, max_length, truncate_dim=None, normalize=True):
    """One padded batch with the tokenizer as shipped; the last real token found from the mask's end."""
    tokenizer, model = _load(path)
    inputs = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    mask = inputs["attention_mask"]
    if len(texts) > 1 and len({int(n) for n in mask.sum(1)}) > 1:  # the batch really is padded on its side
        side = 0 if tokenizer.padding_side == "left" else -1
        assert (mask[:, side] == 0).any()
    with torch.no_grad():
        hidden = model(**inputs).last_hidden_state
    last = mask.shape[1] - 1 - mask.flip(1).argmax(dim=1)
    vectors = hidden[torch.arange(len(texts)), last]
    if truncate_dim:
        vectors = vectors[:, :truncate_dim]
    if normalize:
        vectors = vectors / vectors.norm(dim=-1, keepdim=True)
    return vectors.numpy()


def n_tokens(tokenizer, text):
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def icl_reference(path, queries, max_length, examples, instruction=INSTRUCTION, suffix="\n<response>", **finish):
    """FlagICLModel query encoding rebuilt step by step from the specification."""
    tokenizer, _ = _load(path)
    prefix = ""
    if examples:
        prefix = "\n\n".join(
            "<instruct>{}\n<query>{}\n<response>{}".format(e.get("instruct", instruction), e["query"], e["response"])
            for e in examples
        ) + "\n\n"
    texts = [f"<instruct>{instruction}\n<query>{q}" for q in queries] if instruction is not None else list(queries)
    budget = max_length - n_tokens(tokenizer, "<s>") - n_tokens(tokenizer, suffix + "</s>")
    ids = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=budget)["input_ids"]
    full = [prefix + text + suffix for text in tokenizer.batch_decode(ids)]
    limit = ((n_tokens(tokenizer, prefix) + n_tokens(tokenizer, suffix) + max_length + 8) // 8) * 8 + 8
    return reference(path, full, limit, **finish), ids, budget


# ---------------------------------------------------------------------------- FlagLLMModel
@pytest.mark.parametrize("truncate_dim,normalize", [(None, True), (8, False)])
def test_llm_embedder_matches_reference(decoder, truncate_dim, normalize):
    model = FlagLLMModel(decoder, query_instruction_for_retrieval=INSTRUCTION, devices="cpu", batch_size=2,
                         query_max_length=20, truncate_dim=truncate_dim, normalize_embeddings=normalize)
    queries = model.encode_queries(QUERIES)
    expected = reference(decoder, [f"Instruct: {INSTRUCTION}\nQuery: {q}" for q in QUERIES], 20,
                         truncate_dim=truncate_dim, normalize=normalize)
    assert queries.shape == (4, truncate_dim or 32) and queries.dtype == np.float32
    np.testing.assert_allclose(queries, expected, atol=1e-5)
    passages = model.encode_corpus(PASSAGES, pad_to_multiple_of=8)
    np.testing.assert_allclose(passages, reference(decoder, PASSAGES, 512, truncate_dim, normalize), atol=1e-5)
    single = model.encode(PASSAGES[0])
    assert single.shape == (truncate_dim or 32,)
    np.testing.assert_allclose(single, passages[0], atol=1e-5)
    if normalize:
        np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-6)


def test_llm_defaults_formats_and_pooling_check(tiny_decoder):
    model = FlagLLMModel(tiny_decoder, devices="cpu")
    assert model.query_instruction_format == "Instruct: {}\nQuery: {}"
    assert model.pooling_method == "last_token" == FlagLLMModel.DEFAULT_POOLING_METHOD
    assert model.tokenizer.padding_side == "left"
    # without an instruction the query is used raw; encode(..., instruction=) defaults its format to "{}{}"
    np.testing.assert_allclose(model.encode_queries(QUERIES[:2]), reference(tiny_decoder, QUERIES[:2], 512),
                               atol=1e-5)
    np.testing.assert_allclose(model.encode(QUERIES[:2], instruction="search: "),
                               reference(tiny_decoder, ["search: " + q for q in QUERIES[:2]], 512), atol=1e-5)
    assert model.encode([]).shape == (0, 32)
    assert FlagLLMModel(tiny_decoder, devices="cpu", pooling_method="last_token").pooling_method == "last_token"
    for cls in (FlagLLMModel, FlagICLModel, FlagPseudoMoEModel):
        for method in ("cls", "mean"):
            with pytest.raises(ValueError) as info:
                cls(tiny_decoder, devices="cpu", pooling_method=method)
            assert str(info.value) == LLM_POOLING_ERROR


def test_cpu_keeps_user_precision_flags(tiny_decoder):
    model = FlagLLMModel(tiny_decoder, devices="cpu", use_fp16=True)
    out = model.encode(PASSAGES)
    assert model.use_fp16 is True and out.dtype == np.float32
    np.testing.assert_allclose(out, reference(tiny_decoder, PASSAGES, 512), atol=1e-5)


def test_aliases_and_exports():
    from FlagEmbedding.inference.embedder import decoder_only
    from FlagEmbedding.inference.embedder.decoder_only.base import BaseLLMEmbedder
    from FlagEmbedding.inference.embedder.decoder_only.icl import ICLLLMEmbedder
    from FlagEmbedding.inference.embedder.decoder_only.pseudo_moe import PseudoMoELLMEmbedder
    from FlagEmbedding.inference.embedder.encoder_only.base import BaseEmbedder

    assert (FlagLLMModel, FlagICLModel, FlagPseudoMoEModel) == (BaseLLMEmbedder, ICLLLMEmbedder, PseudoMoELLMEmbedder)
    assert decoder_only.__all__ == ["FlagLLMModel", "FlagICLModel", "FlagPseudoMoEModel"]
    assert issubclass(BaseLLMEmbedder, BaseEmbedder)
    assert issubclass(ICLLLMEmbedder, BaseLLMEmbedder) and issubclass(PseudoMoELLMEmbedder, BaseLLMEmbedder)


# ---------------------------------------------------------------------------- FlagICLModel
def test_icl_queries_match_step_by_step_reference(decoder):
    model = FlagICLModel(decoder, query_instruction_for_retrieval=INSTRUCTION, examples_for_task=EXAMPLES,
                         devices="cpu", batch_size=3, query_max_length=24)
    expected, ids, budget = icl_reference(decoder, QUERIES, 24, EXAMPLES)
    assert max(len(row) for row in ids) == budget  # the long query really was cut
    np.testing.assert_allclose(model.encode_queries(QUERIES), expected, atol=1e-5)
    np.testing.assert_allclose(model.encode_queries(QUERIES[1]), expected[1], atol=1e-5)
    # passages and encode(): plain decoder path, no prefix and no suffix
    np.testing.assert_allclose(model.encode_corpus(PASSAGES), reference(decoder, PASSAGES, 512), atol=1e-5)
    np.testing.assert_allclose(model.encode(QUERIES), reference(decoder, QUERIES, 512), atol=1e-5)


def test_icl_without_examples_or_instruction(tiny_decoder):
    bare = FlagICLModel(tiny_decoder, devices="cpu", query_max_length=30)
    assert bare.prefix == ""
    expected, _, _ = icl_reference(tiny_decoder, QUERIES, 30, None, instruction=None)
    np.testing.assert_allclose(bare.encode_queries(QUERIES), expected, atol=1e-5)
    trimmed = FlagICLModel(tiny_decoder, devices="cpu", query_instruction_for_retrieval=INSTRUCTION,
                           truncate_dim=4, normalize_embeddings=False, suffix="\nAnswer:")
    expected, _, _ = icl_reference(tiny_decoder, QUERIES, 512, None, suffix="\nAnswer:", truncate_dim=4,
                                   normalize=False)
    np.testing.assert_allclose(trimmed.encode_queries(QUERIES), expected, atol=1e-5)
    assert bare.encode_queries([]).shape == (0, 32)


def test_icl_formats_are_unescaped_and_tiny_max_length_is_rejected(tiny_decoder):
    model = FlagICLModel(tiny_decoder, devices="cpu", query_instruction_for_retrieval=INSTRUCTION,
                         query_instruction_format="<instruct>{}\\n<query>{}", examples_for_task=EXAMPLES,
                         examples_instruction_format="<instruct>{}\\n<query>{}\\n<response>{}")
    assert model.query_instruction_format == "<instruct>{}\n<query>{}"
    assert model.prefix == (
        "<instruct>Answer the question.\n<query>what is a fox?\n<response>A fox is a small canid.\n\n"
        f"<instruct>{INSTRUCTION}\n<query>capital of France\n<response>Paris is the capital of France.\n\n"
    )
    with pytest.raises(ValueError, match=r"`max_length` \(3\) leaves no room for the query"):
        model.encode_queries(QUERIES, max_length=3)


def test_set_examples_persists_and_rebuilds_prefix(tiny_decoder):
    model = FlagICLModel(tiny_decoder, devices="cpu", query_instruction_for_retrieval=INSTRUCTION,
                         query_max_length=40)
    assert model.prefix == "" and model.examples_for_task is None
    model.set_examples(EXAMPLES[:1])
    first = "<instruct>Answer the question.\n<query>what is a fox?\n<response>A fox is a small canid.\n\n"
    assert model.prefix == first and model.examples_for_task == EXAMPLES[:1]
    model.set_examples()  # no argument: the stored examples stay in force
    assert model.prefix == first
    expected, _, _ = icl_reference(tiny_decoder, QUERIES, 40, EXAMPLES[:1])
    np.testing.assert_allclose(model.encode_queries(QUERIES), expected, atol=1e-5)
    model.set_examples(EXAMPLES)
    expected, _, _ = icl_reference(tiny_decoder, QUERIES, 40, EXAMPLES)
    np.testing.assert_allclose(model.encode_queries(QUERIES), expected, atol=1e-5)
    model.set_examples([])
    assert model.prefix == "" and model.examples_for_task == []
    with pytest.raises(TypeError, match=r"`examples_for_task\[1\]` must be a dict"):
        model.set_examples([EXAMPLES[0], "not an example"])
    with pytest.raises(TypeError, match="`examples_for_task` must be a list of dicts, got str"):
        FlagICLModel(tiny_decoder, devices="cpu", examples_for_task="oops")


class _RecordingPool:
    """Stands in for a running pool to observe when the ICL model stops it."""

    def __init__(self):
        self.stopped = False

    def stop(self):
        self.stopped = True


def test_icl_pools_on_two_cpus_equal_single_device(tiny_decoder):
    single = FlagICLModel(tiny_decoder, devices="cpu", query_instruction_for_retrieval=INSTRUCTION,
                          examples_for_task=EXAMPLES, batch_size=2, query_max_length=24)
    multi = FlagICLModel(tiny_decoder, devices=["cpu", "cpu"], query_instruction_for_retrieval=INSTRUCTION,
                         examples_for_task=EXAMPLES, batch_size=2, query_max_length=24)
    corpus_pool = multi.pool = _RecordingPool()
    try:
        out = multi.encode_queries(QUERIES + PASSAGES)
        assert corpus_pool.stopped and multi.pool is None  # the passage pool made way for the query pool
        assert multi.query_pool is not None and len(multi.query_pool.processes) == 2
        np.testing.assert_allclose(out, single.encode_queries(QUERIES + PASSAGES), atol=1e-5)
        # a single string runs on the first device and leaves the query pool alone
        np.testing.assert_allclose(multi.encode_queries(QUERIES[0]), out[0], atol=1e-5)
        query_pool = multi.query_pool
        multi.set_examples(EXAMPLES[:1])  # workers hold the old prefix: the pool is stopped
        assert multi.query_pool is None and query_pool.processes == []
        multi.pools[FlagICLModel.QUERY_POOL_METHOD] = query_pool = _RecordingPool()
        multi.pools[FlagICLModel.QUERY_POOL_METHOD].processes = [None]
        assert multi.encode_corpus(PASSAGES).shape == single.encode_corpus(PASSAGES).shape
        assert query_pool.stopped and multi.query_pool is None  # the passage pool made way for it
        assert len(multi.pool.processes) == 2
    finally:
        multi.stop_self_query_pool()
        multi.stop_self_pool()


def test_icl_pool_is_never_pickled(tiny_decoder):
    model = FlagICLModel(tiny_decoder, devices="cpu")
    model.pools = {FlagICLModel.QUERY_POOL_METHOD: _RecordingPool(), FlagICLModel.pool_method: _RecordingPool()}
    state = model.__getstate__()
    assert state["pools"] == {} and len(model.pools) == 2
    model.pools = {}


# ---------------------------------------------------------------------------- FlagPseudoMoEModel
class DomainModel(torch.nn.Module):
    """Wraps a backbone; records ``set_domain`` calls and the ``domain`` each forward receives."""

    ABSENT = "<absent>"

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config
        self.set_calls = []
        self.forward_domains = []

    def set_domain(self, domain):
        self.set_calls.append(domain)

    def forward(self, input_ids, attention_mask, return_dict=True, domain=ABSENT):
        self.forward_domains.append(domain)
        return self.backbone(input_ids=input_ids, attention_mask=attention_mask)


class NoDomainModel(torch.nn.Module):
    """A forward without a ``domain`` parameter (a TypeError when given one) and no ``set_domain``."""

    def __init__(self, backbone, poison=False):
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config
        self.poison = poison
        self.calls = 0

    def forward(self, input_ids, attention_mask, return_dict=True):
        self.calls += 1
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.poison:
            hidden = hidden.clone()
            hidden[..., 0], hidden[..., 1], hidden[..., 2] = float("nan"), float("inf"), float("-inf")
        return SimpleNamespace(last_hidden_state=hidden)


def test_pseudo_moe_defaults_and_reference(tiny_decoder_right):
    model = FlagPseudoMoEModel(tiny_decoder_right, devices="cpu")
    assert (model.use_fp16, model.use_bf16, model.trust_remote_code) == (False, True, True)
    assert model.query_instruction_format == "Instruct: {}\nQuery: {}" and model.domain_for_pseudo_moe is None
    bf16 = model.encode(PASSAGES)  # bf16 compute on CPU by default; vectors normalized in fp32
    assert bf16.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(bf16, reference(tiny_decoder_right, PASSAGES, 512), atol=0.05)
    fp32 = FlagPseudoMoEModel(tiny_decoder_right, devices="cpu", use_bf16=False, truncate_dim=16,
                              query_instruction_for_retrieval=INSTRUCTION, batch_size=2)
    expected = reference(tiny_decoder_right, [f"Instruct: {INSTRUCTION}\nQuery: {q}" for q in QUERIES], 512, 16)
    np.testing.assert_allclose(fp32.encode_queries(QUERIES), expected, atol=1e-5)


def test_pseudo_moe_domain_is_set_and_forwarded(tiny_decoder):
    model = FlagPseudoMoEModel(tiny_decoder, devices="cpu", use_bf16=False, batch_size=2,
                               domain_for_pseudo_moe="general")
    model.model = recorder = DomainModel(model.model)
    expected = reference(tiny_decoder, PASSAGES, 512)
    np.testing.assert_allclose(model.encode(PASSAGES), expected, atol=1e-5)
    assert recorder.set_calls == ["general"] and recorder.forward_domains == ["general"] * 2
    model.encode(PASSAGES, domain="coding")
    model.encode_corpus(PASSAGES, domain="coding", domain_for_pseudo_moe="reasoning")
    assert recorder.set_calls == ["general", "coding", "reasoning"]
    assert recorder.forward_domains[2:] == ["coding"] * 2 + ["reasoning"] * 2
    model.domain_for_pseudo_moe = None
    recorder.set_calls.clear(), recorder.forward_domains.clear()
    model.encode(PASSAGES)
    assert recorder.set_calls == [] and recorder.forward_domains == [DomainModel.ABSENT] * 2


def test_pseudo_moe_retries_without_domain_on_type_error(tiny_decoder):
    model = FlagPseudoMoEModel(tiny_decoder, devices="cpu", use_bf16=False, domain_for_pseudo_moe="coding")
    model.model = plain = NoDomainModel(model.model)
    np.testing.assert_allclose(model.encode(PASSAGES), reference(tiny_decoder, PASSAGES, 512), atol=1e-5)
    assert plain.calls == 1  # the call with domain= failed in the signature check, the retry ran


def test_pseudo_moe_nan_to_num(tiny_decoder):
    model = FlagPseudoMoEModel(tiny_decoder, devices="cpu", use_bf16=False, normalize_embeddings=False)
    model.model = NoDomainModel(model.model, poison=True)
    raw = model.encode(PASSAGES)
    clean = reference(tiny_decoder, PASSAGES, 512, normalize=False)
    np.testing.assert_array_equal(raw[:, :3], np.tile([0.0, 1e4, -1e4], (3, 1)).astype(np.float32))
    np.testing.assert_allclose(raw[:, 3:], clean[:, 3:], atol=1e-5)
    model.normalize_embeddings = True
    normalized = model.encode(PASSAGES)
    np.testing.assert_allclose(normalized, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)


# ---------------------------------------------------------------------------- documentation and examples
def _doc_snippet(marker):
    with open(os.path.join(REPO, "docs", "api", "embedder_decoder_only.rst"), encoding="utf-8") as f:
        text = f.read()
    for block in re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text):
        if marker in block:
            return textwrap.dedent(block)
    raise AssertionError(f"no snippet with {marker!r}")


@pytest.fixture
def hub_like_folders(tmp_path, tiny_decoder, monkeypatch):
    """A working directory where ``BAAI/bge-multilingual-gemma2`` and ``BAAI/bge-en-icl`` are local folders."""
    (tmp_path / "BAAI").mkdir()
    os.symlink(tiny_decoder, tmp_path / "BAAI" / "bge-multilingual-gemma2")
    tiny_models.save_tiny_decoder(str(tmp_path / "BAAI" / "bge-en-icl"), seed=1)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("marker", ["FlagLLMModel('BAAI/bge-multilingual-gemma2'", "FlagICLModel('BAAI/bge-en-icl'"])
def test_documented_quick_starts_run(hub_like_folders, marker, capsys):
    namespace = {}
    exec(compile(_doc_snippet(marker), "quick-start", "exec"), namespace)
    model, similarity = namespace["model"], namespace["similarity"]
    assert similarity.shape == (2, 2) and np.all(np.abs(similarity) <= 1 + 1e-5)
    assert capsys.readouterr().out.strip().startswith("[[")
    instruction = "Given a web search query, retrieve relevant passages that answer the query."
    path = str(hub_like_folders / model.model_name_or_path)
    if isinstance(model, FlagICLModel):
        expected, _, _ = icl_reference(path, namespace["queries"], 512, namespace["examples"], instruction)
    else:
        texts = [f"<instruct>{instruction}\n<query>{q}" for q in namespace["queries"]]
        expected = reference(path, texts, 512)
    np.testing.assert_allclose(namespace["embeddings_1"], expected, atol=1e-5)
    np.testing.assert_allclose(namespace["embeddings_2"], reference(path, namespace["documents"], 512), atol=1e-5)


@pytest.mark.parametrize("script", ["flag_llm_model.py", "flag_icl_model.py", "flag_pseudo_moe_model.py"])
def test_example_scripts_run(tiny_decoder, script, capsys):
    module = runpy.run_path(os.path.join(REPO, "examples", "inference", "embedder", script))
    similarity = module["main"]([tiny_decoder, "--devices", "cpu"])
    assert similarity.shape == (2, 2) and np.isfinite(similarity).all()
    assert capsys.readouterr().out.strip().startswith("[[")
