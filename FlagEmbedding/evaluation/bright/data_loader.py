"""BRIGHT (``xlangai/bright``): reasoning-intensive retrieval; query ids are ``"<split>-<id>"``."""
from __future__ import annotations

from typing import List, Optional

from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader
from FlagEmbedding.retrieval.readers import Corpus, Qrels, Queries

SHORT_DATASETS = ["biology", "earth_science", "economics", "psychology", "robotics", "stackoverflow",
                  "sustainable_living", "leetcode", "pony", "aops", "theoremqa_questions", "theoremqa_theorems"]
LONG_DATASETS = ["biology", "earth_science", "economics", "psychology", "robotics", "stackoverflow",
                 "sustainable_living", "pony"]
BRIGHT_SPLITS = ["examples", "Gemini-1.0_reason", "claude-3-opus_reason", "gpt4_reason", "grit_reason",
                 "llama3-70b_reason"]


class BrightShortEvalDataLoader(AbsEvalDataLoader):
    """Short documents; positives from ``gold_ids``, ``excluded_ids`` judged 0 (never retrieved)."""

    SOURCE_NAME = "BRIGHT"
    DATASETS = SHORT_DATASETS
    CORPUS_CONFIG = "documents"
    GOLD_FIELD = "gold_ids"

    def available_dataset_names(self) -> List[str]:
        return list(self.DATASETS)

    def available_splits(self, dataset_name: Optional[str] = None) -> List[str]:
        return list(BRIGHT_SPLITS)

    def remote_source(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> str:
        return "https://huggingface.co/datasets/xlangai/bright"

    def _load_remote_corpus(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> Corpus:
        rows = self._load_hf_dataset("xlangai/bright", self.CORPUS_CONFIG, split=dataset_name)
        return {str(row["id"]): {"title": "", "text": row["content"]} for row in rows}

    def _load_remote_queries(self, dataset_name: Optional[str], split: str,
                             sub_dataset_name: Optional[str] = None) -> Queries:
        rows = self._load_hf_dataset("xlangai/bright", split, split=dataset_name)
        return {f"{split}-{row['id']}": row["query"] for row in rows}

    def _load_remote_qrels(self, dataset_name: Optional[str], split: str,
                           sub_dataset_name: Optional[str] = None) -> Qrels:
        qrels: Qrels = {}
        for row in self._load_hf_dataset("xlangai/bright", split, split=dataset_name):
            judged = qrels.setdefault(f"{split}-{row['id']}", {})
            for docid in row[self.GOLD_FIELD]:
                judged[str(docid)] = 1
            for docid in dict.fromkeys(row.get("excluded_ids") or []):
                if docid != "N/A":
                    judged.setdefault(str(docid), 0)
        return qrels


class BrightLongEvalDataLoader(BrightShortEvalDataLoader):
    """Long documents (StackExchange sets and pony); positives from ``gold_ids_long``."""

    DATASETS = LONG_DATASETS
    CORPUS_CONFIG = "long_documents"
    GOLD_FIELD = "gold_ids_long"
