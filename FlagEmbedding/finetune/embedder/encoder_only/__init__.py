"""Encoder-only embedder fine-tuning kinds."""
