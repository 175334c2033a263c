"""Benchmark data: local files in this library's layout or BEIR's, with remote download as a fallback.

Local layouts accepted in a dataset folder (every id is read as ``str``):

* this library's: ``corpus.jsonl`` (``{"id", "title"?, "text"}``), ``<split>_queries.jsonl``
  (``{"id", "text"}``) and ``<split>_qrels.jsonl`` (``{"qid", "docid", "relevance"}``);
* BEIR's: ``corpus.jsonl`` (``{"_id", "title"?, "text"}``), ``queries.jsonl`` (all splits; only the
  queries named by the split's qrels are kept) and ``qrels/<split>.tsv`` (``query-id corpus-id score``).

Remote data is saved in this library's layout when ``dataset_dir`` is set.

The file readers live in :mod:`~FlagEmbedding.retrieval.readers` and the download helpers in
:mod:`~FlagEmbedding.utils.downloads`.
"""
from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from FlagEmbedding.utils.downloads import REMOTE_ERRORS, DatasetUnavailableError, RemoteFilesMixin
from FlagEmbedding.retrieval.readers import (Corpus, Qrels, Queries, iter_objects, read_corpus, read_qrels_jsonl,
                                                  read_qrels_tsv, read_queries, read_tsv_queries)
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_jsonl

__all__ = ["AbsEvalDataLoader", "CORPUS_FILE", "BEIR_QUERIES_FILE", "as_list"]

logger = logging.getLogger(__name__)

CORPUS_FILE = "corpus.jsonl"
BEIR_QUERIES_FILE = "queries.jsonl"


def as_list(value: Union[None, str, Sequence[str]]) -> List[str]:
    """``None`` -> ``[]``, ``"x"`` -> ``["x"]``, a sequence -> a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


# ---------------------------------------------------------------------------------------------- loader
class AbsEvalDataLoader(RemoteFilesMixin, ABC):
    """Loads corpus, queries and qrels of a benchmark; see the module docstring for the local layouts.

    Args:
        eval_name: Name of the evaluation; the download cache is ``<cache root>/<eval_name>``.
        dataset_dir: Local data root (remote data is saved there); ``None`` = always remote, never saved.
        cache_dir: Download cache root (default ``$HF_HUB_CACHE`` or ``~/.cache/huggingface/hub``).
        token: Hugging Face token used for downloads.
        force_redownload: Download again (once per loader) even when local files exist.
    """

    #: human-readable name of the data source, used in error messages
    SOURCE_NAME = "dataset"

    def __init__(self, eval_name: str, dataset_dir: Optional[str] = None, cache_dir: Optional[str] = None,
                 token: Optional[str] = None, force_redownload: bool = False):
        if not eval_name:
            raise InputError("eval_name is required.")
        self.eval_name = eval_name
        self.dataset_dir = dataset_dir
        root = cache_dir or os.getenv("HF_HUB_CACHE") or "~/.cache/huggingface/hub"
        self.cache_dir = os.path.join(os.path.expanduser(root), eval_name)
        self.token = token
        self.force_redownload = force_redownload
        self._forced: set = set()
        self._memo: Dict[Tuple, Any] = {}
        self._corpus_memo: Optional[Tuple[Tuple, Corpus]] = None
        self.sources: Dict[Tuple, str] = {}
        #: split named in the "data unavailable" message of a corpus (set by :meth:`validate`)
        self._hint_split = "test"

    # ------------------------------------------------------------------ names and splits
    def available_dataset_names(self) -> List[str]:
        """Names of the sub-datasets (``[]``: the data sits at the root of ``dataset_dir``)."""
        return []

    @abstractmethod
    def available_splits(self, dataset_name: Optional[str] = None) -> List[str]:
        """Splits supported by ``dataset_name``."""

    def sub_dataset_names(self, dataset_name: Optional[str] = None) -> List[Optional[str]]:
        """Parts evaluated separately inside one dataset (BEIR cqadupstack); ``[None]`` for whole datasets."""
        return [None]

    def check_dataset_names(self, dataset_names: Union[str, Sequence[str]]) -> List[str]:
        """Return ``dataset_names`` as a list; raise ``ValueError`` naming any unknown name."""
        names = as_list(dataset_names)
        available = self.available_dataset_names()
        for name in names:
            if name not in available:
                choices = ", ".join(available) if available else "none (the data sits directly in --dataset_dir)"
                raise InputError(f"Dataset name '{name}' is not available for {self.eval_name}; available: {choices}.")
        return names

    def check_splits(self, splits: Union[str, Sequence[str]], dataset_name: Optional[str] = None) -> List[str]:
        """The supported subset of ``splits`` (order kept); each dropped split is warned about."""
        available = self.available_splits(dataset_name)
        kept = []
        for split in as_list(splits):
            if split in available:
                kept.append(split)
            else:
                logger.warning("Split '%s' is not available for dataset %s (available: %s); skipping it.",
                               split, dataset_name, ", ".join(available))
        return kept

    def require_splits(self, splits: Union[str, Sequence[str]], dataset_name: Optional[str] = None) -> List[str]:
        """Like :meth:`check_splits` but raise ``ValueError`` when no requested split is available."""
        kept = self.check_splits(splits, dataset_name)
        if not kept:
            label = f"dataset '{dataset_name}'" if dataset_name else f"{self.eval_name} data"
            raise InputError(f"No requested split ({', '.join(as_list(splits))}) is available for {label}; "
                             f"available: {', '.join(self.available_splits(dataset_name)) or 'none'}.")
        return kept

    # ------------------------------------------------------------------ folders
    def dataset_folder(self, dataset_name: Optional[str] = None, sub_dataset_name: Optional[str] = None) -> Optional[str]:
        """Local folder of the queries and qrels (``None`` without ``dataset_dir``)."""
        if self.dataset_dir is None:
            return None
        parts = [part for part in (dataset_name, sub_dataset_name) if part]
        return os.path.join(self.dataset_dir, *parts)

    def corpus_folder(self, dataset_name: Optional[str] = None, sub_dataset_name: Optional[str] = None) -> Optional[str]:
        """Local folder of ``corpus.jsonl`` (the dataset folder unless a benchmark shares one corpus)."""
        return self.dataset_folder(dataset_name, sub_dataset_name)

    def corpus_id(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> Tuple:
        """Identifies a corpus (datasets sharing one corpus return the same id, so it is loaded once)."""
        return (dataset_name, sub_dataset_name)

    def label(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> str:
        """How a dataset is named in messages."""
        if dataset_name is None:
            return f"{self.eval_name} data"
        name = f"{dataset_name}/{sub_dataset_name}" if sub_dataset_name else dataset_name
        return f"{self.SOURCE_NAME} dataset '{name}'"

    # ------------------------------------------------------------------ public loading
    def load_corpus(self, dataset_name: Optional[str] = None, sub_dataset_name: Optional[str] = None) -> Corpus:
        """``{docid: {"title", "text"}}``."""
        key = ("corpus",) + self.corpus_id(dataset_name, sub_dataset_name)
        if self._corpus_memo is not None and self._corpus_memo[0] == key:
            return self._corpus_memo[1]
        folder = self.corpus_folder(dataset_name, sub_dataset_name)
        path = os.path.join(folder, CORPUS_FILE) if folder else None
        local = (path, lambda: read_corpus(path)) if path and os.path.exists(path) else None
        corpus = self._load(key, local, lambda: self._load_remote_corpus(dataset_name, sub_dataset_name=sub_dataset_name),
                            path, self.save_corpus, dataset_name, self._hint_split, sub_dataset_name)
        self._corpus_memo = (key, corpus)
        return corpus

    def load_queries(self, dataset_name: Optional[str] = None, split: str = "test",
                     *, sub_dataset_name: Optional[str] = None) -> Queries:
        """``{qid: text}`` of one split."""
        key = ("queries", dataset_name, sub_dataset_name, split)
        if key not in self._memo:
            folder = self.dataset_folder(dataset_name, sub_dataset_name)
            found = self._local_queries_path(folder, split)
            local = None
            if found is not None:
                path, beir_qrels = found

                def read() -> Queries:  # BEIR layout: only the queries its qrels name
                    keep = (set(self.load_qrels(dataset_name, split=split, sub_dataset_name=sub_dataset_name))
                            if beir_qrels else None)
                    return read_queries(path, keep=keep)

                local = (path, read)
            self._memo[key] = self._load(
                key, local, lambda: self._load_remote_queries(dataset_name, split, sub_dataset_name=sub_dataset_name),
                os.path.join(folder, f"{split}_queries.jsonl") if folder else None,
                lambda out, queries: atomic_write_jsonl(out, ({"id": q, "text": t} for q, t in queries.items())),
                dataset_name, split, sub_dataset_name)
        return self._memo[key]

    def load_qrels(self, dataset_name: Optional[str] = None, split: str = "test",
                   *, sub_dataset_name: Optional[str] = None) -> Qrels:
        """``{qid: {docid: relevance}}`` of one split."""
        key = ("qrels", dataset_name, sub_dataset_name, split)
        if key not in self._memo:
            folder = self.dataset_folder(dataset_name, sub_dataset_name)
            path = self._local_qrels_path(folder, split)
            self._memo[key] = self._load(
                key, (path, lambda: self.read_qrels_file(path)) if path else None,
                lambda: self._load_remote_qrels(dataset_name, split, sub_dataset_name=sub_dataset_name),
                os.path.join(folder, f"{split}_qrels.jsonl") if folder else None,
                lambda out, qrels: atomic_write_jsonl(out, self.qrels_rows(qrels)),
                dataset_name, split, sub_dataset_name)
        return self._memo[key]

    def _load(self, key: Tuple, local: Optional[Tuple[str, Callable[[], Any]]], remote: Callable[[], Any],
              save_path: Optional[str], save: Callable[[str, Any], None], dataset_name: Optional[str], split: str,
              sub_dataset_name: Optional[str]) -> Any:
        """Read ``local`` (``(path, reader)``) unless absent or forced; else fetch remotely and save to ``save_path``."""
        if local is not None and self._use_local(key):
            path, read = local
            self.sources[key] = path
            return read()
        data = self._fetch(key, dataset_name, split, sub_dataset_name, remote)
        self.sources[key] = self.remote_source(dataset_name, sub_dataset_name)
        if save_path:
            save(save_path, data)
            self.sources[key] = save_path
        return data

    def source(self, kind: str, dataset_name: Optional[str], split: Optional[str] = None,
               sub_dataset_name: Optional[str] = None) -> str:
        """File (or remote source) the loaded ``kind`` (corpus / queries / qrels) came from."""
        if kind == "corpus":
            key = ("corpus",) + self.corpus_id(dataset_name, sub_dataset_name)
        else:
            key = (kind, dataset_name, sub_dataset_name, split)
        return self.sources.get(key, kind)

    # ------------------------------------------------------------------ validation
    def validate(self, dataset_name: Optional[str], splits: Sequence[str], sub_dataset_name: Optional[str] = None) -> None:
        """Load everything one evaluation needs and raise ``ValueError`` on inconsistent data."""
        self._hint_split = splits[0] if splits else "test"
        corpus = self.load_corpus(dataset_name, sub_dataset_name)
        if not corpus:
            raise InputError(f"{self.source('corpus', dataset_name, None, sub_dataset_name)}: the corpus is empty.")
        for split in splits:
            qrels = self.load_qrels(dataset_name, split=split, sub_dataset_name=sub_dataset_name)
            if not qrels:  # checked first: BEIR's queries.jsonl is filtered by the qrels, so it would look empty
                raise InputError(f"{self.source('qrels', dataset_name, split, sub_dataset_name)}: no relevance "
                                 f"judgements.")
            queries = self.load_queries(dataset_name, split=split, sub_dataset_name=sub_dataset_name)
            queries_source = self.source("queries", dataset_name, split, sub_dataset_name)
            if not queries:
                raise InputError(f"{queries_source}: no queries for split '{split}'.")
            self.check_qrels(qrels, queries, corpus, self.source("qrels", dataset_name, split, sub_dataset_name),
                             queries_source, self.source("corpus", dataset_name, None, sub_dataset_name))

    def check_qrels(self, qrels: Qrels, queries: Queries, corpus: Corpus, qrels_source: str,
                    queries_source: str, corpus_source: str) -> None:
        """Every qrels query must be in ``queries`` and every judged document in ``corpus``."""
        unknown_queries = [qid for qid in qrels if qid not in queries]
        if unknown_queries:
            raise InputError(f"{qrels_source}: {len(unknown_queries)} query ids are not in {queries_source}: "
                             f"{_preview(unknown_queries)}.")
        unknown_docs = sorted({docid for docs in qrels.values() for docid in docs if docid not in corpus})
        if unknown_docs:
            raise InputError(f"{qrels_source}: {len(unknown_docs)} document ids are not in {corpus_source}: "
                             f"{_preview(unknown_docs)}.")

    # ------------------------------------------------------------------ local file resolution
    @staticmethod
    def _local_queries_path(folder: Optional[str], split: str) -> Optional[Tuple[str, Optional[str]]]:
        """``(path, None)`` for this library's file, ``(queries.jsonl, qrels tsv)`` for BEIR's, else None."""
        if folder is None:
            return None
        own = os.path.join(folder, f"{split}_queries.jsonl")
        if os.path.exists(own):
            return own, None
        beir = os.path.join(folder, BEIR_QUERIES_FILE)
        beir_qrels = os.path.join(folder, "qrels", f"{split}.tsv")
        if os.path.exists(beir) and os.path.exists(beir_qrels):
            return beir, beir_qrels
        return None

    @staticmethod
    def _local_qrels_path(folder: Optional[str], split: str) -> Optional[str]:
        if folder is None:
            return None
        for path in (os.path.join(folder, f"{split}_qrels.jsonl"), os.path.join(folder, "qrels", f"{split}.tsv")):
            if os.path.exists(path):
                return path
        return None

    def read_qrels_file(self, path: str) -> Qrels:
        """Parse a local qrels file (JSONL or TSV)."""
        return read_qrels_tsv(path) if path.endswith(".tsv") else read_qrels_jsonl(path)

    @staticmethod
    def qrels_rows(qrels: Qrels) -> Iterator[Dict[str, Any]]:
        """Rows of ``<split>_qrels.jsonl`` for ``qrels``."""
        for qid, docs in qrels.items():
            for docid, relevance in docs.items():
                yield {"qid": qid, "docid": docid, "relevance": relevance}

    @staticmethod
    def save_corpus(path: str, corpus: Corpus) -> None:
        """Write ``corpus.jsonl`` in this library's layout."""
        atomic_write_jsonl(path, ({"id": docid, **doc} for docid, doc in corpus.items()))

    # ------------------------------------------------------------------ remote
    def remote_source(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> str:
        """Where the data is downloaded from (shown in errors)."""
        return "its documented source"

    def layout_hint(self, dataset_name: Optional[str], split: str, sub_dataset_name: Optional[str] = None) -> str:
        """The ``put <files> in <folder>`` part of the "data unavailable" error."""
        folder = self.dataset_folder(dataset_name, sub_dataset_name)
        if folder is None:
            parts = [part for part in (dataset_name, sub_dataset_name) if part]
            folder = os.path.join("<dataset_dir>", *parts) + " and pass --dataset_dir <dataset_dir>"
        return (f"put corpus.jsonl, {split}_queries.jsonl and {split}_qrels.jsonl (or BEIR's corpus.jsonl, "
                f"queries.jsonl and qrels/{split}.tsv) in {folder}")

    def _load_remote_corpus(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> Corpus:
        raise NotImplementedError(f"{self.label(dataset_name, sub_dataset_name)} has no remote source.")

    def _load_remote_queries(self, dataset_name: Optional[str], split: str,
                             sub_dataset_name: Optional[str] = None) -> Queries:
        raise NotImplementedError(f"{self.label(dataset_name, sub_dataset_name)} has no remote source.")

    def _load_remote_qrels(self, dataset_name: Optional[str], split: str,
                           sub_dataset_name: Optional[str] = None) -> Qrels:
        raise NotImplementedError(f"{self.label(dataset_name, sub_dataset_name)} has no remote source.")

    def _use_local(self, key: Tuple) -> bool:
        return not (self.force_redownload and key not in self._forced)

    def _fetch(self, key: Tuple, dataset_name: Optional[str], split: str, sub_dataset_name: Optional[str],
               load: Callable[[], Any]) -> Any:
        """Run a remote ``load``; turn a network/storage failure into one clear sentence."""
        try:
            data = load()
        except DatasetUnavailableError:
            raise
        except REMOTE_ERRORS as error:
            raise DatasetUnavailableError(
                f"{self.label(dataset_name, sub_dataset_name)} is not available locally and could not be "
                f"downloaded from {self.remote_source(dataset_name, sub_dataset_name)} ({type(error).__name__}); "
                f"get it from there and {self.layout_hint(dataset_name, split, sub_dataset_name)}."
            ) from error
        self._forced.add(key)
        return data


def _preview(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{i}'" for i in ids[:limit])
    return shown + (", ..." if len(ids) > limit else "")
