"""Decoder-only embedder fine-tuning kinds (base, ICL)."""
