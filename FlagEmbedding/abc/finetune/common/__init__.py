"""Pieces shared by embedder and reranker fine-tuning: data loading/checking, arguments, trainer, runner."""
