"""Decoder-only embedder fine-tuning (``python -m FlagEmbedding.finetune.embedder.decoder_only.base``)."""
from FlagEmbedding.finetune.embedder.decoder_only.base.arguments import (
    DecoderOnlyEmbedderDataArguments,
    DecoderOnlyEmbedderModelArguments,
    DecoderOnlyEmbedderTrainingArguments,
)
from FlagEmbedding.finetune.embedder.decoder_only.base.dataset import (
    DecoderOnlyEmbedderCollator,
    DecoderOnlyEmbedderSameDatasetCollator,
)
from FlagEmbedding.finetune.embedder.decoder_only.base.modeling import BiDecoderOnlyEmbedderModel
from FlagEmbedding.finetune.embedder.decoder_only.base.runner import DecoderOnlyEmbedderRunner
from FlagEmbedding.finetune.embedder.decoder_only.base.trainer import DecoderOnlyEmbedderTrainer

__all__ = [
    "DecoderOnlyEmbedderModelArguments",
    "DecoderOnlyEmbedderDataArguments",
    "DecoderOnlyEmbedderTrainingArguments",
    "DecoderOnlyEmbedderTrainer",
    "DecoderOnlyEmbedderRunner",
    "BiDecoderOnlyEmbedderModel",
    "DecoderOnlyEmbedderCollator",
    "DecoderOnlyEmbedderSameDatasetCollator",
]
