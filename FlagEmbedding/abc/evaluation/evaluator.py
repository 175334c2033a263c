"""Per-dataset evaluation: retrieve (and rerank), save result files, compute metrics.

The steps live beside this module: result files in :mod:`~FlagEmbedding.abc.evaluation.result_files`, metrics
in :mod:`~FlagEmbedding.abc.evaluation.scoring`; the 1.4.2 summary helpers come from
:class:`~FlagEmbedding.compat.EvaluatorCompat`.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader
from FlagEmbedding.abc.evaluation.result_files import ResultFiles, digest, results_key
from FlagEmbedding.abc.evaluation.scoring import DEFAULT_K_VALUES, ResultScoring
from FlagEmbedding.abc.evaluation.searcher import EvalDenseRetriever, EvalReranker, EvalRetriever, SearchResults
from FlagEmbedding.compat import EvaluatorCompat
from FlagEmbedding.retrieval import distributed

logger = logging.getLogger(__name__)


class AbsEvaluator(ResultFiles, ResultScoring, EvaluatorCompat):
    """Runs one dataset of a benchmark and keeps ``<output_dir>/<retriever>/<reranker>/`` up to date.

    Args:
        eval_name: Stored in (and checked against) every result file.
        data_loader: Provides corpus, queries and qrels.
        overwrite: Recompute results and metrics even when files exist.
    """

    #: result files carry a ``sub_dataset_name`` key (BEIR)
    SUB_DATASET_KEY = False
    #: qrels are per-query relevance judgements, so ``--compare_to`` can compare two runs query by query
    PER_QUERY_COMPARISON = True

    def __init__(self, eval_name: str, data_loader: AbsEvalDataLoader, overwrite: bool = False):
        self.eval_name = eval_name
        self.data_loader = data_loader
        self.overwrite = overwrite
        #: result folders whose metrics were refreshed by this evaluator (trusted even with ``overwrite``)
        self._refreshed: set = set()

    # ------------------------------------------------------------------ the evaluation
    def __call__(self, splits: Sequence[str], search_results_save_dir: str, retriever: EvalRetriever,
                 reranker: Optional[EvalReranker] = None, corpus_embd_save_dir: Optional[str] = None,
                 ignore_identical_ids: bool = False, k_values: Sequence[int] = DEFAULT_K_VALUES,
                 dataset_name: Optional[str] = None, **kwargs: Any) -> None:
        """Evaluate ``splits`` of ``dataset_name``; ``kwargs`` reach both models."""
        splits = self.data_loader.check_splits(splits, dataset_name)
        if not splits:
            logger.warning("No valid split for dataset %s; skipping it.", dataset_name)
            return
        model_dir = os.path.join(search_results_save_dir, str(retriever))
        retrieval_dir = os.path.join(model_dir, "NoReranker")
        new_folder = not os.path.exists(model_dir)
        self.claim_folder(model_dir, retriever.name_or_path)
        retrieved: Dict[Optional[str], Dict[str, SearchResults]] = {}
        fresh: Dict[Optional[str], List[str]] = {}
        try:
            for sub in self.data_loader.sub_dataset_names(dataset_name):
                retrieved[sub], fresh[sub] = self.retrieve(splits, retrieval_dir, retriever, corpus_embd_save_dir,
                                                           ignore_identical_ids, dataset_name, sub, **kwargs)
        except BaseException:
            if new_folder:
                self.remove_if_no_results(model_dir)
            raise
        retriever.stop_pools()
        self.evaluate_results(retrieval_dir, k_values)
        if reranker is None:
            return
        rerank_dir = os.path.join(model_dir, str(reranker))
        self.claim_folder(rerank_dir, reranker.name_or_path)
        for sub, by_split in retrieved.items():
            sources = self.read_result_sources(rerank_dir)
            for split, results in by_split.items():
                path = os.path.join(rerank_dir, self.result_file_name(dataset_name, sub, split))
                corpus = self.data_loader.load_corpus(dataset_name, sub)
                queries = self.data_loader.load_queries(dataset_name, split=split, sub_dataset_name=sub)
                key = results_key(reranker, reranker.reranker, {"rerank_top_k": reranker.rerank_top_k,
                                                                 "ignore_identical_ids": ignore_identical_ids,
                                                                 "first_stage": digest(results), **kwargs},
                                  corpus, queries)
                if os.path.exists(path) and not self.overwrite and sources.get(os.path.basename(path)) == key:
                    continue
                reranked = reranker(corpus=corpus, queries=queries, search_results=results,
                                    ignore_identical_ids=ignore_identical_ids, **kwargs)
                self.save_search_results(self.eval_name, str(retriever), str(reranker), reranked, path, split,
                                         dataset_name, **self.sub_dataset_metadata(sub))
                self.record_result_source(path, key)
        reranker.stop_pools()
        self.evaluate_results(rerank_dir, k_values)

    def retrieve(self, splits: Sequence[str], retrieval_dir: str, retriever: EvalRetriever,
                 corpus_embd_save_dir: Optional[str], ignore_identical_ids: bool, dataset_name: Optional[str],
                 sub_dataset_name: Optional[str], **kwargs: Any) -> Tuple[Dict[str, SearchResults], List[str]]:
        """First-stage results per split (computed, or reused from files) and the splits computed now."""
        paths = self.retrieval_paths(splits, retrieval_dir, dataset_name, sub_dataset_name)
        corpus = self.data_loader.load_corpus(dataset_name, sub_dataset_name)
        queries = {split: self.data_loader.load_queries(dataset_name, split=split, sub_dataset_name=sub_dataset_name)
                   for split in splits}
        settings = {"search_top_k": retriever.search_top_k, "ignore_identical_ids": ignore_identical_ids, **kwargs}
        keys = {split: results_key(retriever, getattr(retriever, "embedder", None), settings, corpus, queries[split])
                for split in splits}
        sources = self.read_result_sources(retrieval_dir)
        if not self.needs_retrieval(paths):
            out = {}
            for split, path in paths.items():
                metadata, results = self.load_search_results(path)
                expected = {"eval_name": self.eval_name, "model_name": str(retriever), "reranker_name": "NoReranker",
                            "split": split, "dataset_name": dataset_name, "sub_dataset_name": sub_dataset_name}
                self.check_metadata(path, metadata, expected)
                out[split] = results
            if all(sources.get(os.path.basename(paths[split])) == keys[split] for split in splits):
                return out, []
            logger.info("Search results in %s were produced by another model, setting, corpus or query set; "
                        "recomputing them.", retrieval_dir)
        cache_dir = self.get_corpus_embd_save_dir(retriever.cache_name, corpus_embd_save_dir or None, dataset_name,
                                                  sub_dataset_name)
        out = {}
        for group in self._query_groups(queries):
            merged = {qid: text for split in group for qid, text in queries[split].items()}
            results = retriever(corpus=corpus, queries=merged, corpus_embd_save_dir=cache_dir,
                                ignore_identical_ids=ignore_identical_ids, **kwargs)
            for split in group:
                out[split] = {qid: results[qid] for qid in queries[split]}
                self.save_search_results(self.eval_name, str(retriever), "NoReranker", out[split], paths[split],
                                         split, dataset_name, **self.sub_dataset_metadata(sub_dataset_name))
                self.record_result_source(paths[split], keys[split])
        return out, list(splits)

    def retrieval_paths(self, splits: Sequence[str], retrieval_dir: str, dataset_name: Optional[str],
                        sub_dataset_name: Optional[str]) -> Dict[str, str]:
        """First-stage result file of each split."""
        return {split: os.path.join(retrieval_dir, self.result_file_name(dataset_name, sub_dataset_name, split))
                for split in splits}

    def needs_retrieval(self, paths: Mapping[str, str]) -> bool:
        """Whether first-stage results are computed (``overwrite``, or a result file is missing)."""
        return self.overwrite or not all(os.path.exists(path) for path in paths.values())

    def encode_corpus_shares(self, splits: Sequence[str], search_results_save_dir: str, retriever: EvalDenseRetriever,
                             corpus_embd_save_dir: Optional[str], dataset_name: Optional[str] = None,
                             **kwargs: Any) -> None:
        """Distributed runs: encode this rank's share of the cache shards of every corpus of ``dataset_name``
        whose first-stage results :meth:`__call__` will compute (``kwargs`` as there)."""
        splits = self.data_loader.check_splits(splits, dataset_name)
        if not splits:
            return
        retrieval_dir = os.path.join(search_results_save_dir, str(retriever), "NoReranker")
        for sub in self.data_loader.sub_dataset_names(dataset_name):
            paths = self.retrieval_paths(splits, retrieval_dir, dataset_name, sub)
            if distributed.broadcast_flags([self.needs_retrieval(paths)])[0]:  # rank 0 decides: its output_dir counts
                corpus = self.data_loader.load_corpus(dataset_name, sub)
                cache_dir = self.get_corpus_embd_save_dir(retriever.cache_name, corpus_embd_save_dir, dataset_name, sub)
                assert cache_dir is not None, "distributed runs require --corpus_embd_save_dir (the shared cache)"
                retriever.encode_corpus_share(corpus, cache_dir, **dict(kwargs))

    @staticmethod
    def _query_groups(queries: Mapping[str, Mapping[str, str]]) -> List[List[str]]:
        """Splits retrieved together: all of them, unless one query id has different texts in two splits."""
        seen: Dict[str, str] = {}
        for by_id in queries.values():
            for qid, text in by_id.items():
                if seen.setdefault(qid, text) != text:
                    return [[split] for split in queries]
        return [list(queries)]
