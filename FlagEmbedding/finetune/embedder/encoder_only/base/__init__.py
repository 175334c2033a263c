"""Encoder-only embedder fine-tuning (``python -m FlagEmbedding.finetune.embedder.encoder_only.base``)."""
from FlagEmbedding.finetune.embedder.encoder_only.base.arguments import (
    EncoderOnlyEmbedderDataArguments,
    EncoderOnlyEmbedderModelArguments,
    EncoderOnlyEmbedderTrainingArguments,
)
from FlagEmbedding.finetune.embedder.encoder_only.base.modeling import BiEncoderOnlyEmbedderModel
from FlagEmbedding.finetune.embedder.encoder_only.base.runner import EncoderOnlyEmbedderRunner
from FlagEmbedding.finetune.embedder.encoder_only.base.trainer import EncoderOnlyEmbedderTrainer

__all__ = [
    "EncoderOnlyEmbedderModelArguments",
    "EncoderOnlyEmbedderDataArguments",
    "EncoderOnlyEmbedderTrainingArguments",
    "EncoderOnlyEmbedderTrainer",
    "EncoderOnlyEmbedderRunner",
    "BiEncoderOnlyEmbedderModel",
]
