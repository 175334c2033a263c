"""MKQA: one shared corpus (``<dataset_dir>/corpus.jsonl``, NQ passages) and per-language answers."""
from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader
from FlagEmbedding.retrieval.readers import Corpus, Qrels, Queries, iter_objects
from FlagEmbedding.evaluation.mkqa.utils.normalize_text import normalize
from FlagEmbedding.utils.errors import InputError, MissingFileError

MKQA_LANGUAGES = ["en", "ar", "fi", "ja", "ko", "ru", "es", "sv", "he", "th", "da", "de", "fr", "it", "nl", "pl", "pt",
                  "hu", "vi", "ms", "km", "no", "tr", "zh_cn", "zh_hk", "zh_tw"]
MKQA_REPO, MKQA_ZIP = "Shitao/bge-m3-data", "MKQA_test-data.zip"


class MKQAEvalDataLoader(AbsEvalDataLoader):
    """26 languages, split ``test``; qrels are answer lists ``{qid: [answers]}`` (``<lang>/test_qrels.jsonl``
    rows ``{"qid", "answers"}``)."""

    SOURCE_NAME = "MKQA"

    def available_dataset_names(self) -> List[str]:
        return list(MKQA_LANGUAGES)

    def available_splits(self, dataset_name: Optional[str] = None) -> List[str]:
        return ["test"]

    def corpus_folder(self, dataset_name: Optional[str] = None, sub_dataset_name: Optional[str] = None) -> Optional[str]:
        return self.dataset_dir

    def corpus_id(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> Tuple:
        return (None, None)

    def remote_source(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> str:
        return f"https://huggingface.co/datasets/BeIR/nq (corpus) and https://huggingface.co/datasets/{MKQA_REPO} ({MKQA_ZIP})"

    def layout_hint(self, dataset_name: Optional[str], split: str, sub_dataset_name: Optional[str] = None) -> str:
        root = self.dataset_dir or "<dataset_dir>"
        tail = "" if self.dataset_dir else " and pass --dataset_dir <dataset_dir>"
        return (f"put corpus.jsonl in {root} and {split}_queries.jsonl and {split}_qrels.jsonl "
                f"(rows {{\"qid\", \"answers\"}}) in {os.path.join(root, dataset_name or '<lang>')}{tail}")

    # ------------------------------------------------------------------ answers as qrels
    def read_qrels_file(self, path: str) -> Qrels:
        qrels: Qrels = {}
        for number, row in iter_objects(path):
            if "qid" not in row or not isinstance(row.get("answers"), list):
                raise InputError(f"{path}, line {number}: expected fields 'qid' and 'answers' (a list).")
            qrels[str(row["qid"])] = [str(answer) for answer in row["answers"]]
        return qrels

    @staticmethod
    def qrels_rows(qrels: Qrels) -> Iterator[Dict[str, Any]]:
        for qid, answers in qrels.items():
            yield {"qid": qid, "answers": answers}

    def check_qrels(self, qrels: Qrels, queries: Queries, corpus: Corpus, qrels_source: str,
                    queries_source: str, corpus_source: str) -> None:
        if not qrels:
            raise InputError(f"{qrels_source}: no answers.")
        unknown = [qid for qid in qrels if qid not in queries]
        if unknown:
            raise InputError(f"{qrels_source}: {len(unknown)} query ids are not in {queries_source}: '{unknown[0]}'.")

    # ------------------------------------------------------------------ remote
    def _questions(self, dataset_name: Optional[str]) -> Dict[str, Dict[str, Any]]:
        folder = self._extract_zip(self._hf_file(MKQA_REPO, MKQA_ZIP), os.path.join(self.cache_dir, "MKQA_test-data"))
        for root, _, names in os.walk(folder):
            if f"{dataset_name}.jsonl" in names:
                path = os.path.join(root, f"{dataset_name}.jsonl")
                return {str(row["id"]): row for _, row in iter_objects(path)}
        raise MissingFileError(f"{dataset_name}.jsonl is not in {MKQA_ZIP}")

    def _load_remote_corpus(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> Corpus:
        rows = self._load_hf_dataset("BeIR/nq", "corpus", split="corpus")
        return {str(row["_id"]): {"title": normalize(row["title"] or "").lower(), "text": normalize(row["text"]).lower()}
                for row in rows}

    def _load_remote_queries(self, dataset_name: Optional[str], split: str,
                             sub_dataset_name: Optional[str] = None) -> Queries:
        return {qid: row["question"] for qid, row in self._questions(dataset_name).items()}

    def _load_remote_qrels(self, dataset_name: Optional[str], split: str,
                           sub_dataset_name: Optional[str] = None) -> Qrels:
        return {qid: [str(answer) for answer in row["answers"]] for qid, row in self._questions(dataset_name).items()}
