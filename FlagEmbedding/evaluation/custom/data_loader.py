"""Your own data: files directly in ``--dataset_dir``, or one sub-folder per dataset."""
from __future__ import annotations

import os
import re
from typing import List, Optional

from FlagEmbedding.abc.evaluation.data_loader import CORPUS_FILE, AbsEvalDataLoader
from FlagEmbedding.utils.downloads import DatasetUnavailableError
from FlagEmbedding.retrieval.readers import Corpus, Qrels, Queries
from FlagEmbedding.utils.errors import InputError, MissingFileError

_SPLIT_FILE = re.compile(r"^(.+)_queries\.jsonl$")


class CustomEvalDataLoader(AbsEvalDataLoader):
    """Local-only loader; accepts this library's layout or BEIR's in ``dataset_dir`` or in its sub-folders.

    When ``dataset_dir`` itself holds no ``corpus.jsonl``, every sub-folder that does is a dataset
    (select some with ``--dataset_names``). Splits are those with files (``test`` is always accepted).
    """

    SOURCE_NAME = "custom"
    #: required here (``__init__`` refuses a missing one)
    dataset_dir: str

    def __init__(self, eval_name: str, dataset_dir: Optional[str] = None, cache_dir: Optional[str] = None,
                 token: Optional[str] = None, force_redownload: bool = False):
        if not dataset_dir:
            raise InputError("Custom evaluation needs --dataset_dir (a folder with corpus.jsonl, "
                             "<split>_queries.jsonl and <split>_qrels.jsonl, or sub-folders that have them).")
        if not os.path.isdir(dataset_dir):
            raise MissingFileError(f"--dataset_dir {dataset_dir} is not a folder.")
        super().__init__(eval_name, dataset_dir, cache_dir, token, force_redownload)

    def dataset_folder(self, dataset_name: Optional[str] = None, sub_dataset_name: Optional[str] = None) -> str:
        """Local folder of the queries and qrels (always set: ``dataset_dir`` is required)."""
        folder = super().dataset_folder(dataset_name, sub_dataset_name)
        assert folder is not None  # dataset_dir is set
        return folder

    def available_dataset_names(self) -> List[str]:
        if os.path.exists(os.path.join(self.dataset_dir, CORPUS_FILE)):
            return []
        return sorted(name for name in os.listdir(self.dataset_dir)
                      if os.path.isfile(os.path.join(self.dataset_dir, name, CORPUS_FILE)))

    def available_splits(self, dataset_name: Optional[str] = None) -> List[str]:
        folder = self.dataset_folder(dataset_name)
        splits = {"test"}
        if os.path.isdir(folder):
            splits.update(m.group(1) for m in map(_SPLIT_FILE.match, os.listdir(folder)) if m)
            qrels_dir = os.path.join(folder, "qrels")
            if os.path.isdir(qrels_dir):
                splits.update(name[: -len(".tsv")] for name in os.listdir(qrels_dir) if name.endswith(".tsv"))
        return sorted(splits)

    def _missing(self, dataset_name: Optional[str], split: str, what: str) -> DatasetUnavailableError:
        return DatasetUnavailableError(
            f"{os.path.join(self.dataset_folder(dataset_name), what)} is missing; custom data must be local: "
            f"{self.layout_hint(dataset_name, split)}."
        )

    def _load_remote_corpus(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> Corpus:
        raise self._missing(dataset_name, "test", CORPUS_FILE)

    def _load_remote_queries(self, dataset_name: Optional[str], split: str,
                             sub_dataset_name: Optional[str] = None) -> Queries:
        raise self._missing(dataset_name, split, f"{split}_queries.jsonl")

    def _load_remote_qrels(self, dataset_name: Optional[str], split: str,
                           sub_dataset_name: Optional[str] = None) -> Qrels:
        raise self._missing(dataset_name, split, f"{split}_qrels.jsonl")
