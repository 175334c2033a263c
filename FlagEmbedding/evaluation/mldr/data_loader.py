"""MLDR: ``<dataset_dir>/<lang>/``; remote from ``Shitao/MLDR`` (corpus without titles)."""
from __future__ import annotations

from typing import List, Optional

from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader
from FlagEmbedding.retrieval.readers import Corpus, Qrels, Queries

MLDR_LANGUAGES = ["ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "ru", "th", "zh"]


class MLDREvalDataLoader(AbsEvalDataLoader):
    """13 languages, splits ``train dev test``; positives have relevance 1, listed negatives 0."""

    SOURCE_NAME = "MLDR"

    def available_dataset_names(self) -> List[str]:
        return list(MLDR_LANGUAGES)

    def available_splits(self, dataset_name: Optional[str] = None) -> List[str]:
        return ["train", "dev", "test"]

    def remote_source(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> str:
        return "https://huggingface.co/datasets/Shitao/MLDR"

    def _load_remote_corpus(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> Corpus:
        rows = self._load_hf_dataset("Shitao/MLDR", f"corpus-{dataset_name}", split="corpus")
        return {str(row["docid"]): {"title": "", "text": row["text"]} for row in rows}

    def _load_remote_queries(self, dataset_name: Optional[str], split: str,
                             sub_dataset_name: Optional[str] = None) -> Queries:
        rows = self._load_hf_dataset("Shitao/MLDR", dataset_name, split=split)
        return {str(row["query_id"]): row["query"] for row in rows}

    def _load_remote_qrels(self, dataset_name: Optional[str], split: str,
                           sub_dataset_name: Optional[str] = None) -> Qrels:
        qrels: Qrels = {}
        for row in self._load_hf_dataset("Shitao/MLDR", dataset_name, split=split):
            judged = qrels.setdefault(str(row["query_id"]), {})
            for passage in row["positive_passages"]:
                judged[str(passage["docid"])] = 1
            for passage in row["negative_passages"] or []:
                judged.setdefault(str(passage["docid"]), 0)
        return qrels
