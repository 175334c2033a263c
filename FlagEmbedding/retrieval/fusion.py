"""Fusion of several rankings of one query set.

``weighted``: ``sum_m w_m * score_m(q, d)`` of the raw scores (no normalization: the M3 paper's Dense+Sparse
with weights 1 and 0.3); the index supplies every method's exact score for every candidate of the union, so
no score is missing. ``rrf``: reciprocal-rank fusion, ``sum_m 1 / (k + rank_m(q, d))`` over the methods that
returned ``d`` (Cormack et al., 2009; ``k = 60``).

Both are computed here rather than with ``ranx.fuse``: in ranx 1.15.1 its ``wsum`` ignored the weights and
truncated document ids on this machine, and its numba compilation costs about 90 s per process on a shared
2-core CPU. The tests check both fusions against hand-computed values.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Sequence

from FlagEmbedding.utils.errors import InputError

Run = Dict[str, Dict[str, float]]
FUSIONS = ("weighted", "rrf")


def ranked(hits: Mapping[str, float], top_k: int = -1) -> List[str]:
    """Documents of one query's hits by descending score (ties: by document id); the ``top_k`` best if set."""
    order = [doc for doc, _ in sorted(hits.items(), key=lambda item: (-item[1], item[0]))]
    return order if top_k < 0 else order[:top_k]


def _queries(runs: Sequence[Mapping[str, Mapping[str, float]]]) -> List[str]:
    return list(dict.fromkeys(qid for run in runs for qid in run))


def weighted_fusion(runs: Sequence[Mapping[str, Mapping[str, float]]], weights: Sequence[float]) -> Run:
    """``{qid: {doc: sum_m weights[m] * runs[m][qid][doc]}}`` over the union of documents (missing: 0);
    :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``) when there is not one weight per run."""
    if len(weights) != len(runs):
        raise InputError(f"weights has {len(weights)} values for {len(runs)} runs.")
    fused: Run = {}
    for qid in _queries(runs):
        scores: Dict[str, float] = {}
        for weight, run in zip(weights, runs):
            for doc, score in run.get(qid, {}).items():
                scores[doc] = scores.get(doc, 0.0) + float(weight) * float(score)
        fused[qid] = scores
    return fused


def rrf_fusion(runs: Sequence[Mapping[str, Mapping[str, float]]], k: int = 60) -> Run:
    """``{qid: {doc: sum_m 1 / (k + rank_m)}}`` with 1-based ranks by descending score in each run;
    :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``) for a negative ``k``."""
    if k < 0:
        raise InputError(f"k must be non-negative, got {k}.")
    fused: Run = {}
    for qid in _queries(runs):
        scores: Dict[str, float] = {}
        for run in runs:
            for rank, doc in enumerate(ranked(run.get(qid, {})), start=1):
                scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
        fused[qid] = scores
    return fused
