"""Retrieval (dense embedder + exact top-k search) and reranking stages of an evaluation."""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set

import numpy as np

from FlagEmbedding.abc.evaluation.embedding_cache import CorpusEmbeddingCache, embedder_fingerprint
from FlagEmbedding.abc.evaluation.utils import display_name, index, passage_text, search

logger = logging.getLogger(__name__)

SearchResults = Dict[str, Dict[str, float]]


def dense_array(output: Any) -> np.ndarray:
    """The dense vectors of an encode call (``dense_vecs`` of M3 dict outputs) as a numpy array."""
    if isinstance(output, dict):
        output = output["dense_vecs"]
    if hasattr(output, "detach"):
        output = output.detach().float().cpu().numpy()
    return np.asarray(output)


def model_name_or_path(model: Any) -> str:
    """The name or path ``model`` was built from: its ``model_name_or_path`` (kept by every FlagEmbedding
    embedder and reranker), else the ``config._name_or_path`` of its transformers model (other objects)."""
    name = getattr(model, "model_name_or_path", None)
    return name if name is not None else model.model.config._name_or_path


class EvalRetriever(ABC):
    """A named first-stage retriever.

    Args:
        embedder: The embedding model (its :func:`model_name_or_path` gives the display name).
        search_top_k: Hits returned per query.
        overwrite: Re-encode the corpus even when a valid cache exists.
    """

    def __init__(self, embedder: Any, search_top_k: int = 1000, overwrite: bool = False):
        self.embedder = embedder
        self.search_top_k = search_top_k
        self.overwrite = overwrite

    @property
    def name_or_path(self) -> str:
        """The embedder's name or path (see :func:`model_name_or_path`)."""
        return model_name_or_path(self.embedder)

    def __str__(self) -> str:
        return display_name(self.name_or_path)

    def stop_multi_process_pool(self) -> None:
        """Stop the embedder's worker pools (query pool included) and free accelerator memory."""
        self.embedder.stop_self_pool()

    @abstractmethod
    def __call__(self, corpus: Mapping[str, Mapping[str, str]], queries: Mapping[str, str],
                 corpus_embd_save_dir: Optional[str] = None, ignore_identical_ids: bool = False,
                 **kwargs: Any) -> SearchResults:
        """Return ``{qid: {docid: score}}`` with at most ``search_top_k`` hits per query, best first."""


class EvalDenseRetriever(EvalRetriever):
    """Dense retrieval: cached, sharded corpus encoding and exact inner-product top-k.

    Args (beyond :class:`EvalRetriever`):
        cache_shard_rows: Corpus rows per embedding-cache shard.
    """

    def __init__(self, embedder: Any, search_top_k: int = 1000, overwrite: bool = False,
                 cache_shard_rows: int = 100_000):
        super().__init__(embedder, search_top_k=search_top_k, overwrite=overwrite)
        self.cache_shard_rows = cache_shard_rows
        #: the cache used by the last call (``None`` without ``corpus_embd_save_dir``)
        self.last_cache: Optional[CorpusEmbeddingCache] = None

    def excluded_docids(self, queries: Mapping[str, str], kwargs: Dict[str, Any]) -> Dict[str, Set[str]]:
        """Documents never returned for each query (none by default; subclasses pop their kwargs here)."""
        return {}

    def corpus_embeddings(self, texts: List[str], corpus_embd_save_dir: Optional[str], docids: Sequence[str],
                          **kwargs: Any) -> List[np.ndarray]:
        """Corpus vectors as row blocks: cached shards when ``corpus_embd_save_dir`` is set."""
        def encode(batch: List[str]) -> np.ndarray:
            return dense_array(self.embedder.encode_corpus(batch, **kwargs))

        if corpus_embd_save_dir is None:
            self.last_cache = None
            return [encode(texts)]
        self.last_cache = CorpusEmbeddingCache(corpus_embd_save_dir, embedder_fingerprint(self.embedder), docids,
                                               texts, shard_rows=self.cache_shard_rows)
        return self.last_cache.load_or_encode(encode, overwrite=self.overwrite)

    def __call__(self, corpus: Mapping[str, Mapping[str, str]], queries: Mapping[str, str],
                 corpus_embd_save_dir: Optional[str] = None, ignore_identical_ids: bool = False,
                 **kwargs: Any) -> SearchResults:
        kwargs.pop("language", None)
        excluded = self.excluded_docids(queries, kwargs)
        if ignore_identical_ids:
            logger.warning("ignore_identical_ids is set: a document whose id equals the query id is never returned.")
            for qid in queries:
                if qid in corpus:
                    excluded.setdefault(qid, set()).add(qid)
        docids = list(corpus)
        blocks = self.corpus_embeddings([passage_text(corpus[d]) for d in docids], corpus_embd_save_dir, docids,
                                        **kwargs)
        qids = list(queries)
        query_embeddings = dense_array(self.embedder.encode_queries([queries[q] for q in qids], **kwargs))
        extra = max((len(docs) for docs in excluded.values()), default=0)
        scores, indices = search(index(blocks), self.search_top_k + extra, query_embeddings)
        results: SearchResults = {}
        for row, qid in enumerate(qids):
            skip = excluded.get(qid, ())
            hits: Dict[str, float] = {}
            for score, doc_index in zip(scores[row].tolist(), indices[row].tolist()):
                if doc_index < 0 or docids[doc_index] in skip:
                    continue
                hits[docids[doc_index]] = float(score)
                if len(hits) == self.search_top_k:
                    break
            results[qid] = hits
        return results


class EvalReranker:
    """Reranks the ``rerank_top_k`` best hits of each query with a cross-encoder.

    Hits beyond ``rerank_top_k`` are kept and ranked after the reranked ones (their scores are set below
    the lowest reranker score, keeping their retrieval order). Inputs are never modified.

    Args:
        reranker: Model with ``compute_score(pairs) -> scores``.
        rerank_top_k: Hits reranked per query.
        pairs_per_call: Pairs scored per ``compute_score`` call.
    """

    def __init__(self, reranker: Any, rerank_top_k: int = 100, pairs_per_call: int = 100_000):
        self.reranker = reranker
        self.rerank_top_k = rerank_top_k
        self.pairs_per_call = pairs_per_call

    @property
    def name_or_path(self) -> str:
        """The reranker's name or path (see :func:`model_name_or_path`)."""
        return model_name_or_path(self.reranker)

    def __str__(self) -> str:
        return display_name(self.name_or_path)

    def stop_multi_process_pool(self) -> None:
        """Stop the reranker's worker pool and free accelerator memory."""
        self.reranker.stop_self_pool()

    def score(self, pairs: List[List[str]]) -> List[float]:
        """Reranker scores of ``pairs`` (chunked calls; a scalar result is accepted for one pair)."""
        scores: List[float] = []
        for start in range(0, len(pairs), self.pairs_per_call):
            chunk = pairs[start:start + self.pairs_per_call]
            out = self.reranker.compute_score(chunk)
            values = [float(out)] if np.ndim(out) == 0 else [float(v) for v in out]
            if len(values) != len(chunk):
                raise ValueError(f"The reranker returned {len(values)} scores for {len(chunk)} pairs.")
            scores.extend(values)
        return scores

    def __call__(self, corpus: Mapping[str, Mapping[str, str]], queries: Mapping[str, str],
                 search_results: Mapping[str, Mapping[str, float]], ignore_identical_ids: bool = False,
                 **kwargs: Any) -> SearchResults:
        ranked: Dict[str, List[str]] = {}
        pairs: List[List[str]] = []
        for qid, hits in search_results.items():
            docs = [doc for doc, _ in sorted(hits.items(), key=lambda item: -item[1])
                    if not (ignore_identical_ids and doc == qid)]
            ranked[qid] = docs
            pairs.extend([queries[qid], passage_text(corpus[doc])] for doc in docs[: self.rerank_top_k])
        scores = iter(self.score(pairs))
        results: SearchResults = {}
        for qid, docs in ranked.items():
            head = [(doc, next(scores)) for doc in docs[: self.rerank_top_k]]
            head.sort(key=lambda item: -item[1])
            out = dict(head)
            floor = min((score for _, score in head), default=0.0)
            for position, doc in enumerate(docs[self.rerank_top_k:], start=1):
                out[doc] = floor - position
            results[qid] = out
        return results
