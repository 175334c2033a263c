"""Metrics of result files: per file against its qrels, refreshed incrementally into ``EVAL/eval_results.json``."""
from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple

from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader
from FlagEmbedding.abc.evaluation.result_files import digest
from FlagEmbedding.abc.evaluation.searcher import SearchResults
from FlagEmbedding.retrieval.metrics import evaluate_metrics, evaluate_mrr, evaluate_recall_cap
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_json

logger = logging.getLogger(__name__)

DEFAULT_K_VALUES = (1, 3, 5, 10, 100, 1000)
EVAL_FOLDER = "EVAL"
EVAL_RESULTS = "eval_results.json"
#: per-file metrics and file signatures, so a refresh only recomputes changed result files
EVAL_SOURCES = "eval_results.sources.json"


class ResultScoring:
    """The metrics half of :class:`~FlagEmbedding.abc.evaluation.evaluator.AbsEvaluator` (reads ``data_loader``,
    ``eval_name``, ``overwrite`` and ``_refreshed``; result files are read by ``load_search_results``)."""

    data_loader: AbsEvalDataLoader
    eval_name: str
    overwrite: bool
    _refreshed: set
    #: provided by :class:`~FlagEmbedding.abc.evaluation.result_files.ResultFiles` in the evaluator
    load_search_results: Callable[[str], Tuple[Dict[str, Any], Dict[str, Dict[str, float]]]]

    @staticmethod
    def compute_metrics(qrels: Mapping[str, Mapping[str, int]], search_results: Mapping[str, Mapping[str, float]],
                        k_values: Sequence[int]) -> Dict[str, float]:
        """``ndcg/map/recall/precision/mrr/recall_cap_at_{k}`` (5 decimals), each family for every k in turn."""
        ndcg, _map, recall, precision = evaluate_metrics(qrels, search_results, k_values)
        mrr = evaluate_mrr(qrels, search_results, k_values)
        recall_cap = evaluate_recall_cap(qrels, search_results, k_values)
        out: Dict[str, float] = {}
        for prefix, values, key in (("ndcg", ndcg, "NDCG"), ("map", _map, "MAP"), ("recall", recall, "Recall"),
                                    ("precision", precision, "P"), ("mrr", mrr, "MRR"),
                                    ("recall_cap", recall_cap, "R_cap")):
            for k in k_values:
                out[f"{prefix}_at_{k}"] = values[f"{key}@{k}"]
        return out

    def qrels_fingerprint(self, metadata: Mapping[str, Any]) -> str:
        """SHA-256 of the judgements a result file is scored against (metrics are reused only while it holds)."""
        qrels = self.data_loader.load_qrels(metadata.get("dataset_name"), split=metadata["split"],
                                            sub_dataset_name=metadata.get("sub_dataset_name"))
        return digest(qrels)

    def file_metrics(self, metadata: Mapping[str, Any], search_results: SearchResults,
                     k_values: Sequence[int]) -> Dict[str, float]:
        """Metrics of one result file against its qrels."""
        qrels = self.data_loader.load_qrels(metadata.get("dataset_name"), split=metadata["split"],
                                            sub_dataset_name=metadata.get("sub_dataset_name"))
        return self.compute_metrics(qrels, search_results, k_values)

    def evaluate_results(self, search_results_save_dir: str,
                         k_values: Sequence[int] = DEFAULT_K_VALUES) -> Dict[str, Dict[str, float]]:
        """Metrics of every ``*.json`` result file in the folder, written to ``EVAL/eval_results.json``.

        Files whose size, mtime, ``k_values`` and qrels content are unchanged since the last refresh are not
        re-scored; entries of deleted files disappear. Files of one dataset's sub-datasets (BEIR cqadupstack) are
        averaged into one ``<dataset>-<split>`` entry.
        """
        eval_dir = os.path.join(search_results_save_dir, EVAL_FOLDER)
        sources_path = os.path.join(eval_dir, EVAL_SOURCES)
        previous: Dict[str, Any] = {}
        if os.path.exists(sources_path) and (not self.overwrite or search_results_save_dir in self._refreshed):
            try:
                with open(sources_path, encoding="utf-8") as f:
                    previous = json.load(f)
            except ValueError:
                previous = {}
        entries: Dict[str, Any] = {}
        names = sorted(name for name in os.listdir(search_results_save_dir)
                       if name.endswith(".json") and os.path.isfile(os.path.join(search_results_save_dir, name)))
        for name in names:
            path = os.path.join(search_results_save_dir, name)
            stat = os.stat(path)
            signature = [stat.st_size, stat.st_mtime_ns, list(k_values)]
            known = previous.get(name)
            if isinstance(known, dict) and known.get("signature") == signature and isinstance(known.get("source"), dict) \
                    and known.get("qrels") == self.qrels_fingerprint(known["source"]):
                entries[name] = known
                continue
            metadata, results = self.load_search_results(path)
            if metadata.get("eval_name") != self.eval_name:
                raise InputError(f"{path}: eval_name is {metadata.get('eval_name')!r}, expected {self.eval_name!r}; "
                                 "keep each evaluation in its own --output_dir.")
            key = "-".join(part for part in (metadata.get("dataset_name"), metadata["split"]) if part)
            source = {field: metadata.get(field) for field in ("dataset_name", "split", "sub_dataset_name")}
            entries[name] = {"signature": signature, "source": source, "qrels": self.qrels_fingerprint(source),
                             "key": key, "grouped": metadata.get("sub_dataset_name") is not None,
                             "metrics": self.file_metrics(metadata, results, k_values)}
        out: Dict[str, Dict[str, float]] = {}
        groups: Dict[str, List[Dict[str, float]]] = defaultdict(list)
        for entry in entries.values():
            if entry["grouped"]:
                groups[entry["key"]].append(entry["metrics"])
            else:
                out[entry["key"]] = entry["metrics"]
        for key, members in groups.items():
            out[key] = {metric: round(sum(m[metric] for m in members) / len(members), 5) for metric in members[0]}
        out = dict(sorted(out.items()))
        atomic_write_json(os.path.join(eval_dir, EVAL_RESULTS), out, indent=4)
        atomic_write_json(sources_path, entries, indent=None)
        self._refreshed.add(search_results_save_dir)
        logger.info("Metrics of %s written to %s.", search_results_save_dir, os.path.join(eval_dir, EVAL_RESULTS))
        return out
