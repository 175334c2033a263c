"""Retrieval evaluation of a BGE-M3 model being fine-tuned: dense, sparse, ColBERT and "all" metrics.

Every evaluation wraps the training model's :class:`~FlagEmbedding.inference.embedder.encoder_only.m3_model.M3Model`
as an inference ``BGEM3FlagModel`` (:class:`TrainingM3Embedder`: the same modules, no copy, left on their device
and in their dtype), encodes the BEIR corpus once for all three representations into an in-memory
:class:`~FlagEmbedding.retrieval.RetrievalIndex` and searches it with the methods of the evaluation CLIs'
``--search_method``. Logged (with the Trainer's ``eval_`` prefix): ``ndcg_at_10`` / ``recall_at_100`` (dense),
``sparse_*``, ``colbert_*`` (dense top 100 reranked by ColBERT) and ``all_*`` (dense + sparse candidates
reranked by ``1 * dense + 0.3 * sparse + 1 * colbert``), so ``--metric_for_best_model all_ndcg_at_10`` works.
"""
from __future__ import annotations

from typing import Any, Dict, Sequence

import torch

from FlagEmbedding.retrieval.training_eval import SEARCH_DEPTH, RetrievalEvaluation
from FlagEmbedding.inference.embedder.encoder_only.m3 import M3Embedder
from FlagEmbedding.inference.embedder.encoder_only.m3_model import M3Model
from FlagEmbedding.retrieval.index import DEFAULT_M3_WEIGHTS, RetrievalIndex, SearchOptions
from FlagEmbedding.utils.eval_mode import eval_mode

#: the search methods evaluated; the metrics of ``dense`` keep their plain names
M3_METHODS = ("dense", "sparse", "colbert", "all")


class TrainingM3Embedder(M3Embedder):
    """A ``BGEM3FlagModel`` over an :class:`M3Model` and tokenizer already in memory (the model being trained).

    Nothing is loaded, copied, moved or cast: encoding runs the given modules where they are.

    Args:
        network: The M3 network (backbone and heads).
        tokenizer: Its tokenizer.
        **kwargs: :class:`M3Embedder` settings (``pooling_method``, ``normalize_embeddings``, lengths, ...).
    """

    def __init__(self, network: M3Model, tokenizer: Any, **kwargs: Any):
        self.network, self.given_tokenizer = network, tokenizer
        device = str(next(network.parameters()).device)
        super().__init__(network.config._name_or_path, devices=device, use_fp16=False, **kwargs)

    def load_tokenizer(self) -> Any:
        """The given tokenizer."""
        return self.given_tokenizer

    def load_model(self) -> M3Model:
        """The given network."""
        return self.network

    def model_on(self, device: str) -> torch.nn.Module:
        """The given network, untouched (its device and dtype are the training run's)."""
        assert self.model is not None  # loaded (it is the given network) at construction
        return self.model


class M3RetrievalEvaluation(RetrievalEvaluation):
    """:class:`RetrievalEvaluation` of dense, sparse, ColBERT and "all" search with an M3 model.

    Args (beyond :class:`RetrievalEvaluation`):
        m3_weights: Dense, sparse and ColBERT weights of the ``all`` method (``--m3_weights``).
    """

    def __init__(self, *args: Any, m3_weights: Sequence[float] = DEFAULT_M3_WEIGHTS, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.m3_weights = [float(w) for w in m3_weights]

    def embedder(self, model: Any, tokenizer: Any) -> TrainingM3Embedder:
        """The training wrapper ``model`` (an ``EncoderOnlyEmbedderM3Model``) as an inference M3 embedder with
        its pooling and normalization and this evaluation's lengths and batch size."""
        return TrainingM3Embedder(model.model, tokenizer, pooling_method=model.sentence_pooling_method,
                                  normalize_embeddings=model.normalize_embeddings, batch_size=self.batch_size,
                                  query_max_length=self.query_max_len, passage_max_length=self.passage_max_len)

    def __call__(self, model: Any, tokenizer: Any) -> Dict[str, float]:
        """``ndcg_at_10``, ``recall_at_100`` and their ``sparse_``, ``colbert_`` and ``all_`` variants."""
        with eval_mode(model):
            index = RetrievalIndex.in_memory(self.docids, self.passages, self.embedder(model, tokenizer),
                                             representations=["dense", "sparse", "colbert"])
            metrics: Dict[str, float] = {}
            for method in M3_METHODS:
                options = SearchOptions(method=method, m3_weights=self.m3_weights, rerank_top_k=SEARCH_DEPTH)
                ids, scores = index.search(self.queries, SEARCH_DEPTH, options)
                run = {qid: dict(zip(row_ids, row_scores)) for qid, row_ids, row_scores in zip(self.qids, ids, scores)}
                prefix = "" if method == "dense" else f"{method}_"
                metrics.update({prefix + name: value for name, value in self.run_metrics(run).items()})
        return metrics
