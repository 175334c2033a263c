"""Long documents (``long_text_strategy``): chunk_max / chunk_mean embedders, BGE-M3 Multi-CLS and reranker MaxP,
each against a reference built by hand from the token ids and the plain transformers model."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from FlagEmbedding import BGEM3FlagModel, FlagLLMReranker, FlagModel, FlagReranker
from FlagEmbedding.evaluation.custom.__main__ import main
from FlagEmbedding.retrieval.embedding_cache import embedder_fingerprint
from FlagEmbedding.utils.cli import run_cli
from FlagEmbedding.utils.reranker_inputs import DEFAULT_LLM_PROMPT
from tests import tiny_models
from tests.helpers.benchmarks import CORPUS, QUERIES, flags, write_library_layout
from tests.helpers.files import read_json

SHORT = ["The giant panda is a bear.", "Paris is the capital of France."]
LONG = " ".join(tiny_models.CORPUS[:7])  # about 90 tokens for the tiny tokenizers
QUERY = "what is a panda?"


def hand_windows(ids, size, overlap):
    """Pieces of ``size`` tokens, each starting ``size - overlap`` after the previous, until the end is covered."""
    pieces, start = [], 0
    while True:
        pieces.append(ids[start:start + size])
        if start + size >= len(ids):
            return pieces
        start += size - overlap


def run(model, ids, **extra):
    with torch.inference_mode():
        return model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                     **{k: torch.tensor([v]) for k, v in extra.items()})


def normalize(v):
    return v / np.linalg.norm(v)


# ------------------------------------------------------------------------------------------------ embedders
@pytest.fixture(scope="module")
def bert(tiny_bert):
    return FlagModel(tiny_bert, devices="cpu", pooling_method="mean")


@pytest.mark.parametrize("strategy", ["chunk_max", "chunk_mean"])
def test_inputs_that_fit_give_the_truncating_embedding(bert, strategy):
    np.testing.assert_allclose(bert.encode(SHORT, long_text_strategy=strategy), bert.encode(SHORT), atol=1e-6)
    np.testing.assert_allclose(bert.encode_corpus(SHORT[0], long_text_strategy=strategy), bert.encode(SHORT[0]),
                               atol=1e-6)


@pytest.mark.parametrize("strategy,overlap", [("chunk_mean", 0), ("chunk_max", 0), ("chunk_mean", 5), ("chunk_max", 3)])
def test_a_long_input_pools_the_vectors_of_its_windows(bert, tiny_bert, strategy, overlap):
    tokenizer, model = AutoTokenizer.from_pretrained(tiny_bert), AutoModel.from_pretrained(tiny_bert).eval()
    content = tokenizer(LONG, add_special_tokens=False)["input_ids"]
    max_length = 24
    pieces = hand_windows(content, max_length - 2, overlap)
    assert len(pieces) >= 4
    vectors = []
    for piece in pieces:
        ids = [tokenizer.cls_token_id, *piece, tokenizer.sep_token_id]
        hidden = run(model, ids).last_hidden_state[0].numpy()
        vectors.append(normalize(hidden.mean(axis=0)))  # mean pooling, normalized as encode returns it
    pooled = np.max(vectors, axis=0) if strategy == "chunk_max" else np.mean(vectors, axis=0)
    got = bert.encode([SHORT[0], LONG], max_length=max_length, long_text_strategy=strategy,
                      long_text_stride=overlap, batch_size=2)
    np.testing.assert_allclose(got[1], normalize(pooled), atol=1e-5)
    np.testing.assert_allclose(got[0], bert.encode(SHORT[0], max_length=max_length), atol=1e-6)
    assert not np.allclose(got[1], bert.encode(LONG, max_length=max_length), atol=1e-3)  # it is not truncation


def test_constructor_default_applies_to_passages_and_queries_truncate(tiny_bert, bert):
    chunked = FlagModel(tiny_bert, devices="cpu", pooling_method="mean", long_text_strategy="chunk_mean",
                        passage_max_length=24, query_max_length=24)
    per_call = bert.encode(LONG, max_length=24, long_text_strategy="chunk_mean")
    np.testing.assert_allclose(chunked.encode_corpus([LONG])[0], per_call, atol=1e-6)
    np.testing.assert_allclose(chunked.encode_queries(LONG), bert.encode(LONG, max_length=24), atol=1e-6)
    np.testing.assert_allclose(chunked.encode_queries(LONG, long_text_strategy="chunk_mean"), per_call, atol=1e-6)


def test_invalid_values_name_the_argument(tiny_bert, bert, tiny_xlmr_m3):
    with pytest.raises(ValueError, match=r"^`long_text_strategy` of BaseEmbedder must be one of truncate, chunk_max, "
                                         r"chunk_mean; got 'mcls' \('mcls' is BGE-M3's: use M3Embedder\)\.$"):
        FlagModel(tiny_bert, devices="cpu", long_text_strategy="mcls")
    with pytest.raises(ValueError, match="`long_text_strategy` of BaseEmbedder must be one of .*got 'maxp'"):
        bert.encode(SHORT, long_text_strategy="maxp")
    with pytest.raises(ValueError, match=r"^`long_text_stride` must be an integer >= 0 .*got -1\.$"):
        bert.encode(SHORT, long_text_strategy="chunk_max", long_text_stride=-1)
    with pytest.raises(ValueError, match=r"^`long_text_stride` \(22\) must be smaller than the 22 tokens of a window"):
        bert.encode(SHORT, max_length=24, long_text_strategy="chunk_max", long_text_stride=22)
    with pytest.raises(ValueError, match="^`mcls_interval` must be a positive integer, got 0.$"):
        BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", mcls_interval=0)
    with pytest.raises(ValueError, match="`long_text_strategy` of BaseReranker must be one of truncate, maxp; got "
                                         "'chunk_max'"):
        FlagReranker(tiny_bert, devices="cpu", long_text_strategy="chunk_max")


def test_the_corpus_cache_fingerprint_differs_per_strategy(tiny_bert):
    prints = {strategy: embedder_fingerprint(FlagModel(tiny_bert, devices="cpu", long_text_strategy=strategy))
              for strategy in ("truncate", "chunk_max", "chunk_mean")}
    assert prints["truncate"] == embedder_fingerprint(FlagModel(tiny_bert, devices="cpu"))  # old caches stay valid
    assert len({repr(p) for p in prints.values()}) == 3
    strided = embedder_fingerprint(FlagModel(tiny_bert, devices="cpu", long_text_strategy="chunk_max",
                                             long_text_stride=8))
    assert strided != prints["chunk_max"]


# ------------------------------------------------------------------------------------------------ BGE-M3
@pytest.fixture(scope="module")
def m3(tiny_xlmr_m3):
    return BGEM3FlagModel(tiny_xlmr_m3, devices="cpu")


def test_mcls_averages_the_cls_states_at_every_interval(m3, tiny_xlmr_m3):
    tokenizer, model = AutoTokenizer.from_pretrained(tiny_xlmr_m3), AutoModel.from_pretrained(tiny_xlmr_m3).eval()
    interval = 16
    ids = [tokenizer.cls_token_id]
    for token in tokenizer(LONG, add_special_tokens=False)["input_ids"]:
        if len(ids) % interval == 0:
            ids.append(tokenizer.cls_token_id)
        ids.append(token)
    ids.append(tokenizer.sep_token_id)
    positions = [p for p in range(0, len(ids), interval)]
    assert len(positions) >= 4 and all(ids[p] == tokenizer.cls_token_id for p in positions)
    hidden = run(model, ids).last_hidden_state[0].numpy()
    expected = normalize(hidden[positions].mean(axis=0))
    out = m3.encode([SHORT[0], LONG], max_length=512, long_text_strategy="mcls", mcls_interval=interval,
                    return_colbert_vecs=True)
    base = m3.encode([SHORT[0], LONG], max_length=512, return_colbert_vecs=True)
    np.testing.assert_allclose(out["dense_vecs"][1], expected, atol=1e-5)
    np.testing.assert_allclose(out["dense_vecs"][0], base["dense_vecs"][0], atol=1e-6)  # shorter than the interval
    assert out["colbert_vecs"][1].shape == base["colbert_vecs"][1].shape  # the inserted CLS vectors left out
    # the inserted CLS tokens count towards max_length: the sequence is cut to it
    cut = m3.encode(LONG, max_length=40, long_text_strategy="mcls", mcls_interval=interval)["dense_vecs"]
    short_ids = ids[:39] + [tokenizer.sep_token_id]
    hidden = run(model, short_ids).last_hidden_state[0].numpy()
    np.testing.assert_allclose(cut, normalize(hidden[[0, 16, 32]].mean(axis=0)), atol=1e-5)


def test_m3_chunks_pool_dense_max_sparse_and_concatenate_colbert(m3, tiny_xlmr_m3):
    tokenizer = AutoTokenizer.from_pretrained(tiny_xlmr_m3)
    content = tokenizer(LONG, add_special_tokens=False)["input_ids"]
    pieces = hand_windows(content, 30, 0)
    modes = dict(return_dense=True, return_sparse=True, return_colbert_vecs=True)
    out = m3.encode([LONG, SHORT[0]], max_length=32, long_text_strategy="chunk_max", **modes)
    # each window encoded on its own: its text decodes back to the same ids for this tokenizer
    texts = [tokenizer.decode(piece) for piece in pieces]
    assert [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts] == pieces
    windows = m3.encode(texts, max_length=32, **modes)
    np.testing.assert_allclose(out["dense_vecs"][0], normalize(np.max(windows["dense_vecs"], axis=0)), atol=1e-5)
    expected = {}
    for weights in windows["lexical_weights"]:
        for token, weight in weights.items():
            expected[token] = max(expected.get(token, 0), weight)
    assert out["lexical_weights"][0].keys() == expected.keys()
    np.testing.assert_allclose([out["lexical_weights"][0][t] for t in expected], list(expected.values()), atol=1e-6)
    np.testing.assert_allclose(out["colbert_vecs"][0], np.concatenate(windows["colbert_vecs"]), atol=1e-5)
    short = m3.encode(SHORT[0], max_length=32, **modes)
    np.testing.assert_allclose(out["dense_vecs"][1], short["dense_vecs"], atol=1e-6)
    np.testing.assert_allclose(out["colbert_vecs"][1], short["colbert_vecs"], atol=1e-6)


# ------------------------------------------------------------------------------------------------ rerankers
@pytest.fixture(scope="module")
def llm_reranker_dir(tmp_path_factory):
    return tiny_models.save_tiny_decoder(str(tmp_path_factory.mktemp("lt") / "bge-reranker-v2-gemma"),
                                         causal_lm=True, arch="llama")


@pytest.mark.parametrize("folder", ["bert_reranker_dir", "xlmr_reranker_dir"])
def test_maxp_scores_the_best_window_of_a_cross_encoder(request, folder):
    path = request.getfixturevalue(folder)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    reranker = FlagReranker(path, devices="cpu")
    max_length, overlap = 32, 4
    query = tokenizer(QUERY, add_special_tokens=False)["input_ids"]
    passage = tokenizer(LONG, add_special_tokens=False)["input_ids"]
    bert = "token_type_ids" in tokenizer.model_input_names
    head = [tokenizer.cls_token_id, *query, tokenizer.sep_token_id] + ([] if bert else [tokenizer.sep_token_id])
    room = max_length - len(head) - 1
    scores = []
    for piece in hand_windows(passage, room, overlap):
        ids = head + piece + [tokenizer.sep_token_id]
        extra = {"token_type_ids": [0] * len(head) + [1] * (len(piece) + 1)} if bert else {}
        scores.append(run(model, ids, **extra).logits[0, 0].item())
    assert len(scores) >= 4
    pairs = [[QUERY, SHORT[0]], [QUERY, LONG]]
    got = reranker.compute_score(pairs, max_length=max_length, long_text_strategy="maxp", long_text_stride=overlap)
    today = reranker.compute_score(pairs, max_length=max_length)
    assert got[1] == pytest.approx(max(scores), abs=1e-5)
    assert today[1] == pytest.approx(scores[0], abs=1e-5)  # truncation keeps the first window
    assert got[0] == pytest.approx(today[0], abs=1e-6)
    workers = reranker.compute_score_single_gpu(pairs * 3, batch_size=2, max_length=max_length, use_dataloader=True,
                                                num_workers=0, long_text_strategy="maxp", long_text_stride=overlap)
    np.testing.assert_allclose(workers, got * 3, atol=1e-5)


def test_maxp_scores_the_best_window_of_an_llm_reranker(llm_reranker_dir):
    tokenizer = AutoTokenizer.from_pretrained(llm_reranker_dir)
    model = AutoModelForCausalLM.from_pretrained(llm_reranker_dir).eval()
    reranker = FlagLLMReranker(llm_reranker_dir, devices="cpu")
    max_length, overlap = 40, 6
    plain = dict(add_special_tokens=False)
    sep, prompt = tokenizer("\n", **plain)["input_ids"], tokenizer(DEFAULT_LLM_PROMPT, **plain)["input_ids"]
    bos = [tokenizer.bos_token_id]
    query = tokenizer("A: " + QUERY, **plain)["input_ids"]
    passage = tokenizer("B: " + LONG, **plain)["input_ids"]
    size = min(max_length, max_length + len(sep) + len(prompt) - len(bos) - len(query) - len(sep))
    yes = tokenizer("Yes", **plain)["input_ids"][0]
    scores = [run(model, bos + query + sep + piece + sep + prompt).logits[0, -1, yes].item()
              for piece in hand_windows(passage, size, overlap)]
    assert len(scores) >= 2
    pairs = [[QUERY, SHORT[0]], [QUERY, LONG]]
    got = reranker.compute_score(pairs, max_length=max_length, long_text_strategy="maxp", long_text_stride=overlap)
    today = reranker.compute_score(pairs, max_length=max_length)
    assert got[1] == pytest.approx(max(scores), abs=1e-4)
    assert got[0] == pytest.approx(today[0], abs=1e-6)


# ------------------------------------------------------------------------------------------------ command line
def search_results(folder):
    (name,) = [n for n in os.listdir(folder) if n.endswith(".json") and n != "result_sources.json"]
    return read_json(str(folder / name))["search_results"]


def test_the_evaluation_flags_reach_the_models(tmp_path, bge_large, bert_reranker_dir):
    long_corpus = {**CORPUS, "d9": {"title": "Long", "text": LONG}}
    data = write_library_layout(str(tmp_path / "data"), corpus=long_corpus)
    values = dict(eval_name="mine", dataset_dir=data, output_dir=str(tmp_path / "out"),
                  corpus_embd_save_dir=str(tmp_path / "embd"), eval_output_path=str(tmp_path / "summary.md"),
                  k_values=[1, 3], embedder_name_or_path=bge_large, pooling_method="mean", devices="cpu",
                  embedder_batch_size=4, embedder_query_max_length=16, embedder_passage_max_length=16,
                  long_text_strategy="chunk_mean", long_text_stride=2, reranker_name_or_path=bert_reranker_dir,
                  reranker_batch_size=4, reranker_max_length=24, rerank_top_k=3, reranker_long_text_strategy="maxp")
    run_cli(main, flags(values))
    out = tmp_path / "out" / "bge-large-en-v1.5+chunk_mean"
    embedder = FlagModel(bge_large, devices="cpu", pooling_method="mean", passage_max_length=16,
                         query_max_length=16, long_text_strategy="chunk_mean", long_text_stride=2)
    ids = list(long_corpus)
    docs = embedder.encode_corpus([f"{d['title']} {d['text']}".strip() for d in long_corpus.values()])
    queries = embedder.encode_queries(list(QUERIES.values()))
    assert sorted(os.listdir(tmp_path / "out")) == ["bge-large-en-v1.5+chunk_mean"]
    hits = search_results(out / "NoReranker")
    for q, (qid, _) in enumerate(QUERIES.items()):
        for docid, score in hits[qid].items():
            assert score == pytest.approx(float(queries[q] @ docs[ids.index(docid)]), abs=1e-5)
    reranked = search_results(out / "bge-reranker-base+maxp")
    reranker = FlagReranker(bert_reranker_dir, devices="cpu", max_length=24, long_text_strategy="maxp")
    for qid, scored in reranked.items():
        scored = dict(sorted(scored.items(), key=lambda item: -item[1])[:3])  # the rerank_top_k reranked hits
        passages = [f"{long_corpus[d]['title']} {long_corpus[d]['text']}".strip() for d in scored]
        expected = reranker.compute_score([[QUERIES[qid], p] for p in passages])
        np.testing.assert_allclose(list(scored.values()), expected, atol=1e-5)
    assert os.path.isdir(tmp_path / "embd")


def test_the_server_counts_the_tokens_of_every_window(tiny_bert, bert_reranker_dir):
    from FlagEmbedding.serve.services import EmbedderService, RerankerService

    embedder = FlagModel(tiny_bert, devices="cpu", passage_max_length=24, long_text_strategy="chunk_mean")
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    content = tokenizer(LONG, add_special_tokens=False)["input_ids"]
    windows = hand_windows(content, 22, 0)
    service = EmbedderService(embedder)
    assert service.count_tokens([LONG, SHORT[0]], "passage") == [
        sum(len(w) + 2 for w in windows), len(tokenizer(SHORT[0])["input_ids"])]
    assert service.count_tokens([LONG], "query") == [min(len(content) + 2, embedder.query_max_length)]
    reranker = FlagReranker(bert_reranker_dir, devices="cpu", max_length=32, long_text_strategy="maxp")
    rerank_tokenizer = AutoTokenizer.from_pretrained(bert_reranker_dir)
    query = rerank_tokenizer(QUERY, add_special_tokens=False)["input_ids"]
    passage = rerank_tokenizer(LONG, add_special_tokens=False)["input_ids"]
    pieces = hand_windows(passage, 32 - 3 - len(query), 0)
    assert RerankerService(reranker).count_tokens([[QUERY, LONG]]) == [sum(len(query) + len(p) + 3 for p in pieces)]
