"""Abstract fine-tuning layer: :mod:`FlagEmbedding.abc.finetune.embedder` and
:mod:`FlagEmbedding.abc.finetune.reranker`."""
