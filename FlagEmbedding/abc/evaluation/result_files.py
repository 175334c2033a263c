"""Result files of an evaluation: names, reading and writing, what produced them, which model owns a folder.

``<output_dir>/<retriever>/<reranker>/<dataset>[-<sub>]-<split>.json`` hold ``{qid: {docid: score}}`` and the
metadata the evaluator checks before reusing them; each folder also records its model (:data:`MODEL_MARKER`)
and the key of what produced each file (:data:`RESULT_SOURCES`).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import Any, Dict, Mapping, Optional, Tuple

from FlagEmbedding.abc.evaluation.searcher import SearchResults
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_json, atomic_write_text

#: the model a results folder belongs to (two models with one basename must not share a folder)
MODEL_MARKER = ".name_or_path"
#: per result file, the key of what produced it (model, settings, corpus, queries); a result is reused only on a match
RESULT_SOURCES = ".search_results.sources"  # JSON, named so no "*.json" listing takes it for a result


def digest(value: Any) -> str:
    """SHA-256 of a JSON-able value; a mapping is hashed entry by entry (a corpus is never dumped whole)."""
    hasher = hashlib.sha256()
    items = value.items() if isinstance(value, Mapping) else [(None, value)]
    for key, item in items:
        hasher.update(json.dumps([key, item], sort_keys=True, ensure_ascii=False, default=repr).encode("utf-8"))
    return hasher.hexdigest()


def results_key(stage: Any, model: Any, settings: Mapping[str, Any], corpus: Mapping[str, Any],
                queries: Mapping[str, str]) -> str:
    """Key of one result file: the stage's model (weights identity and settings for embedders), its ``settings``,
    the exact corpus and the split's queries."""
    from FlagEmbedding.retrieval.embedding_cache import embedder_fingerprint

    try:
        identity: Any = embedder_fingerprint(model)
    except AttributeError:  # not an embedder: the model's name and settings
        identity = [stage.name_or_path, {k: v for k, v in sorted(getattr(model, "kwargs", {}).items())}]
    return digest({"model": identity, "settings": dict(settings), "corpus": digest(corpus),
                   "queries": digest(queries)})


def _identity(name_or_path: str) -> str:
    return os.path.abspath(name_or_path) if os.path.isdir(name_or_path) else name_or_path


class ResultFiles:
    """The result-file half of :class:`~FlagEmbedding.abc.evaluation.evaluator.AbsEvaluator` (reads
    ``eval_name``, ``overwrite`` and ``SUB_DATASET_KEY`` of the evaluator)."""

    eval_name: str
    overwrite: bool
    SUB_DATASET_KEY: bool

    # ------------------------------------------------------------------ naming
    @staticmethod
    def result_file_name(dataset_name: Optional[str], sub_dataset_name: Optional[str], split: str) -> str:
        """``<dataset>[-<sub>]-<split>.json`` or ``<split>.json``."""
        return "-".join(part for part in (dataset_name, sub_dataset_name, split) if part) + ".json"

    def get_corpus_embd_save_dir(self, retriever_name: str, corpus_embd_save_dir: Optional[str] = None,
                                 dataset_name: Optional[str] = None,
                                 sub_dataset_name: Optional[str] = None) -> Optional[str]:
        """Cache folder of one corpus, ``<root>/<retriever>[/<dataset>[/<sub>]]`` (None without a root)."""
        if corpus_embd_save_dir is None:
            return None
        parts = [part for part in (dataset_name, sub_dataset_name) if part]
        return os.path.join(corpus_embd_save_dir, retriever_name, *parts)

    # ------------------------------------------------------------------ result files
    def sub_dataset_metadata(self, sub_dataset_name: Optional[str]) -> Dict[str, Optional[str]]:
        """The extra result-file key of this benchmark: ``{"sub_dataset_name": ...}`` for BEIR, else none."""
        return {"sub_dataset_name": sub_dataset_name} if self.SUB_DATASET_KEY else {}

    @staticmethod
    def save_search_results(eval_name: str, model_name: str, reranker_name: str, search_results: SearchResults,
                            output_path: str, split: str, dataset_name: Optional[str] = None,
                            **metadata: Any) -> None:
        """Write one result file (indent 4): the metadata keys (``metadata`` after the original's, e.g. BEIR's
        ``sub_dataset_name``), then ``search_results``. The parameters are the original's, in its order."""
        data: Dict[str, Any] = {"eval_name": eval_name, "model_name": model_name, "reranker_name": reranker_name,
                                "split": split, "dataset_name": dataset_name, **metadata,
                                "search_results": search_results}
        atomic_write_json(output_path, data, indent=4)

    @staticmethod
    def load_search_results(input_path: str) -> Tuple[Dict[str, Any], SearchResults]:
        """``(metadata, search_results)`` of a result file."""
        try:
            with open(input_path, encoding="utf-8") as f:
                data = json.load(f)
        except ValueError as error:
            raise InputError(
                f"{input_path}: not a valid result file ({error}); delete it or rerun with --overwrite."
            ) from None
        if not isinstance(data, dict) or "search_results" not in data:
            raise InputError(f"{input_path}: not a result file (no 'search_results' key).")
        results = data.pop("search_results")
        return data, results

    def check_metadata(self, path: str, metadata: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` when a reused result file was produced for something else."""
        for key, value in expected.items():
            if metadata.get(key) != value:
                raise InputError(f"{path}: '{key}' is {metadata.get(key)!r}, expected {value!r}; "
                                 "use another --output_dir or rerun with --overwrite.")

    def check_data_info(self, data_info: Mapping[str, Any], model_name: str, reranker_name: str, split: str,
                        dataset_name: Optional[str] = None) -> None:
        """Raise ``ValueError`` when the metadata of a loaded result file is not this evaluation's."""
        self.check_metadata("search results", data_info, {
            "eval_name": self.eval_name, "model_name": model_name, "reranker_name": reranker_name,
            "split": split, "dataset_name": dataset_name,
        })

    @staticmethod
    def read_result_sources(folder: str) -> Dict[str, str]:
        """``{result file name: key}`` of a results folder (empty when missing or unreadable)."""
        try:
            with open(os.path.join(folder, RESULT_SOURCES), encoding="utf-8") as f:
                sources = json.load(f)
        except (OSError, ValueError):
            return {}
        return sources if isinstance(sources, dict) else {}

    def record_result_source(self, path: str, key: str) -> None:
        """Remember which key produced the result file ``path``."""
        folder = os.path.dirname(path)
        sources = self.read_result_sources(folder)
        sources[os.path.basename(path)] = key
        atomic_write_json(os.path.join(folder, RESULT_SOURCES), sources, indent=None)

    def claim_folder(self, folder: str, name_or_path: str) -> None:
        """Record which model owns ``folder``; refuse a folder owned by another model of the same name."""
        marker = os.path.join(folder, MODEL_MARKER)
        identity = _identity(name_or_path)
        if os.path.exists(marker) and not self.overwrite:
            with open(marker, encoding="utf-8") as f:
                owner = f.read()
            if owner != identity:
                raise InputError(f"{folder} holds results of {owner}, not {identity} (same display name); "
                                 "use another --output_dir or rerun with --overwrite.")
        atomic_write_text(marker, identity)

    @staticmethod
    def remove_if_no_results(folder: str) -> bool:
        """Remove ``folder`` when no result file was written in it (only the model marker and empty sub-folders:
        a run that failed before its first result); return whether it was removed."""
        for _, _, names in os.walk(folder):
            if any(name != MODEL_MARKER and name != RESULT_SOURCES for name in names):
                return False
        shutil.rmtree(folder, ignore_errors=True)
        return True
