"""Retrieve-then-rerank against a running ``python -m FlagEmbedding.serve`` with the official ``openai`` client.

Start a server with an embedder and a reranker, then run this script against it:

    python -m FlagEmbedding.serve --embedder BAAI/bge-base-en-v1.5 --reranker BAAI/bge-reranker-base &
    python examples/serve/search_client.py --url http://127.0.0.1:8000 [--api_key KEY]

The passages are embedded once (``input_type=passage``), the query with the model's query instruction
(``input_type=query``); the best hits by cosine similarity are then reordered by ``/v1/rerank``.
"""
from __future__ import annotations

import argparse
from typing import List, Optional, Sequence, Tuple

import httpx
import numpy as np
from openai import OpenAI

PASSAGES = [
    "The giant panda is a bear species endemic to China.",
    "Paris is the capital of France.",
    "Deep learning models embed text into dense vectors for retrieval.",
    "The quick brown fox jumps over the lazy dog.",
]
QUERY = "What is a panda?"


def main(argv: Optional[Sequence[str]] = None) -> List[Tuple[int, float]]:
    """Print and return ``(passage index, rerank score)`` of the reranked top hits."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--api_key", default="unused")
    parser.add_argument("--top_k", type=int, default=3)
    args = parser.parse_args(argv)

    client = OpenAI(base_url=f"{args.url}/v1", api_key=args.api_key)
    models = {model.task: model.id for model in client.models.list().data}  # type: ignore[attr-defined]
    embed = lambda texts, kind: np.array([item.embedding for item in client.embeddings.create(  # noqa: E731
        model=models["embedding"], input=texts, extra_body={"input_type": kind}).data])
    passages, query = embed(PASSAGES, "passage"), embed([QUERY], "query")[0]
    hits = np.argsort(-(passages @ query))[: args.top_k].tolist()
    print("dense top hits:", [PASSAGES[i] for i in hits])

    response = httpx.post(f"{args.url}/v1/rerank", headers={"Authorization": f"Bearer {args.api_key}"}, json={
        "model": models["rerank"], "query": QUERY, "documents": [PASSAGES[i] for i in hits]})
    response.raise_for_status()
    reranked = [(hits[r["index"]], r["relevance_score"]) for r in response.json()["results"]]
    for index, score in reranked:
        print(f"{score:.4f}  {PASSAGES[index]}")
    return reranked


if __name__ == "__main__":
    main()
