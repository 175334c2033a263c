"""``--compare_to``: per-metric differences between two runs with a paired t-test over queries.

The baseline folder is checked before the run (:func:`check_baseline`: it exists, holds result files, and holds
results of every dataset and split being evaluated), and each pair of result files is compared only when their
query ids overlap by at least :data:`MIN_QUERY_OVERLAP` (:func:`query_overlap`).
"""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from FlagEmbedding.utils.errors import InputError, MissingFileError

logger = logging.getLogger(__name__)

#: the least share of query ids two result files must have in common to be compared (common / either run's ids)
MIN_QUERY_OVERLAP = 0.9
#: bytes read from the start of a result file to find its metadata (written before its search results)
_METADATA_HEAD = 1 << 16

#: summary metric prefix -> pytrec_eval measure prefix
PYTREC_MEASURES = {"ndcg": "ndcg_cut", "map": "map_cut", "recall": "recall", "precision": "P"}


def pytrec_measure(metric: str) -> str:
    """``ndcg_at_10`` -> ``ndcg_cut_10`` (:class:`~FlagEmbedding.utils.errors.InputError`,
    a ``ValueError``, for a metric without a per-query pytrec_eval measure)."""
    match = re.fullmatch(r"(ndcg|map|recall|precision)_at_(\d+)", metric)
    if match is None:
        raise InputError(f"--compare_to supports ndcg/map/recall/precision_at_k metrics, got {metric!r}.")
    return f"{PYTREC_MEASURES[match.group(1)]}_{match.group(2)}"


def per_query(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]],
              metrics: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """``{metric: {qid: value}}`` for every query with judgements (a query the run misses scores 0)."""
    import pytrec_eval

    measures = {pytrec_measure(m) for m in metrics}
    qrels_int = {q: {d: int(r) for d, r in docs.items()} for q, docs in qrels.items()}
    scores = pytrec_eval.RelevanceEvaluator(qrels_int, measures).evaluate(
        {q: {d: float(s) for d, s in hits.items()} for q, hits in run.items() if hits and q in qrels_int})
    return {m: {q: scores.get(q, {}).get(pytrec_measure(m), 0.0) for q in qrels_int} for m in metrics}


def query_overlap(run: Mapping[str, Any], baseline: Mapping[str, Any]) -> Tuple[List[str], float]:
    """The query ids of ``run`` that ``baseline`` also holds, and their share of the ids either holds (0 to 1)."""
    common = [qid for qid in run if qid in baseline]
    union = len(set(run) | set(baseline))
    return common, (len(common) / union if union else 0.0)


def compare_runs(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]],
                 baseline: Mapping[str, Mapping[str, float]], metrics: Sequence[str],
                 queries: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, float]]:
    """Per metric: mean of ``run``, mean of ``baseline``, their difference and the two-sided paired t-test
    p-value over the judged queries (``scipy.stats.ttest_rel``; 1.0 when every difference is 0), restricted to
    ``queries`` when given (the query ids both runs hold, see :func:`query_overlap`)."""
    from scipy.stats import ttest_rel

    ours, theirs = per_query(qrels, run, metrics), per_query(qrels, baseline, metrics)
    keep = None if queries is None else set(queries)
    out: Dict[str, Dict[str, float]] = {}
    for metric in metrics:
        qids = sorted(q for q in ours[metric] if keep is None or q in keep)
        if not qids:
            raise InputError("the two runs have no judged query in common; compare runs of the same queries.")
        a = [ours[metric][q] for q in qids]
        b = [theirs[metric][q] for q in qids]
        same = all(x == y for x, y in zip(a, b))
        p_value = 1.0 if same or len(qids) < 2 else float(ttest_rel(a, b).pvalue)
        mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
        out[metric] = {"run": round(mean_a, 5), "compare_to": round(mean_b, 5),
                       "difference": round(mean_a - mean_b, 5), "p_value": p_value, "queries": len(qids)}
    return out


def compare_markdown(comparisons: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]], other: str) -> str:
    """Markdown table of ``{results folder: {result file: {metric: comparison}}}`` (values x 100)."""
    lines = [f"## Compared to {other}", "",
             f"Only result files whose query ids overlap by {MIN_QUERY_OVERLAP:.0%} or more are compared, over the "
             "judged queries both hold.", "",
             "| Run | Dataset | Metric | run | compare_to | difference | p-value | queries | query-id overlap |",
             "| :---- | :---- | :---- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for folder, files in comparisons.items():
        for name, metrics in files.items():
            for metric, c in metrics.items():
                overlap = f"{c['overlap']:.1f}%" if "overlap" in c else ""
                lines.append(f"| {folder} | {name} | {metric} | {c['run'] * 100:.3f} | {c['compare_to'] * 100:.3f} | "
                             f"{c['difference'] * 100:+.3f} | {c['p_value']:.4g} | {c.get('queries', '')} | "
                             f"{overlap} |")
    return "\n".join(lines) + "\n"


def compare_folders(evaluator: Any, folders: Sequence[str], other: str, metrics: Sequence[str],
                    names: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, Dict[str, Dict[str, float]]]]:
    """Compare the result files ``names`` (default: every one) of ``folders`` with the same-named files in the
    results folder ``other``; an :class:`InputError` when two files share less than :data:`MIN_QUERY_OVERLAP` of
    their query ids. Each comparison also gives ``overlap`` (that share, in percent) and ``common_queries``."""
    if not os.path.isdir(other):
        raise MissingFileError(f"--compare_to {other}: not a folder; pass a results folder such as "
                               "<output_dir>/<model>/NoReranker.")
    out: Dict[str, Dict[str, Dict[str, Dict[str, float]]]] = {}
    for folder in folders:
        listed: List[str] = sorted(n for n in os.listdir(folder) if n.endswith(".json")
                                   and os.path.isfile(os.path.join(folder, n)))
        for name in listed if names is None else [n for n in names if n in listed]:
            other_path = os.path.join(other, name)
            if not os.path.exists(other_path):
                logger.warning("%s has no %s; not compared.", other, name)
                continue
            metadata, run = evaluator.load_search_results(os.path.join(folder, name))
            _, baseline = evaluator.load_search_results(other_path)
            common, overlap = query_overlap(run, baseline)
            if overlap < MIN_QUERY_OVERLAP:
                raise InputError(f"--compare_to {other}: {name} shares {len(common)} query ids with this run's "
                                 f"{len(run)} ({overlap:.1%} of the ids either holds), below the "
                                 f"{MIN_QUERY_OVERLAP:.0%} a paired comparison needs; compare with results of the "
                                 "same queries.")
            logger.info("%s: %d query ids in common with %s (%.1f%%).", name, len(common), other_path, overlap * 100)
            qrels = evaluator.data_loader.load_qrels(metadata.get("dataset_name"), split=metadata["split"],
                                                     sub_dataset_name=metadata.get("sub_dataset_name"))
            comparison = compare_runs(qrels, run, baseline, metrics, queries=common)
            for values in comparison.values():
                values.update(overlap=round(overlap * 100, 2), common_queries=len(common))
            out.setdefault(folder, {})[name[:-len(".json")]] = comparison
    return out


def read_result_metadata(path: str) -> Dict[str, Any]:
    """The metadata of a result file (``eval_name``, ``dataset_name``, ``split``...) without reading its search
    results when they follow the metadata, as :meth:`AbsEvaluator.save_search_results` writes them; an
    :class:`InputError` for a file that is not a result file."""
    with open(path, encoding="utf-8") as f:
        head = f.read(_METADATA_HEAD)
    position = head.find('"search_results"')
    if position > 0:
        try:
            metadata = json.loads(head[:position].rstrip().rstrip(",") + "}")
        except ValueError:
            metadata = None
        if isinstance(metadata, dict):
            return metadata
    from FlagEmbedding.abc.evaluation.evaluator import AbsEvaluator

    return AbsEvaluator.load_search_results(path)[0]


def check_baseline(folder: str, expected: Mapping[str, Mapping[str, Any]]) -> None:
    """Check the ``--compare_to`` folder before a run: it exists, holds result files, and holds a result file
    of every ``expected`` name (``{file name: metadata it must carry}``, e.g. ``dataset_name`` and ``split``).
    Raises :class:`MissingFileError` / :class:`InputError` saying what to pass instead."""
    flag = f"--compare_to {folder}"
    if not os.path.exists(folder):
        raise MissingFileError(f"{flag}: no such folder; pass the results folder of an earlier run, such as "
                               "<output_dir>/<model>/NoReranker.")
    if not os.path.isdir(folder):
        raise InputError(f"{flag}: not a folder; pass the results folder of an earlier run, such as "
                         "<output_dir>/<model>/NoReranker.")
    entries = sorted(os.listdir(folder))
    files = [n for n in entries if n.endswith(".json") and os.path.isfile(os.path.join(folder, n))]
    if not files:
        subfolders = [n for n in entries if os.path.isdir(os.path.join(folder, n)) and not n.startswith(".")]
        hint = f" (its sub-folders: {', '.join(subfolders[:5])})" if subfolders else ""
        raise InputError(f"{flag}: not a results folder: it holds no result .json file{hint}; pass a folder such as "
                         "<output_dir>/<model>/NoReranker.")
    missing = [name for name in expected if name not in files]
    if missing:
        held = ", ".join(n[:-len(".json")] for n in files[:8]) + (", ..." if len(files) > 8 else "")
        raise InputError(f"{flag} holds no results of {', '.join(n[:-len('.json')] for n in missing)} (it holds "
                         f"{held}); compare with the results of the same datasets and splits.")
    for name, wanted in expected.items():
        path = os.path.join(folder, name)
        metadata = read_result_metadata(path)
        for key, value in wanted.items():
            if metadata.get(key) != value:
                raise InputError(f"{flag}: {name} holds results with {key} {metadata.get(key)!r}, this run evaluates "
                                 f"{value!r}; compare with the results of the same datasets and splits.")
