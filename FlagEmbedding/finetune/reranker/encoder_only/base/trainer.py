"""Trainer of the encoder-only reranker."""
from FlagEmbedding.abc.finetune.reranker import AbsRerankerTrainer


class EncoderOnlyRerankerTrainer(AbsRerankerTrainer):
    """Checkpoints are full classifiers written with the wrapper's ``save_pretrained`` (model + tokenizer)."""

    save_method = "save_pretrained"
