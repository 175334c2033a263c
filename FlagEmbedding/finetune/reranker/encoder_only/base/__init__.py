"""Encoder-only reranker fine-tuning (``python -m FlagEmbedding.finetune.reranker.encoder_only.base``)."""
from FlagEmbedding.finetune.reranker.encoder_only.base.modeling import CrossEncoderModel
from FlagEmbedding.finetune.reranker.encoder_only.base.runner import EncoderOnlyRerankerRunner
from FlagEmbedding.finetune.reranker.encoder_only.base.trainer import EncoderOnlyRerankerTrainer

__all__ = ["CrossEncoderModel", "EncoderOnlyRerankerRunner", "EncoderOnlyRerankerTrainer"]
