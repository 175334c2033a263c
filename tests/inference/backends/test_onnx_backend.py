"""ONNX Runtime backend: same outputs as torch, int8 close, one export per fingerprint, clear errors."""
from __future__ import annotations

import ctypes
import faulthandler
import gc
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from FlagEmbedding import BGEM3FlagModel, FlagLLMModel, FlagModel, FlagReranker
from FlagEmbedding.backends import onnx_backend
from tests import tiny_models

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TEXTS = ["a panda is a bear", "hello world", "the quick brown fox jumps over the lazy dog " * 3, "x"]
PAIRS = [["what is a panda?", "The giant panda is a bear species endemic to China."],
         ["hi", "Hello there, how are you doing today?"],
         ["numbers", "0 1 2 3 4 5 6 7 8 9 and symbols , . ; : ! ?"]]


@pytest.fixture(scope="module")
def bert_classifier(tmp_path_factory) -> str:
    return tiny_models.save_tiny_bert_classifier(str(tmp_path_factory.mktemp("rerankers") / "bge-reranker-base"))


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """One ONNX cache shared by the tests of this module (each export costs seconds)."""
    return tmp_path_factory.mktemp("onnx-cache")


def cache_entries(folder) -> list:
    """The entry folders of an ONNX cache (not the hidden temporary folders or the entries' lock files)."""
    return sorted(name for name in os.listdir(folder) if not name.startswith(".") and not name.endswith(".lock"))


def test_flagmodel_onnx_fp32_equals_torch_and_is_exported_once(tiny_bert, onnx_cache, monkeypatch):
    reference = FlagModel(tiny_bert, devices="cpu", pooling_method="mean").encode(TEXTS)
    onnx = FlagModel(tiny_bert, devices="cpu", pooling_method="mean", backend="onnx", onnx_cache_dir=str(onnx_cache))
    np.testing.assert_allclose(onnx.encode(TEXTS), reference, atol=1e-5)
    entries = cache_entries(onnx_cache)
    assert len(entries) == 1
    assert sorted(os.listdir(onnx_cache / entries[0])) == ["manifest.json", "model.onnx"]

    exports = []
    monkeypatch.setattr(onnx_backend, "_export", lambda *args: exports.append(args))
    again = FlagModel(tiny_bert, devices="cpu", backend="onnx", onnx_cache_dir=str(onnx_cache))  # cls pooling
    np.testing.assert_allclose(again.encode(TEXTS), FlagModel(tiny_bert, devices="cpu").encode(TEXTS), atol=1e-5)
    assert exports == []  # the cached graph was reused (pooling is not part of it)
    assert cache_entries(onnx_cache) == entries


def test_exported_graph_is_fused_for_onnx_runtime_and_keyed_by_the_optimization(tiny_bert, tmp_path, monkeypatch):
    import onnx

    FlagModel(tiny_bert, devices="cpu", backend="onnx", onnx_cache_dir=str(tmp_path)).encode(TEXTS[:1])
    (entry,) = cache_entries(tmp_path)
    graph = onnx.load(str(tmp_path / entry / "model.onnx")).graph
    fused = {node.op_type for node in graph.node if node.domain == "com.microsoft"}
    assert {"Attention", "SkipLayerNormalization", "BiasGelu"} <= fused  # tiny BERT: 2 layers, 4 heads
    assert "Softmax" not in {node.op_type for node in graph.node}  # no unfused attention left
    with open(tmp_path / entry / "manifest.json", encoding="utf-8") as f:
        assert json.load(f)["identity"]["optimization"] == "onnxscript.ort_fusions"

    monkeypatch.setattr(onnx_backend, "OPTIMIZATION", "none")  # another rewrite: another entry, not a reuse
    FlagModel(tiny_bert, devices="cpu", backend="onnx", onnx_cache_dir=str(tmp_path)).encode(TEXTS[:1])
    assert len(cache_entries(tmp_path)) == 2


def test_corrupted_cache_entry_is_rebuilt(tiny_bert, onnx_cache, tmp_path):
    reference = FlagModel(tiny_bert, devices="cpu").encode(TEXTS)
    FlagModel(tiny_bert, devices="cpu", backend="onnx", onnx_cache_dir=str(onnx_cache)).encode(TEXTS[:1])
    (entry,) = cache_entries(onnx_cache)
    shutil.copytree(onnx_cache / entry, tmp_path / entry)
    with open(tmp_path / entry / "model.onnx", "r+b") as f:
        f.truncate(100)
    rebuilt = FlagModel(tiny_bert, devices="cpu", backend="onnx", onnx_cache_dir=str(tmp_path)).encode(TEXTS)
    np.testing.assert_allclose(rebuilt, reference, atol=1e-5)
    assert cache_entries(tmp_path) == [entry]
    assert os.path.getsize(tmp_path / entry / "model.onnx") == os.path.getsize(onnx_cache / entry / "model.onnx")


def test_int8_is_close_and_cached_apart(tiny_bert, onnx_cache):
    reference = FlagModel(tiny_bert, devices="cpu").encode(TEXTS)
    FlagModel(tiny_bert, devices="cpu", backend="onnx", onnx_cache_dir=str(onnx_cache)).encode(TEXTS[:1])
    int8 = FlagModel(tiny_bert, devices="cpu", backend="onnx", quantize="int8", onnx_cache_dir=str(onnx_cache))
    vectors = int8.encode(TEXTS)
    cosine = np.sum(vectors * reference, axis=1)  # both L2-normalized
    assert cosine.min() > 0.99  # the documented int8 bound
    assert not np.allclose(vectors, reference, atol=1e-5)  # it really ran quantized
    assert len(cache_entries(onnx_cache)) == 2


def test_int8_graph_quantizes_the_attention_projection(tiny_bert, tmp_path):
    import onnx

    FlagModel(tiny_bert, devices="cpu", backend="onnx", quantize="int8", onnx_cache_dir=str(tmp_path)).encode(TEXTS[:1])
    (entry,) = cache_entries(tmp_path)
    ops = [node.op_type for node in onnx.load(str(tmp_path / entry / "model.onnx")).graph.node]
    assert ops.count("QAttention") == 2 and "Attention" not in ops  # tiny BERT: 2 layers, all int8


def test_int8_m3_and_reranker_quantize_the_attention_projection_too(tiny_xlmr_m3, bert_classifier, tmp_path):
    """XLM-R (BGE-M3) and the cross-encoder get QAttention as well and stay close to torch (the tiny random
    classifier scores every pair about 0.01, so the graph form is the sharper check for the reranker)."""
    import onnx

    m3_cache, reranker_cache = tmp_path / "m3", tmp_path / "reranker"
    dense = BGEM3FlagModel(tiny_xlmr_m3, devices="cpu").encode(TEXTS)["dense_vecs"]
    int8 = BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", backend="onnx", quantize="int8", onnx_cache_dir=str(m3_cache))
    assert np.sum(int8.encode(TEXTS)["dense_vecs"] * dense, axis=1).min() > 0.99
    scores = FlagReranker(bert_classifier, devices="cpu").compute_score(PAIRS)
    reranker = FlagReranker(bert_classifier, devices="cpu", backend="onnx", quantize="int8",
                            onnx_cache_dir=str(reranker_cache))
    np.testing.assert_allclose(reranker.compute_score(PAIRS), scores, atol=1e-3)  # int8 error here: 3e-4
    for cache in (m3_cache, reranker_cache):
        (entry,) = cache_entries(cache)
        ops = [node.op_type for node in onnx.load(str(cache / entry / "model.onnx")).graph.node]
        assert ops.count("QAttention") == 2 and "Attention" not in ops


def test_int8_attention_form_keeps_the_padding_mask(tiny_bert, tmp_path, monkeypatch):
    """The graph handed to the quantizer (attention mask as mask index), run unquantized, equals torch on a padded
    batch: the rewrite itself changes nothing."""
    import onnx
    import onnxruntime.quantization

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic",
                        lambda source, target, **_: shutil.copy(source, target))
    reference = FlagModel(tiny_bert, devices="cpu", pooling_method="mean").encode(TEXTS)
    unquantized = FlagModel(tiny_bert, devices="cpu", pooling_method="mean", backend="onnx", quantize="int8",
                            onnx_cache_dir=str(tmp_path))
    np.testing.assert_allclose(unquantized.encode(TEXTS), reference, atol=1e-5)
    (entry,) = cache_entries(tmp_path)
    graph = onnx.load(str(tmp_path / entry / "model.onnx")).graph
    casts = {node.output[0] for node in graph.node if node.op_type == "Cast" and node.input[0] == "attention_mask"}
    attention = [node for node in graph.node if node.op_type == "Attention"]
    assert len(attention) == 2
    for node in attention:
        assert len(node.input) == 4 and node.input[3] in casts
        assert "qkv_hidden_sizes" not in {attribute.name for attribute in node.attribute}


def test_int8_keeps_fp32_attention_when_the_mask_index_would_change_the_outputs(tiny_bert, tmp_path, monkeypatch,
                                                                                caplog):
    """A graph whose rewrite disagrees with the model (here: the check is made to fail) is quantized without it,
    with a warning: the int8 graph is the one the previous form gave, never a silently different one."""
    import onnx

    monkeypatch.setattr(onnx_backend, "_matches_model", lambda *args: False)
    with caplog.at_level("WARNING", logger=onnx_backend.__name__):
        FlagModel(tiny_bert, devices="cpu", backend="onnx", quantize="int8", onnx_cache_dir=str(tmp_path)).encode(TEXTS)
    assert "The attention mask as mask index changes the outputs of" in caplog.text
    (entry,) = cache_entries(tmp_path)
    ops = [node.op_type for node in onnx.load(str(tmp_path / entry / "model.onnx")).graph.node]
    assert "QAttention" not in ops and ops.count("Attention") == 2


def test_the_mask_index_check_catches_a_lost_mask(tiny_bert, tmp_path):
    """``_matches_model`` accepts the rewritten graph and rejects one whose attention ignores the padding."""
    import onnx

    model = FlagModel(tiny_bert, devices="cpu").model
    names = ["input_ids", "attention_mask", "token_type_ids"]
    path = str(tmp_path / "model.onnx")
    onnx_backend._export(model, names, "last_hidden_state", path, int8=True)
    assert onnx_backend._matches_model(model, names, "last_hidden_state", path)
    graph = onnx.load(path)
    for node in graph.graph.node:
        if node.op_type == "Attention":
            del node.input[3:]
    onnx.save(graph, path)
    assert not onnx_backend._matches_model(model, names, "last_hidden_state", path)


def _attention_model(bias_from: str):
    """An onnx_ir model with one fused Attention whose additive bias is computed from the input ``bias_from``."""
    import onnx
    import onnx_ir
    from onnx import TensorProto, helper

    hidden = 8
    nodes = [helper.make_node("Cast", [bias_from], ["mask_bool"], to=TensorProto.BOOL),
             helper.make_node("Where", ["mask_bool", "zero", "minus"], ["bias"]),
             helper.make_node("Attention", ["hidden", "weight", "qkv_bias", "", "", "bias"], ["out"],
                              domain="com.microsoft", num_heads=2, qkv_hidden_sizes=[hidden] * 3)]
    initializers = [
        helper.make_tensor("weight", TensorProto.FLOAT, [hidden, 3 * hidden], [0.1] * (3 * hidden * hidden)),
        helper.make_tensor("qkv_bias", TensorProto.FLOAT, [3 * hidden], [0.0] * (3 * hidden)),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("minus", TensorProto.FLOAT, [], [-1e9])]
    inputs = [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["b", "s", hidden]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"]),
              helper.make_tensor_value_info("other", TensorProto.INT64, ["b", "s"])]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", "s", hidden])]
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializers)
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    return onnx_ir.from_proto(onnx.shape_inference.infer_shapes(model))


def test_mask_index_attention_rewrites_only_a_bias_made_from_the_attention_mask():
    model = _attention_model("attention_mask")
    assert onnx_backend.mask_index_attention(model) == 1
    (attention,) = [node for node in model.graph if node.op_type == "Attention"]
    assert [value.name for value in attention.inputs[:3]] == ["hidden", "weight", "qkv_bias"]
    assert attention.inputs[3].producer().op_type == "Cast" and len(attention.inputs) == 4
    assert "qkv_hidden_sizes" not in attention.attributes
    assert {node.op_type for node in model.graph} == {"Cast", "Attention"}  # the traced bias is gone

    other = _attention_model("other")  # a bias from another input's values: not the padding mask
    assert onnx_backend.mask_index_attention(other) == 0
    (attention,) = [node for node in other.graph if node.op_type == "Attention"]
    assert attention.inputs[5].name == "bias" and "qkv_hidden_sizes" in attention.attributes


def test_m3_dense_sparse_colbert_on_onnx_equal_torch(tiny_xlmr_m3, tmp_path):
    modes = dict(return_dense=True, return_sparse=True, return_colbert_vecs=True)
    reference = BGEM3FlagModel(tiny_xlmr_m3, devices="cpu").encode(TEXTS, **modes)
    onnx = BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", backend="onnx", onnx_cache_dir=str(tmp_path)).encode(TEXTS, **modes)
    np.testing.assert_allclose(onnx["dense_vecs"], reference["dense_vecs"], atol=1e-5)
    for got, want in zip(onnx["colbert_vecs"], reference["colbert_vecs"]):
        np.testing.assert_allclose(got, want, atol=1e-5)
    for got, want in zip(onnx["lexical_weights"], reference["lexical_weights"]):
        assert got.keys() == want.keys()
        np.testing.assert_allclose([got[k] for k in want], [want[k] for k in want], atol=1e-5)


def test_reranker_onnx_fp32_equals_torch(bert_classifier, tmp_path):
    reference = FlagReranker(bert_classifier, devices="cpu").compute_score(PAIRS)
    onnx = FlagReranker(bert_classifier, devices="cpu", backend="onnx", onnx_cache_dir=str(tmp_path))
    np.testing.assert_allclose(onnx.compute_score(PAIRS), reference, atol=1e-5)


def test_openvino_runs_the_same_graph_and_equals_torch(tiny_bert, bert_classifier, tiny_xlmr_m3, tmp_path):
    pytest.importorskip("openvino")
    reference = FlagModel(tiny_bert, devices="cpu", pooling_method="mean").encode(TEXTS)
    model = FlagModel(tiny_bert, devices="cpu", pooling_method="mean", backend="openvino", onnx_cache_dir=str(tmp_path))
    np.testing.assert_allclose(model.encode(TEXTS), reference, atol=1e-5)
    assert type(model.onnx_model.session()).__module__.startswith("openvino")
    entries = cache_entries(tmp_path)
    onnx = FlagModel(tiny_bert, devices="cpu", pooling_method="mean", backend="onnx", onnx_cache_dir=str(tmp_path))
    np.testing.assert_allclose(onnx.encode(TEXTS), reference, atol=1e-5)
    assert cache_entries(tmp_path) == entries  # one exported graph serves both runtimes

    scores = FlagReranker(bert_classifier, devices="cpu").compute_score(PAIRS)
    openvino = FlagReranker(bert_classifier, devices="cpu", backend="openvino", onnx_cache_dir=str(tmp_path))
    np.testing.assert_allclose(openvino.compute_score(PAIRS), scores, atol=1e-5)

    modes = dict(return_dense=True, return_sparse=True, return_colbert_vecs=True)
    want = BGEM3FlagModel(tiny_xlmr_m3, devices="cpu").encode(TEXTS, **modes)
    got = BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", backend="openvino", onnx_cache_dir=str(tmp_path)).encode(
        TEXTS, **modes)
    np.testing.assert_allclose(got["dense_vecs"], want["dense_vecs"], atol=1e-5)
    for a, b in zip(got["colbert_vecs"], want["colbert_vecs"]):
        np.testing.assert_allclose(a, b, atol=1e-5)


def signal_stack():
    """This thread's alternate signal stack (address, size) and whether its memory is mapped."""
    stack = onnx_backend._SignalStack()
    ctypes.CDLL(None).sigaltstack(None, ctypes.byref(stack))
    address = stack.ss_sp or 0
    with open("/proc/self/maps", encoding="utf-8") as f:
        ranges = [[int(bound, 16) for bound in line.split()[0].split("-")] for line in f]
    return address, stack.ss_size, any(low <= address < high for low, high in ranges)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sigaltstack and /proc/self/maps are Linux's")
def test_openvino_models_freed_in_creation_order_leave_the_signal_stack_alone(tiny_bert, bert_classifier, tmp_path):
    pytest.importorskip("openvino")
    faulthandler.enable()  # pytest's faulthandler already did: the thread has Python's stack
    before = signal_stack()
    assert before[0] and before[2]
    first = FlagModel(tiny_bert, devices="cpu", backend="openvino", onnx_cache_dir=str(tmp_path))
    first.encode(TEXTS)
    assert signal_stack() == before  # OpenVINO's compile installed its own stack; it was given back
    second = FlagReranker(bert_classifier, devices="cpu", backend="openvino", onnx_cache_dir=str(tmp_path))
    second.compute_score(PAIRS)
    assert signal_stack() == before
    del first  # freed in creation order: without the fix the thread ends on the first model's unmapped stack
    gc.collect()
    del second
    gc.collect()
    assert signal_stack() == before
    hits = []
    previous = signal.signal(signal.SIGCHLD, lambda signum, frame: hits.append(signum))
    try:
        subprocess.run([sys.executable, "-c", "pass"], check=True)  # a signal handled on that stack
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert hits


def test_bad_backend_options_raise(tiny_bert, tiny_decoder):
    with pytest.raises(ValueError, match=r"^backend must be one of \['torch', 'onnx', 'openvino'\], got 'tensorrt'\.$"):
        FlagModel(tiny_bert, devices="cpu", backend="tensorrt")
    with pytest.raises(ValueError, match=r"^quantize must be one of \[None, 'int8'\], got 'int4'\.$"):
        FlagModel(tiny_bert, devices="cpu", backend="onnx", quantize="int4")
    with pytest.raises(ValueError, match=r"^quantize='int8' needs backend='onnx'\.$"):
        FlagModel(tiny_bert, devices="cpu", quantize="int8")
    with pytest.raises(ValueError, match=r"^quantize='int8' needs backend='onnx'\.$"):
        FlagModel(tiny_bert, devices="cpu", backend="openvino", quantize="int8")
    with pytest.raises(ValueError, match=r"^backend='openvino' runs on the CPU only; got devices=\['cuda:0'\]"):
        FlagModel(tiny_bert, devices="cuda:0", backend="openvino")
    with pytest.raises(ValueError, match=r"^backend='onnx' runs on the CPU only; got devices=\['cuda:0'\]"):
        FlagModel(tiny_bert, devices="cuda:0", backend="onnx")
    with pytest.raises(ValueError, match=r"^backend='onnx' is not available for BaseLLMEmbedder: "):
        FlagLLMModel(tiny_decoder, devices="cpu", backend="onnx")


@pytest.mark.parametrize("backend, missing, message", [
    ("onnx", "onnxruntime", r"^backend='onnx' needs onnxruntime, onnx and onnxscript, which are not installed: "
                            r"pip install 'FlagEmbedding\[onnx\]'$"),
    ("openvino", "openvino", r"^backend='openvino' needs openvino, onnxruntime, onnx and onnxscript, which are not "
                             r"installed: pip install 'FlagEmbedding\[openvino\]'$"),
])
def test_missing_runtime_is_a_clear_import_error(tiny_bert, monkeypatch, backend, missing, message):
    monkeypatch.setitem(sys.modules, missing, None)  # what an uninstalled package looks like to import
    with pytest.raises(ImportError, match=message):
        FlagModel(tiny_bert, devices="cpu", backend=backend)


def test_example_script_reports_a_tiny_deviation(tiny_bert, onnx_cache, capsys):
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "inference", "embedder", "onnx_backend.py")
    spec = importlib.util.spec_from_file_location("onnx_backend_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main([tiny_bert, "--onnx_cache_dir", str(onnx_cache)]) < 1e-5
    assert "max |cos - 1| between the backends" in capsys.readouterr().out
