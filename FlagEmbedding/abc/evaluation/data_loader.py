"""Benchmark data: local files in this library's layout or BEIR's, with remote download as a fallback.

Local layouts accepted in a dataset folder (every id is read as ``str``):

* this library's: ``corpus.jsonl`` (``{"id", "title"?, "text"}``), ``<split>_queries.jsonl``
  (``{"id", "text"}``) and ``<split>_qrels.jsonl`` (``{"qid", "docid", "relevance"}``);
* BEIR's: ``corpus.jsonl`` (``{"_id", "title"?, "text"}``), ``queries.jsonl`` (all splits; only the
  queries named by the split's qrels are kept) and ``qrels/<split>.tsv`` (``query-id corpus-id score``).

Remote data is saved in this library's layout when ``dataset_dir`` is set.
"""
from __future__ import annotations

import gzip
import logging
import os
import shutil
import urllib.request
import zipfile
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from FlagEmbedding.utils.errors import InputError, MissingFileError
from FlagEmbedding.utils.hub import offline_if_unreachable
from FlagEmbedding.utils.files import atomic_write, atomic_write_jsonl, iter_jsonl, iter_lines

logger = logging.getLogger(__name__)

Corpus = Dict[str, Dict[str, str]]
Queries = Dict[str, str]
Qrels = Dict[str, Any]

CORPUS_FILE = "corpus.jsonl"
BEIR_QUERIES_FILE = "queries.jsonl"
#: errors that mean "the remote source could not be reached or read"
REMOTE_ERRORS = (OSError, zipfile.BadZipFile, EOFError)


class DatasetUnavailableError(MissingFileError):
    """The data is neither local nor downloadable; the message says where to get it and where to put it."""


# ---------------------------------------------------------------------------------------------- local readers
def iter_objects(path: str) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line; a bad line raises naming file and line."""
    for number, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise InputError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}.")
        yield number, row


def _field(row: Dict[str, Any], names: Sequence[str], path: str, number: int) -> Any:
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    wanted = " or ".join(f"'{name}'" for name in names)
    raise InputError(f"{path}, line {number}: missing field {wanted}.")


def _id(row: Dict[str, Any], names: Sequence[str], path: str, number: int) -> str:
    """An id field as ``str`` (ids may be written as JSON numbers); other types are rejected."""
    value = _field(row, names, path, number)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{path}, line {number}: '{names[0]}' must be a string, got {type(value).__name__}.")
    return str(value)


def _text(row: Dict[str, Any], name: str, path: str, number: int, required: bool = True) -> str:
    """A text field; must be a JSON string (a number or list is an error, never its Python repr)."""
    value = _field(row, (name,), path, number) if required else row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{path}, line {number}: '{name}' must be a string, got {type(value).__name__} "
                         f"({value!r:.40}).")
    return value


def _add_unique(mapping: Dict[str, Any], key: str, value: Any, path: str, number: int) -> None:
    if key in mapping:
        raise InputError(f"{path}, line {number}: duplicate id '{key}'.")
    mapping[key] = value


def read_corpus(path: str) -> Corpus:
    """Read ``corpus.jsonl`` (``id`` or BEIR's ``_id``; ``title`` defaults to ``""``)."""
    corpus: Corpus = {}
    for number, row in iter_objects(path):
        doc = {"title": _text(row, "title", path, number, required=False), "text": _text(row, "text", path, number)}
        _add_unique(corpus, _id(row, ("id", "_id"), path, number), doc, path, number)
    if not corpus:
        raise InputError(f"{path}: the corpus is empty.")
    return corpus


def read_queries(path: str, keep: Optional[set] = None) -> Queries:
    """Read a queries JSONL file (``id`` or ``_id``, ``text``), optionally keeping only ids in ``keep``."""
    queries: Queries = {}
    for number, row in iter_objects(path):
        qid = _id(row, ("id", "_id"), path, number)
        if keep is None or qid in keep:
            _add_unique(queries, qid, _text(row, "text", path, number), path, number)
    return queries


def _relevance(value: Any, path: str, number: int) -> int:
    """A relevance grade: an integer, written as a JSON/TSV integer or an integral number (``1.0``).

    The same rule for every qrels format; ``0.5``, ``"high"`` or ``true`` raise naming file and line.
    """
    grade: Any = value
    if isinstance(value, str):
        try:
            grade = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            grade = None
    if isinstance(grade, bool) or not isinstance(grade, (int, float)) or \
            (isinstance(grade, float) and not grade.is_integer()):
        raise InputError(f"{path}, line {number}: relevance {value!r} is not an integer (grades are whole "
                         f"numbers such as 0, 1, 2).")
    return int(grade)


class _QrelsBuilder:
    """Collects judgements; the same (query, document) pair twice is an error naming both lines."""

    def __init__(self, path: str):
        self.path = path
        self.qrels: Dict[str, Dict[str, int]] = {}
        self.lines: Dict[Tuple[str, str], int] = {}

    def add(self, qid: str, docid: str, relevance: Any, number: int) -> None:
        if (qid, docid) in self.lines:
            raise InputError(f"{self.path}, line {number}: query '{qid}' and document '{docid}' are already "
                             f"judged on line {self.lines[qid, docid]}; keep one judgement per pair.")
        self.lines[qid, docid] = number
        self.qrels.setdefault(qid, {})[docid] = _relevance(relevance, self.path, number)


def read_qrels_jsonl(path: str) -> Dict[str, Dict[str, int]]:
    """Read ``<split>_qrels.jsonl`` (``qid``, ``docid``, ``relevance``)."""
    builder = _QrelsBuilder(path)
    for number, row in iter_objects(path):
        builder.add(_id(row, ("qid",), path, number), _id(row, ("docid",), path, number),
                    _field(row, ("relevance",), path, number), number)
    return builder.qrels


def read_qrels_tsv(path: str) -> Dict[str, Dict[str, int]]:
    """Read BEIR ``qrels/<split>.tsv`` (``query-id corpus-id score``, header optional) or TREC ``qid Q0 docid rel``."""
    builder = _QrelsBuilder(path)
    for number, line in iter_lines(path):
        parts = line.split()
        if not parts or (number == 1 and parts[0] == "query-id"):
            continue
        if len(parts) not in (3, 4):
            raise InputError(f"{path}, line {number}: expected 3 (or TREC's 4) columns, got {len(parts)}.")
        builder.add(parts[0], parts[-2], parts[-1], number)
    return builder.qrels


def read_tsv_queries(path: str) -> Queries:
    """Read ``qid<TAB>query`` lines."""
    queries: Queries = {}
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            raise InputError(f"{path}, line {number}: expected 'qid<TAB>query'.")
        queries[parts[0]] = parts[1]
    return queries


def as_list(value: Union[None, str, Sequence[str]]) -> List[str]:
    """``None`` -> ``[]``, ``"x"`` -> ``["x"]``, a sequence -> a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


# ---------------------------------------------------------------------------------------------- loader
class AbsEvalDataLoader(ABC):
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

    # ------------------------------------------------------------------ download helpers
    def _load_hf_dataset(self, path: str, name: Optional[str] = None, split: Optional[str] = None) -> Any:
        """``datasets.load_dataset`` into the loader's cache (forced re-download when requested)."""
        import datasets

        offline_if_unreachable()
        return datasets.load_dataset(
            path, name, split=split, cache_dir=self.cache_dir, token=self.token,
            download_mode="force_redownload" if self.force_redownload else None,
        )

    def _hf_file(self, repo_id: str, filename: str) -> str:
        """Download one file of a Hugging Face dataset repository (honours ``$HF_ENDPOINT``)."""
        from huggingface_hub import hf_hub_download

        offline_if_unreachable()
        return hf_hub_download(repo_id, filename, repo_type="dataset", cache_dir=self.cache_dir, token=self.token,
                               force_download=self.force_redownload)

    def _download_file(self, url: str, save_dir: str) -> str:
        """Download ``url`` to ``save_dir/<basename>`` (again when missing, empty or forced); return the path."""
        path = os.path.join(save_dir, os.path.basename(url))
        forced = self.force_redownload and path not in self._forced
        if os.path.exists(path) and os.path.getsize(path) > 0 and not forced:
            return path
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            raise ConnectionError(f"offline mode (HF_HUB_OFFLINE) forbids downloading {url}")

        def fetch(out: Any) -> None:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, out)
            if out.tell() == 0:
                raise FileNotFoundError(f"{url} downloaded as an empty file")

        atomic_write(path, fetch, mode="wb")
        self._forced.add(path)
        return path

    def _download_gz_file(self, url: str, save_dir: str) -> str:
        """Download a ``.gz`` file and decompress it; return the path without ``.gz``."""
        gz_path = self._download_file(url, save_dir)
        path = gz_path[: -len(".gz")]
        if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(gz_path):
            with gzip.open(gz_path, "rb") as src:
                atomic_write(path, lambda dst: shutil.copyfileobj(src, dst), mode="wb")
        return path

    def _download_zip_file(self, url: str, save_dir: str) -> str:
        """Download a ``.zip`` file and extract it into ``<zip path minus .zip>/``; return that folder."""
        zip_path = self._download_file(url, save_dir)
        return self._extract_zip(zip_path, zip_path[: -len(".zip")])

    @staticmethod
    def _extract_zip(zip_path: str, target: str) -> str:
        """Extract ``zip_path`` into ``target`` unless an extraction newer than the archive is there."""
        marker = os.path.join(target, ".extracted")
        if not os.path.exists(marker) or os.path.getmtime(marker) < os.path.getmtime(zip_path):
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(target)
            open(marker, "w").close()
        return target


def _preview(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{i}'" for i in ids[:limit])
    return shown + (", ..." if len(ids) > limit else "")
