"""MKQA evaluator: one shared corpus cache and answer recall (``qa_recall_at_{k}``) as the only metric."""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional, Sequence

from FlagEmbedding.abc.evaluation.evaluator import AbsEvaluator
from FlagEmbedding.abc.evaluation.searcher import EvalRetriever, SearchResults
from FlagEmbedding.abc.evaluation.utils import passage_text
from FlagEmbedding.evaluation.mkqa.utils.compute_metrics import evaluate_qa_recall


class MKQAEvaluator(AbsEvaluator):
    """Scores a query as found at rank r when its r-th hit contains one of its answers."""

    def corpus_embd_dir(self, corpus_embd_save_dir: str, retriever: EvalRetriever, dataset_name: Optional[str],
                        sub_dataset_name: Optional[str]) -> str:
        return os.path.join(corpus_embd_save_dir, retriever.cache_name)

    def file_metrics(self, metadata: Mapping[str, Any], search_results: SearchResults,
                     k_values: Sequence[int]) -> Dict[str, float]:
        answers = self.data_loader.load_qrels(metadata["dataset_name"], metadata["split"])
        corpus = self.data_loader.load_corpus(metadata["dataset_name"])
        depth = max(k_values)
        contexts = {
            qid: [passage_text(corpus[doc]) for doc, _ in sorted(hits.items(), key=lambda item: -item[1])[:depth]]
            for qid, hits in search_results.items()
        }
        return evaluate_qa_recall(contexts, answers, k_values)
