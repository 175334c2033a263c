"""BEIR data: ``<dataset_dir>/<name>/`` (cqadupstack: ``<dataset_dir>/cqadupstack/<sub>/``), remote from ``BeIR/*``."""
from __future__ import annotations

import os
from typing import List, Optional

from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader
from FlagEmbedding.retrieval.readers import Corpus, Qrels, Queries, read_corpus, read_qrels_tsv, read_queries
from FlagEmbedding.utils.errors import InputError

BEIR_DATASETS = ["arguana", "climate-fever", "cqadupstack", "dbpedia-entity", "fever", "fiqa", "hotpotqa", "msmarco",
                 "nfcorpus", "nq", "quora", "scidocs", "scifact", "trec-covid", "webis-touche2020"]
CQADUPSTACK_SUBS = ["android", "english", "gaming", "gis", "mathematica", "physics", "programmers", "stats", "tex",
                    "unix", "webmasters", "wordpress"]
CQADUPSTACK_ZIP = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/cqadupstack.zip"


class BEIREvalDataLoader(AbsEvalDataLoader):
    """The 15 BEIR datasets (``msmarco``: split ``dev``; others: ``test``)."""

    SOURCE_NAME = "BEIR"

    def available_dataset_names(self) -> List[str]:
        return list(BEIR_DATASETS)

    def available_splits(self, dataset_name: Optional[str] = None) -> List[str]:
        return ["dev"] if dataset_name == "msmarco" else ["test"]

    def sub_dataset_names(self, dataset_name: Optional[str] = None) -> List[Optional[str]]:
        return list(CQADUPSTACK_SUBS) if dataset_name == "cqadupstack" else [None]

    def available_sub_dataset_names(self, dataset_name: Optional[str] = None) -> Optional[List[str]]:
        """The cqadupstack sub-forums for ``cqadupstack``, None for the other datasets."""
        return list(CQADUPSTACK_SUBS) if dataset_name == "cqadupstack" else None

    def check_sub_dataset_name(self, dataset_name: Optional[str], sub_dataset_name: Optional[str]) -> None:
        """Raise ``InputError`` (a ``ValueError``) for a sub-dataset ``dataset_name`` does not have (e.g. a split
        passed in its place)."""
        available = self.available_sub_dataset_names(dataset_name) or []
        if sub_dataset_name is not None and sub_dataset_name not in available:
            raise InputError(
                f"sub_dataset_name {sub_dataset_name!r} is not a sub-dataset of {dataset_name!r} (available: "
                f"{available or None}); BEIR's order is (dataset_name, "
                "sub_dataset_name, split): pass split=... by keyword."
            )

    # The original BEIR loader's parameter order (sub_dataset_name before split) differs from the base class's
    # (split second, sub_dataset_name keyword-only): the override is incompatible by design of the 1.4.2 API.
    def load_queries(self, dataset_name: Optional[str] = None,  # type: ignore[override]
                     sub_dataset_name: Optional[str] = None, split: str = "test") -> Queries:
        """``{qid: text}`` of one split (the original BEIR loader's parameter order)."""
        self.check_sub_dataset_name(dataset_name, sub_dataset_name)
        return super().load_queries(dataset_name, split=split, sub_dataset_name=sub_dataset_name)

    def load_qrels(self, dataset_name: Optional[str] = None,  # type: ignore[override]  # (order: see load_queries)
                   sub_dataset_name: Optional[str] = None, split: str = "test") -> Qrels:
        """``{qid: {docid: relevance}}`` of one split (the original BEIR loader's parameter order)."""
        self.check_sub_dataset_name(dataset_name, sub_dataset_name)
        return super().load_qrels(dataset_name, split=split, sub_dataset_name=sub_dataset_name)

    def remote_source(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> str:
        if dataset_name == "cqadupstack":
            return CQADUPSTACK_ZIP
        return f"https://huggingface.co/datasets/BeIR/{dataset_name} (and BeIR/{dataset_name}-qrels)"

    # ------------------------------------------------------------------ cqadupstack (UKP zip, BEIR layout)
    def _cqadupstack_folder(self, sub_dataset_name: Optional[str]) -> str:
        assert sub_dataset_name is not None  # cqadupstack is read one sub-forum at a time (sub_dataset_names)
        root = self._download_zip_file(CQADUPSTACK_ZIP, self.cache_dir)
        return os.path.join(root, "cqadupstack", sub_dataset_name)

    # ------------------------------------------------------------------ remote
    def _load_remote_corpus(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> Corpus:
        if dataset_name == "cqadupstack":
            return read_corpus(os.path.join(self._cqadupstack_folder(sub_dataset_name), "corpus.jsonl"))
        rows = self._load_hf_dataset(f"BeIR/{dataset_name}", "corpus", split="corpus")
        return {str(row["_id"]): {"title": row["title"] or "", "text": row["text"]} for row in rows}

    def _load_remote_queries(self, dataset_name: Optional[str], split: str,
                             sub_dataset_name: Optional[str] = None) -> Queries:
        keep = set(self.load_qrels(dataset_name, split=split, sub_dataset_name=sub_dataset_name))
        if dataset_name == "cqadupstack":
            return read_queries(os.path.join(self._cqadupstack_folder(sub_dataset_name), "queries.jsonl"), keep=keep)
        rows = self._load_hf_dataset(f"BeIR/{dataset_name}", "queries", split="queries")
        return {str(row["_id"]): row["text"] for row in rows if str(row["_id"]) in keep}

    def _load_remote_qrels(self, dataset_name: Optional[str], split: str,
                           sub_dataset_name: Optional[str] = None) -> Qrels:
        if dataset_name == "cqadupstack":
            return read_qrels_tsv(os.path.join(self._cqadupstack_folder(sub_dataset_name), "qrels", f"{split}.tsv"))
        rows = self._load_hf_dataset(f"BeIR/{dataset_name}-qrels", split="validation" if split == "dev" else split)
        qrels: Qrels = {}
        for row in rows:
            qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
        return qrels
