"""Retrieval evaluation of the embedder being fine-tuned (``--eval_retrieval_dir``, ``--eval_retrieval_split``).

Every evaluation (``--eval_strategy steps --eval_steps N``, or ``trainer.evaluate()``) encodes the BEIR-layout
corpus and the split's judged queries with the model being trained, searches exactly (the package's dense
search) and returns ``eval_ndcg_at_10`` and ``eval_recall_at_100`` through the Trainer's logging, so
``--load_best_model_at_end --metric_for_best_model ndcg_at_10`` works. Only the main process evaluates; the
metrics are broadcast to the other ranks. M3 fine-tuning adds sparse, ColBERT and "all" metrics
(:mod:`FlagEmbedding.finetune.embedder.encoder_only.m3.evaluation`).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch
import torch.distributed as dist

from FlagEmbedding.retrieval.metrics import evaluate_metrics
from FlagEmbedding.retrieval.readers import passage_text, read_corpus, read_qrels_tsv, read_queries
from FlagEmbedding.retrieval.dense import DenseIndex
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.eval_mode import eval_mode

#: the logged metrics: ``(name, pytrec family key, k)``
METRICS = (("ndcg_at_10", "NDCG@10", 10), ("recall_at_100", "Recall@100", 100))
#: hits retrieved per query (the deepest metric cut-off)
SEARCH_DEPTH = max(k for _, _, k in METRICS)


class RetrievalEvaluation:
    """A BEIR-layout evaluation set (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).

    Args:
        folder: The dataset folder.
        split: The qrels split whose queries are evaluated.
        query_max_len / passage_max_len: Token limits of the encodings.
        query_format: ``str.format`` pattern of (instruction, query), with ``instruction`` (``None``: none).
        batch_size: Texts encoded per forward pass.
    """

    def __init__(self, folder: str, split: str = "test", query_max_len: int = 32, passage_max_len: int = 128,
                 instruction: Optional[str] = None, query_format: str = "{}{}", batch_size: int = 64):
        qrels_path = os.path.join(folder, "qrels", f"{split}.tsv")
        for path in (os.path.join(folder, "corpus.jsonl"), os.path.join(folder, "queries.jsonl"), qrels_path):
            if not os.path.isfile(path):
                raise InputError(f"--eval_retrieval_dir {folder}: {path} is missing (a BEIR-layout folder with "
                                 f"corpus.jsonl, queries.jsonl and qrels/{split}.tsv is expected).")
        corpus = read_corpus(os.path.join(folder, "corpus.jsonl"))
        self.qrels = read_qrels_tsv(qrels_path)
        queries = read_queries(os.path.join(folder, "queries.jsonl"), keep=set(self.qrels))
        self.docids = list(corpus)
        self.passages = [passage_text(corpus[d]) for d in self.docids]
        self.qids = list(queries)
        self.queries = [query_format.format(instruction, queries[q]) if instruction else queries[q]
                        for q in self.qids]
        self.query_max_len, self.passage_max_len, self.batch_size = query_max_len, passage_max_len, batch_size

    def __len__(self) -> int:
        return len(self.qids)

    @torch.no_grad()
    def encode(self, model: Any, tokenizer: Any, texts: List[str], max_length: int) -> np.ndarray:
        """Dense vectors of ``texts`` from a training wrapper's ``encode`` (M3 reps: their ``dense``)."""
        device = next(model.parameters()).device
        out = []
        for start in range(0, len(texts), self.batch_size):
            features = tokenizer(texts[start:start + self.batch_size], max_length=max_length, truncation=True,
                                 padding=True, return_tensors="pt").to(device)
            reps = model.encode(dict(features))
            reps = reps["dense"] if isinstance(reps, dict) else reps
            out.append(reps.float().cpu().numpy())
        return np.concatenate(out, axis=0)

    def __call__(self, model: Any, tokenizer: Any) -> Dict[str, float]:
        """``{"ndcg_at_10", "recall_at_100"}`` of ``model`` (put in eval mode meanwhile)."""
        with eval_mode(model):
            corpus = self.encode(model, tokenizer, self.passages, self.passage_max_len)
            queries = self.encode(model, tokenizer, self.queries, self.query_max_len)
        scores, rows = DenseIndex([corpus]).search(queries, SEARCH_DEPTH)
        return self.run_metrics({qid: {self.docids[r]: float(s) for s, r in zip(row_scores, row_ids)}
                                 for qid, row_scores, row_ids in zip(self.qids, scores.tolist(), rows.tolist())})

    def run_metrics(self, run: Mapping[str, Mapping[str, float]]) -> Dict[str, float]:
        """``{"ndcg_at_10", "recall_at_100"}`` of a run ``{qid: {docid: score}}`` against the split's qrels."""
        ndcg, _, recall, _ = evaluate_metrics(self.qrels, run, sorted({k for _, _, k in METRICS}))
        values = {**ndcg, **recall}
        return {name: values[key] for name, key, _ in METRICS}


def evaluate_once(evaluation: RetrievalEvaluation, model: Any, tokenizer: Any, is_main: bool) -> Dict[str, float]:
    """Run ``evaluation`` on the main process only and share its metrics with every rank."""
    metrics: List[Optional[Dict[str, float]]] = [evaluation(model, tokenizer) if is_main else None]
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.broadcast_object_list(metrics, src=0)
    assert metrics[0] is not None  # the main rank's metrics, broadcast to the others
    return metrics[0]
