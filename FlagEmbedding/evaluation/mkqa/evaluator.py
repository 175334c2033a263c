"""MKQA evaluator: one shared corpus cache and answer recall (``qa_recall_at_{k}``) as the only metric."""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional, Sequence

from FlagEmbedding.abc.evaluation.evaluator import AbsEvaluator
from FlagEmbedding.abc.evaluation.searcher import SearchResults
from FlagEmbedding.abc.evaluation.naming import passage_text
from FlagEmbedding.evaluation.mkqa.utils.compute_metrics import evaluate_qa_recall


class MKQAEvaluator(AbsEvaluator):
    """Scores a query as found at rank r when its r-th hit contains one of its answers."""

    #: answers, not relevance judgements: no per-query comparison (``--compare_to``)
    PER_QUERY_COMPARISON = False

    def get_corpus_embd_save_dir(self, retriever_name: str, corpus_embd_save_dir: Optional[str] = None,
                                 dataset_name: Optional[str] = None,
                                 sub_dataset_name: Optional[str] = None) -> Optional[str]:
        """``<root>/<retriever>``: every language searches the one shared corpus."""
        return os.path.join(corpus_embd_save_dir, retriever_name) if corpus_embd_save_dir is not None else None

    # The original MKQA evaluator's parameters (corpus_dict first, answers as qrels) differ from the base
    # ResultScoring.compute_metrics: the override is incompatible by design of the 1.4.2 API.
    @staticmethod
    def compute_metrics(corpus_dict: Mapping[str, str],  # type: ignore[override]
                        qrels: Mapping[str, Sequence[str]], search_results: SearchResults,
                        k_values: Sequence[int]) -> Dict[str, float]:
        """``qa_recall_at_{k}`` of ``search_results`` given passage texts (``corpus_dict``) and answers
        (``qrels``); the original's parameters, in its order."""
        depth = max(k_values)
        contexts = {
            qid: [corpus_dict[doc] for doc, _ in sorted(hits.items(), key=lambda item: -item[1])[:depth]]
            for qid, hits in search_results.items()
        }
        return evaluate_qa_recall(contexts, qrels, k_values)

    def file_metrics(self, metadata: Mapping[str, Any], search_results: SearchResults,
                     k_values: Sequence[int]) -> Dict[str, float]:
        answers = self.data_loader.load_qrels(metadata["dataset_name"], split=metadata["split"])
        corpus = self.data_loader.load_corpus(metadata["dataset_name"])
        corpus_dict = {docid: passage_text(doc) for docid, doc in corpus.items()}
        return self.compute_metrics(corpus_dict, answers, search_results, k_values)
