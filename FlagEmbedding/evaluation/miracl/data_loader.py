"""MIRACL: ``<dataset_dir>/<lang>/``; corpus from ``miracl/miracl-corpus``, topics and qrels from ``miracl/miracl``."""
from __future__ import annotations

from typing import List, Optional

from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader
from FlagEmbedding.retrieval.readers import Corpus, Qrels, Queries, read_qrels_tsv, read_tsv_queries

MIRACL_LANGUAGES = ["ar", "bn", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te", "th", "zh",
                    "de", "yo"]


class MIRACLEvalDataLoader(AbsEvalDataLoader):
    """18 languages; ``de`` and ``yo`` have only ``dev``, the others ``train`` and ``dev``. Queries are not filtered."""

    SOURCE_NAME = "MIRACL"

    def available_dataset_names(self) -> List[str]:
        return list(MIRACL_LANGUAGES)

    def available_splits(self, dataset_name: Optional[str] = None) -> List[str]:
        return ["dev"] if dataset_name in ("de", "yo") else ["train", "dev"]

    def remote_source(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> str:
        return "https://huggingface.co/datasets/miracl/miracl-corpus and https://huggingface.co/datasets/miracl/miracl"

    def _topic_file(self, dataset_name: Optional[str], split: str, kind: str) -> str:
        folder = "qrels" if kind == "qrels" else "topics"
        return self._hf_file("miracl/miracl",
                             f"miracl-v1.0-{dataset_name}/{folder}/{kind}.miracl-v1.0-{dataset_name}-{split}.tsv")

    def _load_remote_corpus(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> Corpus:
        rows = self._load_hf_dataset("miracl/miracl-corpus", dataset_name, split="train")
        return {str(row["docid"]): {"title": row["title"] or "", "text": row["text"]} for row in rows}

    def _load_remote_queries(self, dataset_name: Optional[str], split: str,
                             sub_dataset_name: Optional[str] = None) -> Queries:
        return read_tsv_queries(self._topic_file(dataset_name, split, "topics"))

    def _load_remote_qrels(self, dataset_name: Optional[str], split: str,
                           sub_dataset_name: Optional[str] = None) -> Qrels:
        return read_qrels_tsv(self._topic_file(dataset_name, split, "qrels"))
