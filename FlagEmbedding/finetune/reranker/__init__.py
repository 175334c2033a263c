"""Reranker fine-tuning kinds (encoder-only base, decoder-only base / layerwise)."""
