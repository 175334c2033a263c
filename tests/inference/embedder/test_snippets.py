"""The documentation's quick-start snippets, run against local tiny checkpoints named like the real ones."""
import shutil

import numpy as np
import pytest


@pytest.fixture()
def hub_like(tmp_path, monkeypatch):
    """A working directory holding ``BAAI/<name>`` folders, so the snippets' hub ids resolve locally."""
    monkeypatch.chdir(tmp_path)

    def make(source, name):
        shutil.copytree(source, tmp_path / "BAAI" / name)
        return f"BAAI/{name}"

    return make


def test_auto_model_snippet(hub_like, tiny_bert):
    hub_like(tiny_bert, "bge-base-en-v1.5")
    from FlagEmbedding import FlagAutoModel

    model = FlagAutoModel.from_finetuned(
        "BAAI/bge-base-en-v1.5",
        query_instruction_for_retrieval="Represent this sentence for searching relevant passages:",
        use_fp16=True, devices="cpu",
    )
    sentences_1 = ["I love NLP", "I love machine learning"]
    sentences_2 = ["I love BGE", "I love text retrieval"]
    embeddings_1 = model.encode(sentences_1)
    embeddings_2 = model.encode(sentences_2)
    similarity = embeddings_1 @ embeddings_2.T
    assert similarity.shape == (2, 2) and np.all(np.abs(similarity) <= 1 + 1e-6)
    q = model.encode_queries(["query"])
    assert q.shape == (1, 32)


def test_flag_model_snippet(hub_like, tiny_bert):
    hub_like(tiny_bert, "bge-base-en-v1.5")
    from FlagEmbedding import FlagModel

    model = FlagModel("BAAI/bge-base-en-v1.5",
                      query_instruction_for_retrieval="Represent this sentence for searching relevant passages:",
                      use_fp16=True, devices="cpu")
    queries = ["query_1", "query_2"]
    passages = ["样例文档-1", "passage 2"]
    scores = model.encode_queries(queries) @ model.encode_corpus(passages).T
    assert scores.shape == (2, 2)


def test_m3_snippet(hub_like, tiny_xlmr_m3):
    hub_like(tiny_xlmr_m3, "bge-m3")
    from FlagEmbedding import BGEM3FlagModel

    model = BGEM3FlagModel("BAAI/bge-m3", use_fp16=True, devices="cpu")
    sentences_1 = ["What is BGE M3?", "Defination of BM25"]
    sentences_2 = ["BGE M3 is an embedding model supporting dense retrieval, lexical matching and multi-vector interaction.",
                   "BM25 is a bag-of-words retrieval function"]
    output_1 = model.encode(sentences_1, return_dense=True, return_sparse=True, return_colbert_vecs=True)
    output_2 = model.encode(sentences_2, return_dense=True, return_sparse=True, return_colbert_vecs=True)
    dense = output_1["dense_vecs"] @ output_2["dense_vecs"].T
    lexical = model.compute_lexical_matching_score(output_1["lexical_weights"][0], output_2["lexical_weights"][0])
    colbert = model.colbert_score(output_1["colbert_vecs"][0], output_2["colbert_vecs"][0])
    assert dense.shape == (2, 2) and float(lexical) >= 0 and colbert.ndim == 0
    pairs = [[i, j] for i in sentences_1 for j in sentences_2]
    scores = model.compute_score(pairs, max_passage_length=128, weights_for_different_modes=[0.4, 0.2, 0.4])
    assert len(scores["colbert+sparse+dense"]) == 4


def test_icl_snippet(hub_like, tiny_decoder):
    hub_like(tiny_decoder, "bge-en-icl")
    from FlagEmbedding import FlagICLModel

    examples = [
        {"instruct": "Given a web search query, retrieve relevant passages that answer the query.",
         "query": "what is a virtual interface",
         "response": "A virtual interface is a software-defined abstraction."},
        {"instruct": "Given a web search query, retrieve relevant passages that answer the query.",
         "query": "causes of back pain in female for a week",
         "response": "Back pain in females can be caused by many things."},
    ]
    model = FlagICLModel("BAAI/bge-en-icl",
                         query_instruction_for_retrieval="Given a web search query, retrieve relevant passages that answer the query.",
                         examples_for_task=examples, use_fp16=True, devices="cpu")
    q = model.encode_queries(["how much protein should a female eat", "summit define"])
    p = model.encode_corpus(["As a general guideline, the CDC's average requirement of protein for women is 46 grams.",
                             "Definition of summit for English Language Learners."])
    assert (q @ p.T).shape == (2, 2)
    assert model.prefix.startswith("<instruct>Given a web search query")


def test_llm_snippet(hub_like, tiny_decoder):
    hub_like(tiny_decoder, "bge-multilingual-gemma2")
    from FlagEmbedding import FlagLLMModel

    model = FlagLLMModel("BAAI/bge-multilingual-gemma2",
                         query_instruction_for_retrieval="Given a web search query, retrieve relevant passages that answer the query.",
                         query_instruction_format="<instruct>{}\n<query>{}", use_fp16=True, devices="cpu")
    q = model.encode_queries(["how much protein should a female eat", "summit define"])
    p = model.encode_corpus(["As a general guideline, the CDC's average requirement of protein for women is 46 grams.",
                             "Definition of summit for English Language Learners."])
    assert (q @ p.T).shape == (2, 2)
