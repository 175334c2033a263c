"""Retrieval metrics: nDCG, MAP, Recall and P@k from ``pytrec_eval``, plus MRR@k and capped recall.

``pytrec_eval`` is imported only when :func:`evaluate_metrics` runs.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, List, Mapping, Sequence, Tuple

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]


def _evaluated_queries(qrels: Qrels, results: Run) -> List[str]:
    """The queries every metric averages over: in both ``qrels`` and ``results`` with at least one hit.

    This is the set ``pytrec_eval`` reports, so MRR and capped recall share its denominator.
    """
    return [qid for qid, hits in results.items() if qid in qrels and len(hits) > 0]


def _ranked(hits: Mapping[str, float], k: int) -> List[str]:
    """Docids of the ``k`` best hits by score (stable for ties)."""
    return [doc for doc, _ in sorted(hits.items(), key=lambda item: -item[1])[:k]]


def _as_defaultdict(values: Dict[str, float]) -> "defaultdict[str, Any]":
    """The metric dict as a ``defaultdict(list)``: the type the original's MRR and capped-recall helpers return."""
    out: "defaultdict[str, Any]" = defaultdict(list)
    out.update(values)
    return out


def evaluate_mrr(qrels: Qrels, results: Run, k_values: Sequence[int]) -> Dict[str, float]:
    """``MRR@k``: mean over evaluated queries of 1/rank of the first hit with relevance > 0 in the top k."""
    queries = _evaluated_queries(qrels, results)
    mrr = {f"MRR@{k}": 0.0 for k in k_values}
    for qid in queries:
        relevant = {doc for doc, rel in qrels[qid].items() if rel > 0}
        ranked = _ranked(results[qid], max(k_values))
        first = next((rank for rank, doc in enumerate(ranked, start=1) if doc in relevant), None)
        for k in k_values:
            if first is not None and first <= k:
                mrr[f"MRR@{k}"] += 1.0 / first
    return _as_defaultdict({key: round(value / len(queries), 5) if queries else 0.0 for key, value in mrr.items()})


def evaluate_recall_cap(qrels: Qrels, results: Run, k_values: Sequence[int]) -> Dict[str, float]:
    """``R_cap@k``: relevant hits in the top k over ``min(#relevant, k)``; 0 for a query with no positives."""
    queries = _evaluated_queries(qrels, results)
    capped = {f"R_cap@{k}": 0.0 for k in k_values}
    for qid in queries:
        relevant = {doc for doc, rel in qrels[qid].items() if rel > 0}
        if not relevant:
            continue
        ranked = _ranked(results[qid], max(k_values))
        for k in k_values:
            found = sum(1 for doc in ranked[:k] if doc in relevant)
            capped[f"R_cap@{k}"] += found / min(len(relevant), k)
    return _as_defaultdict({key: round(value / len(queries), 5) if queries else 0.0
                            for key, value in capped.items()})


def evaluate_metrics(
    qrels: Qrels, results: Run, k_values: Sequence[int]
) -> Tuple[Dict[str, float], Dict[str, float], Dict[str, float], Dict[str, float]]:
    """nDCG@k, MAP@k, Recall@k and P@k from ``pytrec_eval``, averaged over the queries it evaluates.

    Returns four dicts keyed ``NDCG@k``, ``MAP@k``, ``Recall@k`` and ``P@k`` (rounded to 5 decimals).
    """
    import pytrec_eval

    cutoffs = ",".join(str(k) for k in k_values)
    measures = {f"map_cut.{cutoffs}", f"ndcg_cut.{cutoffs}", f"recall.{cutoffs}", f"P.{cutoffs}"}
    qrels_int = {qid: {doc: int(rel) for doc, rel in docs.items()} for qid, docs in qrels.items()}
    run = {qid: {doc: float(score) for doc, score in hits.items()} for qid, hits in results.items() if hits}
    scores = pytrec_eval.RelevanceEvaluator(qrels_int, measures).evaluate(run)
    families = (("NDCG", "ndcg_cut"), ("MAP", "map_cut"), ("Recall", "recall"), ("P", "P"))
    out = []
    for name, measure in families:
        values = {}
        for k in k_values:
            per_query = [query_scores[f"{measure}_{k}"] for query_scores in scores.values()]
            values[f"{name}@{k}"] = round(sum(per_query) / len(per_query), 5) if per_query else 0.0
        out.append(values)
    return out[0], out[1], out[2], out[3]


#: how a metric key's name reads in a log line (``ndcg_at_10`` -> ``nDCG@10``)
METRIC_LABELS = {"ndcg": "nDCG", "map": "MAP", "recall": "Recall", "precision": "P", "mrr": "MRR",
                 "recall_cap": "R_cap"}


def metric_label(metric: str) -> str:
    """``ndcg_at_10`` -> ``nDCG@10``, ``recall_cap_at_100`` -> ``R_cap@100``; other names unchanged."""
    name, sep, k = metric.rpartition("_at_")
    if not sep or name not in METRIC_LABELS:
        return metric
    return f"{METRIC_LABELS[name]}@{k}"


def headline_metric(scores: Mapping[str, Mapping[str, float]], keys: Sequence[Tuple[str, str]],
                    metric: str) -> str:
    """The headline of an evaluation's summary line: ``nDCG@10 0.64312 (scifact/test)``.

    Args:
        scores: ``{result key: {metric: value}}`` of one model and reranker (an ``eval_results.json``).
        keys: ``(result key, label)`` of the dataset splits of the run, e.g. ``("scifact-test", "scifact/test")``.
        metric: The metric shown; the mean over the splits when there are several (rounded to 5 digits as in the
            results files).

    Returns ``""`` when ``scores`` lacks the metric for one of the keys.
    """
    values = [scores[key][metric] for key, _ in keys if metric in scores.get(key, {})]
    if not keys or len(values) != len(keys):
        return ""
    if len(keys) == 1:
        return f"{metric_label(metric)} {values[0]} ({keys[0][1]})"
    return f"{metric_label(metric)} {round(sum(values) / len(values), 5)} (mean of {len(keys)}: " \
           f"{', '.join(label for _, label in keys)})"
