"""Retrieval (dense, or any :mod:`FlagEmbedding.retrieval` method) and reranking stages of an evaluation."""
from __future__ import annotations

import logging
import tempfile
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set

import numpy as np

from FlagEmbedding.retrieval.embedding_cache import (
    CorpusEmbeddingCache,
    embedder_fingerprint,
    encode_assigned_together,
)
from FlagEmbedding.compat import SearchStageCompat, stop_model_pools
from FlagEmbedding.abc.evaluation.naming import backend_suffix, display_name, passage_text
from FlagEmbedding.retrieval.corpus_rows import representation_caches, shard_encoder
from FlagEmbedding.retrieval.dense import DenseIndex, dense_array
from FlagEmbedding.retrieval.index import SEARCH_CHUNK, RetrievalIndex, SearchOptions, is_m3
from FlagEmbedding.utils.progress import in_steps, stage_bar

logger = logging.getLogger(__name__)

SearchResults = Dict[str, Dict[str, float]]
__all__ = ["EvalDenseRetriever", "EvalReranker", "EvalRetriever", "SearchResults", "dense_array", "model_name_or_path"]


def model_name_or_path(model: Any) -> str:
    """The name or path ``model`` was built from: its ``model_name_or_path`` (kept by every FlagEmbedding
    embedder and reranker), else the ``config._name_or_path`` of its transformers model (other objects)."""
    name = getattr(model, "model_name_or_path", None)
    return name if name is not None else model.model.config._name_or_path


class EvalRetriever(ABC, SearchStageCompat):
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

    @property
    def cache_name(self) -> str:
        """Folder name of the model's corpus caches (shared by every search method)."""
        return display_name(self.name_or_path)

    def __str__(self) -> str:
        """The model's display name and its runtime (see :func:`backend_suffix`): the results folder."""
        return self.cache_name + backend_suffix(self.embedder)

    def stop_pools(self) -> None:
        """Stop the embedder's worker pools (query pool included) and free accelerator memory."""
        stop_model_pools(self.embedder)

    @abstractmethod
    def __call__(self, corpus: Mapping[str, Mapping[str, str]], queries: Mapping[str, str],
                 corpus_embd_save_dir: Optional[str] = None, ignore_identical_ids: bool = False,
                 **kwargs: Any) -> SearchResults:
        """Return ``{qid: {docid: score}}`` with at most ``search_top_k`` hits per query, best first."""


class EvalDenseRetriever(EvalRetriever):
    """Dense retrieval (cached, sharded corpus encoding and exact inner-product top-k) or, with
    ``search_options``, any method of :class:`~FlagEmbedding.retrieval.RetrievalIndex`.

    Args (beyond :class:`EvalRetriever`):
        cache_shard_rows: Corpus rows per embedding-cache shard.
        search_options: Search method and fusion settings (default: dense).
        faiss_factory: faiss index factory string for dense search (default: exact).
        index_backend / index_url / index_collection: The index database (:mod:`~FlagEmbedding.retrieval.stores`).
    """

    def __init__(self, embedder: Any, search_top_k: int = 1000, overwrite: bool = False,
                 cache_shard_rows: int = 100_000, search_options: Optional[SearchOptions] = None,
                 faiss_factory: Optional[str] = None, index_backend: str = "memory", index_url: Optional[str] = None,
                 index_collection: Optional[str] = None):
        super().__init__(embedder, search_top_k=search_top_k, overwrite=overwrite)
        self.cache_shard_rows = cache_shard_rows
        self.search_options = search_options or SearchOptions()
        self.faiss_factory = None if faiss_factory in (None, "", "Flat") else faiss_factory
        self.store_args: Dict[str, Any] = {"backend": index_backend, "url": index_url, "collection": index_collection}
        #: the cache used by the last call (``None`` without ``corpus_embd_save_dir``)
        self.last_cache: Optional[CorpusEmbeddingCache] = None

    @property
    def plain_dense(self) -> bool:
        """Whether this is today's exact dense search (no other method, no faiss)."""
        return self.search_options.method == "dense" and self.faiss_factory is None and \
            self.search_options.embedding_precision == "float32" and self.store_args["backend"] == "memory"

    #: the ``search_top_k`` a results folder name leaves out
    DEFAULT_SEARCH_TOP_K = 1000

    def __str__(self) -> str:
        """The model's display name and runtime, plus ``@<method tag>`` unless :attr:`plain_dense`: the tag of
        :meth:`SearchOptions.tag` (method, fusion and weights, ``rrf_k``, ``m3_weights``, reranking depth), then
        ``-depth<search_top_k>`` for a non-default candidate depth of the methods whose ranking it changes
        (colbert, hybrid, all, binary codes) and ``-faiss-<factory>`` when a faiss index serves a dense first stage."""
        if self.plain_dense:
            return super().__str__()
        m3 = is_m3(self.embedder)
        options = self.search_options
        tag = options.tag(m3)
        rescored = options.embedding_precision in ("binary", "ubinary")  # the depth sets the rescored candidates
        if (rescored or options.method in ("colbert", "hybrid", "all")) and \
                self.search_top_k != self.DEFAULT_SEARCH_TOP_K:
            tag += f"-depth{self.search_top_k}"
        dense_first = options.method in ("dense", "colbert") or (
            options.method in ("hybrid", "all") and "dense" in options.resolved_hybrid_methods(m3))
        if self.faiss_factory is not None and dense_first:
            tag += f"-faiss-{self.faiss_factory}"
        if self.store_args["backend"] != "memory":
            tag += f"-{self.store_args['backend']}"
        return f"{super().__str__()}@{tag}"

    def excluded_docids(self, queries: Mapping[str, str], kwargs: Dict[str, Any]) -> Dict[str, Set[str]]:
        """Documents never returned for each query (none by default; subclasses pop their kwargs here)."""
        return {}

    def corpus_encoder(self, **kwargs: Any) -> Callable[[List[str]], np.ndarray]:
        """``texts -> vectors`` with the embedder's corpus settings (``kwargs`` reach ``encode_corpus``)."""
        def encode(batch: List[str]) -> np.ndarray:
            return dense_array(self.embedder.encode_corpus(batch, **kwargs))

        return encode

    def corpus_cache(self, texts: List[str], corpus_embd_save_dir: str, docids: Sequence[str]) -> CorpusEmbeddingCache:
        """The embedding cache of this corpus for the current embedder settings."""
        return CorpusEmbeddingCache(corpus_embd_save_dir, embedder_fingerprint(self.embedder), docids, texts,
                                    shard_rows=self.cache_shard_rows)

    def corpus_embeddings(self, texts: List[str], corpus_embd_save_dir: Optional[str], docids: Sequence[str],
                          **kwargs: Any) -> List[np.ndarray]:
        """Corpus vectors as row blocks: cached shards when ``corpus_embd_save_dir`` is set."""
        encode = self.corpus_encoder(**kwargs)
        if corpus_embd_save_dir is None:
            self.last_cache = None
            return [encode(texts)]
        self.last_cache = self.corpus_cache(texts, corpus_embd_save_dir, docids)
        return self.last_cache.load_or_encode(encode, overwrite=self.overwrite)

    def encode_corpus_share(self, corpus: Mapping[str, Mapping[str, str]], corpus_embd_save_dir: str,
                            **kwargs: Any) -> List[int]:
        """Distributed runs: encode this rank's share of the corpus shards missing from the cache (see
        :meth:`CorpusEmbeddingCache.encode_assigned`; other search methods: from the caches of every model
        representation they need, each shard encoded once for all of them); ``kwargs`` are those of
        :meth:`__call__`."""
        kwargs.pop("language", None)
        self.excluded_docids({}, kwargs)  # drops the search-only keyword arguments of subclasses
        docids = list(corpus)
        texts = [passage_text(corpus[d]) for d in docids]
        if self.plain_dense:
            return self.corpus_cache(texts, corpus_embd_save_dir, docids).encode_assigned(
                self.corpus_encoder(**kwargs), overwrite=self.overwrite)
        m3 = is_m3(self.embedder)
        caches = representation_caches(corpus_embd_save_dir, docids, texts, self.embedder,
                                       self.search_options.representations(m3), self.cache_shard_rows,
                                       self.search_options.colbert_precision)
        if not caches:  # BM25 alone: nothing to encode
            return []
        return encode_assigned_together(caches, shard_encoder(self.embedder, m3, kwargs,
                                                              self.search_options.colbert_precision),
                                        overwrite=self.overwrite)

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
        texts = [passage_text(corpus[d]) for d in docids]
        qids = list(queries)
        depth = self.search_top_k + max((len(docs) for docs in excluded.values()), default=0)
        if self.plain_dense:
            blocks = self.corpus_embeddings(texts, corpus_embd_save_dir, docids, **kwargs)
            with stage_bar(len(qids), "Encoding queries", unit="query"):
                query_embeddings = dense_array(self.embedder.encode_queries([queries[q] for q in qids], **kwargs))
            index, ranked, ranked_scores = DenseIndex(blocks), [], []
            for start, end in in_steps(len(qids), SEARCH_CHUNK, "Searching", unit="query"):
                scores, indices = index.search(query_embeddings[start:end], depth)
                ranked += [[docids[i] for i in row if i >= 0] for row in indices.tolist()]
                ranked_scores += scores.tolist()
        else:
            ranked, ranked_scores = self.index_search(docids, texts, [queries[q] for q in qids], depth,
                                                      corpus_embd_save_dir, kwargs)
        results: SearchResults = {}
        for qid, row_ids, row_scores in zip(qids, ranked, ranked_scores):
            skip = excluded.get(qid, ())
            hits: Dict[str, float] = {}
            for docid, score in zip(row_ids, row_scores):
                if docid in skip:
                    continue
                hits[docid] = float(score)
                if len(hits) == self.search_top_k:
                    break
            results[qid] = hits
        return results

    def index_search(self, docids: List[str], texts: List[str], queries: List[str], depth: int,
                     corpus_embd_save_dir: Optional[str], kwargs: Dict[str, Any]) -> Any:
        """``(docids, scores)`` per query from a :class:`RetrievalIndex` in the cache folder (a temporary
        folder, removed afterwards, without ``corpus_embd_save_dir``)."""
        representations = self.search_options.representations(is_m3(self.embedder))

        def search(folder: str) -> Any:
            index = RetrievalIndex.build(folder, docids, texts, embedder=self.embedder,
                                         representations=representations, faiss_factory=self.faiss_factory,
                                         shard_rows=self.cache_shard_rows, overwrite=self.overwrite,
                                         store_corpus=False, encode_kwargs=kwargs,
                                         embedding_precision=self.search_options.embedding_precision,
                                         colbert_precision=self.search_options.colbert_precision, **self.store_args)
            return index.search(queries, depth, self.search_options, encode_kwargs=kwargs)

        if corpus_embd_save_dir is not None:
            return search(corpus_embd_save_dir)
        with tempfile.TemporaryDirectory(prefix="flagembedding-index-") as folder:
            return search(folder)


class EvalReranker(SearchStageCompat):
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
        """The reranker's display name and runtime (see :func:`backend_suffix`)."""
        return display_name(self.name_or_path) + backend_suffix(self.reranker)

    def stop_pools(self) -> None:
        """Stop the reranker's worker pool and free accelerator memory."""
        stop_model_pools(self.reranker)

    def score(self, pairs: List[List[str]]) -> List[float]:
        """Reranker scores of ``pairs`` (chunked calls under one "Reranking" bar; a scalar result is accepted for
        one pair)."""
        scores: List[float] = []
        with stage_bar(len(pairs), "Reranking", unit="pair") as bar:
            for start in range(0, len(pairs), self.pairs_per_call):
                chunk = pairs[start:start + self.pairs_per_call]
                with bar.part(len(chunk)):
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
