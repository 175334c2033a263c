"""Decoder-only reranker fine-tuning kinds (base, layer-wise)."""
