"""Public import surface (spec §0) and the documentation build."""
import importlib
import os
import subprocess
import sys

import pytest


TOP_LEVEL = ["AbsEmbedder", "AbsReranker", "FlagAutoModel", "FlagAutoReranker", "EmbedderModelClass",
             "RerankerModelClass", "FlagModel", "BGEM3FlagModel", "FlagICLModel", "FlagLLMModel", "FlagPseudoMoEModel",
             "FlagReranker", "FlagLLMReranker", "LayerWiseFlagLLMReranker", "LightWeightFlagLLMReranker"]


def test_top_level_names_and_aliases():
    import FlagEmbedding
    from FlagEmbedding.inference.embedder.decoder_only.base import BaseLLMEmbedder
    from FlagEmbedding.inference.embedder.encoder_only.base import BaseEmbedder
    from FlagEmbedding.inference.embedder.encoder_only.m3 import M3Embedder

    assert sorted(FlagEmbedding.__all__) == sorted(TOP_LEVEL)
    for name in TOP_LEVEL:
        assert getattr(FlagEmbedding, name) is getattr(FlagEmbedding.inference, name, getattr(FlagEmbedding, name))
    assert FlagEmbedding.FlagModel is BaseEmbedder
    assert FlagEmbedding.BGEM3FlagModel is M3Embedder
    assert FlagEmbedding.FlagLLMModel is BaseLLMEmbedder
    assert issubclass(FlagEmbedding.FlagPseudoMoEModel, BaseLLMEmbedder)
    for name in ("abc", "inference", "finetune", "utils"):
        assert getattr(FlagEmbedding, name).__name__ == f"FlagEmbedding.{name}"
    assert sorted(FlagEmbedding.inference.__all__) == sorted(n for n in TOP_LEVEL if not n.startswith("Abs"))
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        FlagEmbedding.Nope


def test_submodule_surfaces():
    embedder = importlib.import_module("FlagEmbedding.inference.embedder")
    assert sorted(embedder.__all__) == sorted(["FlagModel", "BGEM3FlagModel", "FlagICLModel", "FlagLLMModel",
                                               "FlagPseudoMoEModel", "EmbedderModelClass"])
    mapping = importlib.import_module("FlagEmbedding.inference.embedder.model_mapping")
    for name in ("EmbedderModelClass", "EMBEDDER_CLASS_MAPPING", "PoolingMethod", "EmbedderConfig",
                 "AUTO_EMBEDDER_MAPPING", "support_native_bge_model_list", "support_model_list"):
        assert hasattr(mapping, name)
    reranker = importlib.import_module("FlagEmbedding.inference.reranker")
    assert sorted(reranker.__all__) == sorted(["FlagReranker", "FlagLLMReranker", "LayerWiseFlagLLMReranker",
                                               "LightWeightFlagLLMReranker", "RerankerModelClass"])


def test_import_is_light():
    """``import FlagEmbedding`` must not pull in torch/transformers until a model class is used."""
    code = "import sys, FlagEmbedding; print('transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_docs_build_without_warnings(docs_build):
    assert docs_build.returncode == 0, docs_build.stderr[-3000:]
    assert os.path.isfile(os.path.join(docs_build.html, "index.html"))
