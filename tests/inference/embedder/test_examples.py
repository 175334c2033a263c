"""The encoder-only example scripts run on local checkpoints and print what they compute."""
import importlib.util
import os

import numpy as np

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "inference", "embedder")


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flag_model_example(tiny_bert, capsys):
    from FlagEmbedding import FlagModel

    similarity = load("flag_model").main([tiny_bert, "--devices", "cpu", "--pooling_method", "mean"])
    model = FlagModel(tiny_bert, pooling_method="mean", devices="cpu")
    expected = model.encode_queries(load("flag_model").QUERIES) @ model.encode_corpus(load("flag_model").PASSAGES).T
    np.testing.assert_allclose(similarity, expected, atol=1e-6)
    assert "[[" in capsys.readouterr().out


def test_bge_m3_example(tiny_xlmr_m3):
    scores = load("bge_m3").main([tiny_xlmr_m3, "--devices", "cpu"])
    assert set(scores) == {"colbert", "sparse", "dense", "sparse+dense", "colbert+sparse+dense"}
    assert all(len(v) == 4 for v in scores.values())


def test_auto_model_example(tiny_bert, capsys):
    similarity = load("auto_model").main([tiny_bert, "--devices", "cpu"])
    assert similarity.shape == (2, 2)
    assert "BaseEmbedder with pooling 'cls'" in capsys.readouterr().out


def test_dataset_columns_example(tiny_bert, capsys):
    from FlagEmbedding import FlagModel

    example = load("dataset_columns")
    similarity = example.main([tiny_bert, "--devices", "cpu"])
    model = FlagModel(tiny_bert, devices="cpu")
    expected = model.encode_queries(list(example.QUERIES)) @ model.encode_corpus(example.CORPUS["text"]).T
    np.testing.assert_allclose(similarity, expected, atol=1e-6)
    assert capsys.readouterr().out.count(" -> d") == 2
