"""Encoder-only reranker fine-tuning."""
