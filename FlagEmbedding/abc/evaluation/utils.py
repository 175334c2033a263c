"""Evaluation helpers: naming, retrieval metrics, exact batched top-k search and summaries.

``pytrec_eval`` is imported only when metrics are computed.
"""
from __future__ import annotations

import logging
import os
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_json, atomic_write_text

logger = logging.getLogger(__name__)

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]


# ---------------------------------------------------------------------------------------------- naming
def display_name(name_or_path: str) -> str:
    """The name shown for a model (and the name of its results folder): the last part of its normalised path.

    ``.../model/1_Pooling/..``, ``model/.`` and trailing separators all name ``model``; a name that would still be
    ``.`` or ``..`` (a folder outside the output folder) is an :class:`InputError`.
    """
    local = os.path.exists(name_or_path)
    path = os.path.abspath(name_or_path) if local else os.path.normpath(name_or_path)
    name = os.path.basename(path.rstrip("/\\")) or path.strip("/\\")
    if name in ("", ".", ".."):
        raise InputError(f"Model name or path {name_or_path!r} does not name a model folder; pass the folder itself "
                         f"(results are written in a sub-folder named after it).")
    return name


def passage_text(doc: Mapping[str, str]) -> str:
    """``"{title} {text}"`` stripped when the document has a title key, else its text unchanged."""
    if "title" in doc:
        return f"{doc['title']} {doc['text']}".strip()
    return doc["text"]


# ---------------------------------------------------------------------------------------------- metrics
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


# ---------------------------------------------------------------------------------------------- search
class EmbeddingIndex:
    """Exact inner-product index over row blocks (e.g. memory-mapped cache shards).

    No block is copied as a whole: :func:`search` reads ``chunk_rows`` rows at a time and converts only
    those to float32.
    """

    def __init__(self, blocks: Sequence[np.ndarray], chunk_rows: int = 32768):
        self.blocks = [block for block in blocks if block.shape[0] > 0]
        dims = {block.shape[1] for block in self.blocks}
        if len(dims) > 1:
            raise ValueError(f"Embedding blocks have different widths: {sorted(dims)}.")
        self.dim = dims.pop() if dims else 0
        self.ntotal = sum(block.shape[0] for block in self.blocks)
        self.chunk_rows = chunk_rows

    def chunks(self) -> Iterable[Tuple[int, np.ndarray]]:
        """Yield ``(first_row, rows)`` slices of at most ``chunk_rows`` rows, in corpus order."""
        offset = 0
        for block in self.blocks:
            for start in range(0, block.shape[0], self.chunk_rows):
                yield offset + start, block[start:start + self.chunk_rows]
            offset += block.shape[0]


def index(corpus_embeddings: Union[np.ndarray, Sequence[np.ndarray]], chunk_rows: int = 32768) -> EmbeddingIndex:
    """Build an :class:`EmbeddingIndex` over one matrix or a list of row blocks (shards)."""
    blocks = [corpus_embeddings] if isinstance(corpus_embeddings, np.ndarray) else list(corpus_embeddings)
    return EmbeddingIndex(blocks, chunk_rows=chunk_rows)


def _search_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@torch.inference_mode()
def search(
    embedding_index: EmbeddingIndex,
    k: int,
    query_embeddings: np.ndarray,
    batch_size: int = 1024,
    device: Optional[str] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner-product search, in query batches against corpus chunks.

    Returns ``(scores, indices)`` of shape ``(n_queries, min(k, ntotal))`` sorted by descending score
    (ties: lower corpus row first), computed in float32.
    """
    device = device or _search_device()
    k = min(k, embedding_index.ntotal)
    n_queries = query_embeddings.shape[0]
    all_scores = np.zeros((n_queries, k), dtype=np.float32)
    all_indices = np.zeros((n_queries, k), dtype=np.int64)
    if k == 0 or n_queries == 0:
        return all_scores, all_indices
    if query_embeddings.shape[1] != embedding_index.dim:
        raise ValueError(
            f"Query embeddings have width {query_embeddings.shape[1]} but the corpus embeddings have "
            f"width {embedding_index.dim}."
        )
    for start in range(0, n_queries, batch_size):
        queries = torch.from_numpy(np.ascontiguousarray(query_embeddings[start:start + batch_size], dtype=np.float32))
        queries = queries.to(device)
        best_scores = torch.full((queries.shape[0], 0), float("-inf"), device=device)
        best_indices = torch.zeros((queries.shape[0], 0), dtype=torch.long, device=device)
        for first_row, rows in embedding_index.chunks():
            chunk = torch.from_numpy(np.array(rows, dtype=np.float32)).to(device)  # a copy: rows may be a read-only memmap
            scores = queries @ chunk.T
            top = min(k, scores.shape[1])
            chunk_scores, chunk_indices = torch.topk(scores, top, dim=1)
            merged_scores = torch.cat([best_scores, chunk_scores], dim=1)
            merged_indices = torch.cat([best_indices, chunk_indices + first_row], dim=1)
            keep = min(k, merged_scores.shape[1])
            best_scores, order = torch.topk(merged_scores, keep, dim=1)
            best_indices = torch.gather(merged_indices, 1, order)
        scores_np = best_scores.float().cpu().numpy()
        indices_np = best_indices.cpu().numpy()
        order = np.lexsort((indices_np, -scores_np), axis=1)
        all_scores[start:start + len(scores_np)] = np.take_along_axis(scores_np, order, axis=1)
        all_indices[start:start + len(scores_np)] = np.take_along_axis(indices_np, order, axis=1)
    return all_scores, all_indices


# ---------------------------------------------------------------------------------------------- summaries
def _format_cell(value: Optional[float], bold: bool) -> str:
    if value is None:
        return "-"
    text = f"{value * 100:.3f}"
    return f"**{text}**" if bold else text


def summary_markdown(eval_results: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
                     metrics: Sequence[str]) -> str:
    """Markdown tables (one per metric) of ``{model: {reranker: {column: {metric: value}}}}``.

    Rows are sorted by model then reranker, columns sorted; missing values are ``-``; ``average`` is the
    row mean (``-`` if any value is missing); every maximal cell of a column is bold.
    """
    rows = [(model, reranker, results) for model in sorted(eval_results)
            for reranker, results in sorted(eval_results[model].items())]
    columns = sorted({column for _, _, results in rows for column in results})
    lines: List[str] = []
    for metric in metrics:
        table: List[List[Optional[float]]] = []
        for _, _, results in rows:
            values = [results.get(column, {}).get(metric) for column in columns]
            average = None if (not values or any(v is None for v in values)) else sum(values) / len(values)
            table.append([average] + values)
        best = []
        for j in range(len(columns) + 1):
            present = [round(row[j] * 100, 3) for row in table if row[j] is not None]
            best.append(max(present) if present else None)
        lines.append(f"## {metric}")
        lines.append("")
        lines.append("| " + " | ".join(["Model", "Reranker", "average"] + columns) + " |")
        lines.append("| :---- | :---- | " + " | ".join([":---:"] * (len(columns) + 1)) + " |")
        for (model, reranker, _), row in zip(rows, table):
            cells = "".join(
                _format_cell(value, value is not None and round(value * 100, 3) == best[j]) + " | "
                for j, value in enumerate(row)
            )
            lines.append(f"| {model} | {reranker} | {cells}")
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")


def write_summary(eval_results: Mapping[str, Any], output_method: str, output_path: str,
                  metrics: Sequence[str]) -> None:
    """Write the summary as ``json`` (indent 4, every metric) or ``markdown`` (see :func:`summary_markdown`)."""
    if output_method == "json":
        atomic_write_json(output_path, eval_results, indent=4)
    elif output_method == "markdown":
        atomic_write_text(output_path, summary_markdown(eval_results, metrics))
    else:
        raise ValueError(f"Invalid output method: {output_method}. Available methods: ['json', 'markdown']")
