"""``--compare_to``: per-metric differences between two runs with a paired t-test over queries."""
from __future__ import annotations

import logging
import os
import re
from typing import Any, Dict, List, Mapping, Sequence

logger = logging.getLogger(__name__)

#: summary metric prefix -> pytrec_eval measure prefix
PYTREC_MEASURES = {"ndcg": "ndcg_cut", "map": "map_cut", "recall": "recall", "precision": "P"}


def pytrec_measure(metric: str) -> str:
    """``ndcg_at_10`` -> ``ndcg_cut_10`` (``ValueError`` for a metric without a per-query pytrec_eval measure)."""
    match = re.fullmatch(r"(ndcg|map|recall|precision)_at_(\d+)", metric)
    if match is None:
        raise ValueError(f"--compare_to supports ndcg/map/recall/precision_at_k metrics, got {metric!r}.")
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


def compare_runs(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]],
                 baseline: Mapping[str, Mapping[str, float]], metrics: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Per metric: mean of ``run``, mean of ``baseline``, their difference and the two-sided paired t-test
    p-value over the judged queries (``scipy.stats.ttest_rel``; 1.0 when every difference is 0)."""
    from scipy.stats import ttest_rel

    ours, theirs = per_query(qrels, run, metrics), per_query(qrels, baseline, metrics)
    out: Dict[str, Dict[str, float]] = {}
    for metric in metrics:
        qids = sorted(ours[metric])
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
    lines = [f"## Compared to {other}", "", "| Run | Dataset | Metric | run | compare_to | difference | p-value |",
             "| :---- | :---- | :---- | ---: | ---: | ---: | ---: |"]
    for folder, files in comparisons.items():
        for name, metrics in files.items():
            for metric, c in metrics.items():
                lines.append(f"| {folder} | {name} | {metric} | {c['run'] * 100:.3f} | {c['compare_to'] * 100:.3f} | "
                             f"{c['difference'] * 100:+.3f} | {c['p_value']:.4g} |")
    return "\n".join(lines) + "\n"


def compare_folders(evaluator: Any, folders: Sequence[str], other: str,
                    metrics: Sequence[str]) -> Dict[str, Dict[str, Dict[str, Dict[str, float]]]]:
    """Compare every result file of ``folders`` with the same-named file in the results folder ``other``."""
    if not os.path.isdir(other):
        raise ValueError(f"--compare_to {other}: not a folder; pass a results folder such as "
                         "<output_dir>/<model>/NoReranker.")
    out: Dict[str, Dict[str, Dict[str, Dict[str, float]]]] = {}
    for folder in folders:
        names: List[str] = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        for name in names:
            other_path = os.path.join(other, name)
            if not os.path.exists(other_path):
                logger.warning("%s has no %s; not compared.", other, name)
                continue
            metadata, run = evaluator.load_search_results(os.path.join(folder, name))
            _, baseline = evaluator.load_search_results(other_path)
            qrels = evaluator.data_loader.load_qrels(metadata.get("dataset_name"), split=metadata["split"],
                                                     sub_dataset_name=metadata.get("sub_dataset_name"))
            out.setdefault(folder, {})[name[:-len(".json")]] = compare_runs(qrels, run, baseline, metrics)
    return out
