"""Per-dataset evaluation: retrieve (and rerank), save result files, compute metrics."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from FlagEmbedding.retrieval import distributed
from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader
from FlagEmbedding.abc.evaluation.searcher import EvalDenseRetriever, EvalReranker, EvalRetriever, SearchResults
from FlagEmbedding.retrieval.metrics import evaluate_metrics, evaluate_mrr, evaluate_recall_cap
from FlagEmbedding.abc.evaluation.summary import write_summary
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_json, atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas

logger = logging.getLogger(__name__)

DEFAULT_K_VALUES = (1, 3, 5, 10, 100, 1000)
EVAL_FOLDER = "EVAL"
EVAL_RESULTS = "eval_results.json"
#: per-file metrics and file signatures, so a refresh only recomputes changed result files
EVAL_SOURCES = "eval_results.sources.json"
#: the model a results folder belongs to (two models with one basename must not share a folder)
MODEL_MARKER = ".name_or_path"
#: per result file, the key of what produced it (model, settings, corpus, queries); a result is reused only on a match
RESULT_SOURCES = ".search_results.sources"  # JSON, named so no "*.json" listing takes it for a result


def _digest(value: Any) -> str:
    """SHA-256 of a JSON-able value; a mapping is hashed entry by entry (a corpus is never dumped whole)."""
    digest = hashlib.sha256()
    items = value.items() if isinstance(value, Mapping) else [(None, value)]
    for key, item in items:
        digest.update(json.dumps([key, item], sort_keys=True, ensure_ascii=False, default=repr).encode("utf-8"))
    return digest.hexdigest()


def results_key(stage: Any, model: Any, settings: Mapping[str, Any], corpus: Mapping[str, Any],
                queries: Mapping[str, str]) -> str:
    """Key of one result file: the stage's model (weights identity and settings for embedders), its ``settings``,
    the exact corpus and the split's queries."""
    from FlagEmbedding.retrieval.embedding_cache import embedder_fingerprint

    try:
        identity: Any = embedder_fingerprint(model)
    except AttributeError:  # not an embedder: the model's name and settings
        identity = [stage.name_or_path, {k: v for k, v in sorted(getattr(model, "kwargs", {}).items())}]
    return _digest({"model": identity, "settings": dict(settings), "corpus": _digest(corpus),
                    "queries": _digest(queries)})


def _identity(name_or_path: str) -> str:
    return os.path.abspath(name_or_path) if os.path.isdir(name_or_path) else name_or_path


class AbsEvaluator:
    """Runs one dataset of a benchmark and keeps ``<output_dir>/<retriever>/<reranker>/`` up to date.

    Args:
        eval_name: Stored in (and checked against) every result file.
        data_loader: Provides corpus, queries and qrels.
        overwrite: Recompute results and metrics even when files exist.
    """

    #: result files carry a ``sub_dataset_name`` key (BEIR)
    SUB_DATASET_KEY = False
    #: qrels are per-query relevance judgements, so ``--compare_to`` can compare two runs query by query
    PER_QUERY_COMPARISON = True

    def __init__(self, eval_name: str, data_loader: AbsEvalDataLoader, overwrite: bool = False):
        self.eval_name = eval_name
        self.data_loader = data_loader
        self.overwrite = overwrite
        #: result folders whose metrics were refreshed by this evaluator (trusted even with ``overwrite``)
        self._refreshed: set = set()

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

    # ------------------------------------------------------------------ the evaluation
    def __call__(self, splits: Sequence[str], search_results_save_dir: str, retriever: EvalRetriever,
                 reranker: Optional[EvalReranker] = None, corpus_embd_save_dir: Optional[str] = None,
                 ignore_identical_ids: bool = False, k_values: Sequence[int] = DEFAULT_K_VALUES,
                 dataset_name: Optional[str] = None, **kwargs: Any) -> None:
        """Evaluate ``splits`` of ``dataset_name``; ``kwargs`` reach both models."""
        splits = self.data_loader.check_splits(splits, dataset_name)
        if not splits:
            logger.warning("No valid split for dataset %s; skipping it.", dataset_name)
            return
        model_dir = os.path.join(search_results_save_dir, str(retriever))
        retrieval_dir = os.path.join(model_dir, "NoReranker")
        new_folder = not os.path.exists(model_dir)
        self.claim_folder(model_dir, retriever.name_or_path)
        retrieved: Dict[Optional[str], Dict[str, SearchResults]] = {}
        fresh: Dict[Optional[str], List[str]] = {}
        try:
            for sub in self.data_loader.sub_dataset_names(dataset_name):
                retrieved[sub], fresh[sub] = self.retrieve(splits, retrieval_dir, retriever, corpus_embd_save_dir,
                                                           ignore_identical_ids, dataset_name, sub, **kwargs)
        except BaseException:
            if new_folder:
                self.remove_if_no_results(model_dir)
            raise
        retriever.stop_multi_process_pool()
        self.evaluate_results(retrieval_dir, k_values)
        if reranker is None:
            return
        rerank_dir = os.path.join(model_dir, str(reranker))
        self.claim_folder(rerank_dir, reranker.name_or_path)
        for sub, by_split in retrieved.items():
            sources = self.read_result_sources(rerank_dir)
            for split, results in by_split.items():
                path = os.path.join(rerank_dir, self.result_file_name(dataset_name, sub, split))
                corpus = self.data_loader.load_corpus(dataset_name, sub)
                queries = self.data_loader.load_queries(dataset_name, split=split, sub_dataset_name=sub)
                key = results_key(reranker, reranker.reranker, {"rerank_top_k": reranker.rerank_top_k,
                                                                 "ignore_identical_ids": ignore_identical_ids,
                                                                 "first_stage": _digest(results), **kwargs},
                                  corpus, queries)
                if os.path.exists(path) and not self.overwrite and sources.get(os.path.basename(path)) == key:
                    continue
                reranked = reranker(corpus=corpus, queries=queries, search_results=results,
                                    ignore_identical_ids=ignore_identical_ids, **kwargs)
                self.save_search_results(self.eval_name, str(retriever), str(reranker), reranked, path, split,
                                         dataset_name, **self.sub_dataset_metadata(sub))
                self.record_result_source(path, key)
        reranker.stop_multi_process_pool()
        self.evaluate_results(rerank_dir, k_values)

    def retrieve(self, splits: Sequence[str], retrieval_dir: str, retriever: EvalRetriever,
                 corpus_embd_save_dir: Optional[str], ignore_identical_ids: bool, dataset_name: Optional[str],
                 sub_dataset_name: Optional[str], **kwargs: Any) -> Tuple[Dict[str, SearchResults], List[str]]:
        """First-stage results per split (computed, or reused from files) and the splits computed now."""
        paths = self.retrieval_paths(splits, retrieval_dir, dataset_name, sub_dataset_name)
        corpus = self.data_loader.load_corpus(dataset_name, sub_dataset_name)
        queries = {split: self.data_loader.load_queries(dataset_name, split=split, sub_dataset_name=sub_dataset_name)
                   for split in splits}
        settings = {"search_top_k": retriever.search_top_k, "ignore_identical_ids": ignore_identical_ids, **kwargs}
        keys = {split: results_key(retriever, getattr(retriever, "embedder", None), settings, corpus, queries[split])
                for split in splits}
        sources = self.read_result_sources(retrieval_dir)
        if not self.needs_retrieval(paths):
            out = {}
            for split, path in paths.items():
                metadata, results = self.load_search_results(path)
                expected = {"eval_name": self.eval_name, "model_name": str(retriever), "reranker_name": "NoReranker",
                            "split": split, "dataset_name": dataset_name, "sub_dataset_name": sub_dataset_name}
                self.check_metadata(path, metadata, expected)
                out[split] = results
            if all(sources.get(os.path.basename(paths[split])) == keys[split] for split in splits):
                return out, []
            logger.info("Search results in %s were produced by another model, setting, corpus or query set; "
                        "recomputing them.", retrieval_dir)
        cache_dir = self.get_corpus_embd_save_dir(retriever.cache_name, corpus_embd_save_dir or None, dataset_name,
                                                  sub_dataset_name)
        out = {}
        for group in self._query_groups(queries):
            merged = {qid: text for split in group for qid, text in queries[split].items()}
            results = retriever(corpus=corpus, queries=merged, corpus_embd_save_dir=cache_dir,
                                ignore_identical_ids=ignore_identical_ids, **kwargs)
            for split in group:
                out[split] = {qid: results[qid] for qid in queries[split]}
                self.save_search_results(self.eval_name, str(retriever), "NoReranker", out[split], paths[split],
                                         split, dataset_name, **self.sub_dataset_metadata(sub_dataset_name))
                self.record_result_source(paths[split], keys[split])
        return out, list(splits)

    def retrieval_paths(self, splits: Sequence[str], retrieval_dir: str, dataset_name: Optional[str],
                        sub_dataset_name: Optional[str]) -> Dict[str, str]:
        """First-stage result file of each split."""
        return {split: os.path.join(retrieval_dir, self.result_file_name(dataset_name, sub_dataset_name, split))
                for split in splits}

    def needs_retrieval(self, paths: Mapping[str, str]) -> bool:
        """Whether first-stage results are computed (``overwrite``, or a result file is missing)."""
        return self.overwrite or not all(os.path.exists(path) for path in paths.values())

    def encode_corpus_shares(self, splits: Sequence[str], search_results_save_dir: str, retriever: EvalDenseRetriever,
                             corpus_embd_save_dir: str, dataset_name: Optional[str] = None, **kwargs: Any) -> None:
        """Distributed runs: encode this rank's share of the cache shards of every corpus of ``dataset_name``
        whose first-stage results :meth:`__call__` will compute (``kwargs`` as there)."""
        splits = self.data_loader.check_splits(splits, dataset_name)
        if not splits:
            return
        retrieval_dir = os.path.join(search_results_save_dir, str(retriever), "NoReranker")
        for sub in self.data_loader.sub_dataset_names(dataset_name):
            paths = self.retrieval_paths(splits, retrieval_dir, dataset_name, sub)
            if distributed.broadcast_flags([self.needs_retrieval(paths)])[0]:  # rank 0 decides: its output_dir counts
                retriever.encode_corpus_share(self.data_loader.load_corpus(dataset_name, sub),
                                              self.get_corpus_embd_save_dir(retriever.cache_name, corpus_embd_save_dir,
                                                                            dataset_name, sub),
                                              **dict(kwargs))

    @staticmethod
    def _query_groups(queries: Mapping[str, Mapping[str, str]]) -> List[List[str]]:
        """Splits retrieved together: all of them, unless one query id has different texts in two splits."""
        seen: Dict[str, str] = {}
        for by_id in queries.values():
            for qid, text in by_id.items():
                if seen.setdefault(qid, text) != text:
                    return [[split] for split in queries]
        return [list(queries)]

    # ------------------------------------------------------------------ summaries (the original's helpers)
    @staticmethod
    def get_results_df(metric: str, eval_results_dict: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]]
                       ) -> "pandas.DataFrame":
        """One metric of ``{model: {reranker: {column: {metric: value}}}}`` as a table indexed by
        (Model, Reranker): an ``average`` column (NaN when a value is missing), then the sorted columns."""
        import pandas as pd

        rows = [(model, reranker, results) for model in sorted(eval_results_dict)
                for reranker, results in sorted(eval_results_dict[model].items())]
        columns = sorted({column for _, _, results in rows for column in results})
        table = pd.DataFrame(
            [[results.get(column, {}).get(metric) for column in columns] for _, _, results in rows],
            index=pd.MultiIndex.from_tuples([(m, r) for m, r, _ in rows], names=["Model", "Reranker"]),
            columns=columns, dtype=float,
        )
        table.insert(0, "average", table.mean(axis=1, skipna=False))
        return table

    @staticmethod
    def output_eval_results_to_json(eval_results_dict: Mapping[str, Any], output_path: str) -> None:
        """Write the summary dict as JSON (indent 4), atomically."""
        write_summary(eval_results_dict, "json", output_path, [])

    @staticmethod
    def output_eval_results_to_markdown(eval_results_dict: Mapping[str, Any], output_path: str,
                                        metrics: Sequence[str]) -> None:
        """Write one markdown table per metric (see :func:`~FlagEmbedding.abc.evaluation.summary.summary_markdown`)."""
        write_summary(eval_results_dict, "markdown", output_path, metrics)

    # ------------------------------------------------------------------ metrics
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
        return _digest(qrels)

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
