"""Fixtures of the evaluation tests: tiny models named like the documented ones, and SciFact runs."""
from __future__ import annotations

import os

import pytest

from tests import tiny_models
from tests.helpers.benchmarks import scifact_argv


@pytest.fixture(scope="session")
def reranker_m3(tmp_path_factory) -> str:
    """Tiny 1-label XLM-R classifier in a folder named ``bge-reranker-v2-m3`` (auto-detected as FlagReranker)."""
    return tiny_models.save_tiny_xlmr(str(tmp_path_factory.mktemp("docmodels") / "bge-reranker-v2-m3"),
                                      classifier=True)


@pytest.fixture(scope="session")
def reasoner(tmp_path_factory) -> str:
    """Tiny Qwen2-style decoder in a folder named like the documented BRIGHT embedder."""
    return tiny_models.save_tiny_decoder(
        str(tmp_path_factory.mktemp("docmodels") / "bge-reasoner-embed-qwen3-8b-0923"))


@pytest.fixture(scope="session")
def doc_models(bge_large, reranker_m3, reasoner, tiny_xlmr_m3) -> dict:
    """Documented model id -> tiny local stand-in with the same basename."""
    return {
        "BAAI/bge-large-en-v1.5": bge_large,
        "BAAI/bge-reranker-v2-m3": reranker_m3,
        "BAAI/bge-reasoner-embed-qwen3-8b-0923": reasoner,
        "BAAI/bge-m3": tiny_xlmr_m3,
    }


@pytest.fixture(scope="session")
def scifact_run(scifact, minilm, tmp_path_factory) -> dict:
    """SciFact through the documented BEIR command, once per session (the corpus is encoded here)."""
    from FlagEmbedding.evaluation.beir.__main__ import main

    root = tmp_path_factory.mktemp("scifact")
    paths = {"embd": str(root / "embd"), "out": str(root / "search_results"), "summary": str(root / "beir.md")}
    runner = main(scifact_argv(os.path.dirname(scifact), minilm, paths["embd"], paths["out"], paths["summary"]))
    return {"runner": runner, "root": root, **paths}
