"""Dense, sparse and ColBERT outputs of BGE-M3, and its hybrid pair scores.

Usage: python bge_m3.py /path/to/bge-m3 [--devices cpu]
"""
from __future__ import annotations

import argparse
from typing import Any, Dict, List, Optional

from FlagEmbedding import BGEM3FlagModel

SENTENCES_1 = ["What is BGE M3?", "Defination of BM25"]
SENTENCES_2 = [
    "BGE M3 is an embedding model supporting dense retrieval, lexical matching and multi-vector interaction.",
    "BM25 is a bag-of-words retrieval function that ranks a set of documents based on the query terms.",
]


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Encode with all three outputs, print each similarity and the weighted hybrid scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="local checkpoint folder (or a Hub id when online)")
    parser.add_argument("--devices", nargs="+", default=None)
    args = parser.parse_args(argv)
    model = BGEM3FlagModel(args.model_path, use_fp16=True, devices=args.devices)
    out_1 = model.encode(SENTENCES_1, return_dense=True, return_sparse=True, return_colbert_vecs=True)
    out_2 = model.encode(SENTENCES_2, return_dense=True, return_sparse=True, return_colbert_vecs=True)
    print("dense:\n", out_1["dense_vecs"] @ out_2["dense_vecs"].T)
    print("lexical tokens:", model.convert_id_to_token(out_1["lexical_weights"][0]))
    print("sparse:\n", model.compute_lexical_matching_score(out_1["lexical_weights"], out_2["lexical_weights"]))
    print("colbert:", float(model.colbert_score(out_1["colbert_vecs"][0], out_2["colbert_vecs"][0])))
    pairs = [[q, p] for q in SENTENCES_1 for p in SENTENCES_2]
    scores = model.compute_score(pairs, max_passage_length=128, weights_for_different_modes=[0.4, 0.2, 0.4])
    print(scores)
    model.stop_self_pool()
    return scores


if __name__ == "__main__":
    main()
