"""Embedder fine-tuning kinds (encoder-only base / M3, decoder-only base / ICL)."""
