"""FlagModel against an independent transformers reference, plus its input contract."""
import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from FlagEmbedding import FlagModel

TEXTS = [
    "What is the capital of France?",
    "Paris is the capital of France.",
    "The giant panda is a bear species endemic to China.",
    "Hi!",
    "Deep learning models embed text into dense vectors for retrieval, " * 3,
]


def reference(path, texts, pooling, max_length=512, normalize=True, truncate_dim=None):
    """One text at a time, no batching, straight transformers."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    rows = []
    for text in texts:
        inputs = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**inputs).last_hidden_state[0]
        vec = {"cls": hidden[0], "mean": hidden.mean(0), "last_token": hidden[-1]}[pooling]
        if truncate_dim:
            vec = vec[:truncate_dim]
        if normalize:
            vec = vec / vec.norm()
        rows.append(vec.numpy())
    return np.stack(rows)


@pytest.mark.parametrize("pooling", ["cls", "mean", "last_token"])
def test_pooling_matches_reference(tiny_bert, pooling):
    model = FlagModel(tiny_bert, pooling_method=pooling, devices="cpu", batch_size=2)
    np.testing.assert_allclose(model.encode(TEXTS), reference(tiny_bert, TEXTS, pooling), atol=1e-5)


def test_truncation_truncate_dim_and_no_normalization(tiny_bert):
    model = FlagModel(tiny_bert, devices="cpu", normalize_embeddings=False, truncate_dim=8, passage_max_length=6)
    expected = reference(tiny_bert, TEXTS, "cls", max_length=6, normalize=False, truncate_dim=8)
    np.testing.assert_allclose(model.encode(TEXTS), expected, atol=1e-5)
    normalized = FlagModel(tiny_bert, devices="cpu", truncate_dim=8).encode(TEXTS)
    assert np.allclose(np.linalg.norm(normalized, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(normalized, reference(tiny_bert, TEXTS, "cls", truncate_dim=8), atol=1e-5)


def test_query_and_passage_instructions(tiny_bert):
    model = FlagModel(
        tiny_bert, devices="cpu", query_instruction_for_retrieval="Represent: ",
        query_instruction_format="{}{}", query_max_length=7,
        passage_instruction_for_retrieval="passage: ",
    )
    q = model.encode_queries(TEXTS[:2])
    np.testing.assert_allclose(q, reference(tiny_bert, ["Represent: " + t for t in TEXTS[:2]], "cls", max_length=7),
                               atol=1e-5)
    p = model.encode_corpus(TEXTS[2:])
    np.testing.assert_allclose(p, reference(tiny_bert, ["passage: " + t for t in TEXTS[2:]], "cls"), atol=1e-5)
    # a literal backslash-n in the format becomes a newline; a missing format defaults to "{}{}"
    assert FlagModel.get_detailed_instruct("Instruct: {}\\nQuery: {}", "do", "x") == "Instruct: do\nQuery: x"
    np.testing.assert_allclose(model.encode(TEXTS[:1], instruction="Represent: "),
                               reference(tiny_bert, ["Represent: " + TEXTS[0]], "cls"), atol=1e-5)


def test_output_shapes_and_types(tiny_bert):
    model = FlagModel(tiny_bert, devices="cpu")
    assert model.encode("one sentence").shape == (32,)
    assert model.encode(["a", "b"]).shape == (2, 32)
    empty = model.encode([])
    assert isinstance(empty, np.ndarray) and empty.shape == (0, 32)
    assert model.encode_queries([]).shape == (0, 32)
    tensor = model.encode(["a", "b"], convert_to_numpy=False)
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (2, 32)
    assert model.encode(["a"]).dtype == np.float32  # use_fp16=True is ignored on CPU


def test_bad_input_errors(tiny_bert):
    model = FlagModel(tiny_bert, devices="cpu")
    with pytest.raises(TypeError, match=r"^`sentences` must be a str or a sequence of str, got None\.$"):
        model.encode(None)
    with pytest.raises(TypeError, match=r"^`queries\[1\]` must be a str, got int"):
        model.encode_queries(["ok", 3])
    with pytest.raises(TypeError, match=r"^`corpus\[0\]` must be a str, got NoneType"):
        model.encode_corpus([None])
    # the text rule the HTTP server applies too: a lone surrogate is not a character (the tokenizer cannot take it)
    with pytest.raises(ValueError, match=r"^`sentences\[1\]` holds a lone surrogate \('\\udfff'\) at character 1, "):
        model.encode(["ok", "a\udfff"])
    with pytest.raises(ValueError, match=r"^`batch_size` must be a positive integer, got 0\.$"):
        model.encode(["a"], batch_size=0)


def test_unknown_pooling_rejected_at_construction(tiny_bert):
    with pytest.raises(ValueError, match=r"pooling_method must be one of \['cls', 'mean', 'last_token'\], got 'max'"):
        FlagModel(tiny_bert, pooling_method="max", devices="cpu")


def test_unreachable_model_id_has_one_clear_message():
    with pytest.raises(OSError, match=r"^Model 'no-such-org/no-such-model' is not a local folder and could not be "
                                      r"downloaded from the Hugging Face Hub; .*pass that folder's path instead\.$"):
        FlagModel("no-such-org/no-such-model", devices="cpu")


def test_oom_backoff_only_reacts_to_out_of_memory(tiny_bert, caplog):
    model = FlagModel(tiny_bert, devices="cpu", batch_size=4)
    expected = model.encode(TEXTS)
    forward = model.model.forward
    calls, done = [], []

    def flaky_forward(*args, **kwargs):
        batch = kwargs["input_ids"].shape[0]
        calls.append(batch)
        if batch > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        done.append(batch)
        return forward(*args, **kwargs)

    model.model.forward = flaky_forward
    np.testing.assert_allclose(model.encode(TEXTS), expected, atol=1e-6)
    assert calls[:3] == [4, 3, 2]  # 4 -> 3 -> 2, then the probe output is reused
    assert sum(done) == len(TEXTS)  # every text encoded once, in batches that fit

    def broken_forward(*args, **kwargs):
        raise RuntimeError("shape mismatch in a model bug")

    model.model.forward = broken_forward
    with pytest.raises(RuntimeError, match="shape mismatch in a model bug"):
        model.encode(TEXTS)


def test_cpu_bf16_is_opt_in_and_close(tiny_bert):
    fp32 = FlagModel(tiny_bert, devices="cpu").encode(TEXTS)
    bf16_model = FlagModel(tiny_bert, devices="cpu", use_bf16=True)
    bf16 = bf16_model.encode(TEXTS)
    assert bf16.dtype == np.float32
    assert bf16_model.get_model_torch_dtype() == next(bf16_model.model.parameters()).dtype == torch.bfloat16
    fp16_on_cpu = FlagModel(tiny_bert, devices="cpu", use_fp16=True)
    assert fp16_on_cpu.get_model_torch_dtype() == next(fp16_on_cpu.model.parameters()).dtype == torch.float32
    assert np.min(np.sum(fp32 * bf16, axis=1)) > 0.99
    assert not np.allclose(fp32, bf16, atol=1e-6)  # it really ran in bf16
