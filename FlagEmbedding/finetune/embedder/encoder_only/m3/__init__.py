"""BGE-M3 fine-tuning (``python -m FlagEmbedding.finetune.embedder.encoder_only.m3``)."""
from FlagEmbedding.finetune.embedder.encoder_only.m3.arguments import (
    EncoderOnlyEmbedderM3DataArguments,
    EncoderOnlyEmbedderM3ModelArguments,
    EncoderOnlyEmbedderM3TrainingArguments,
)
from FlagEmbedding.finetune.embedder.encoder_only.m3.modeling import (
    EncoderOnlyEmbedderM3Model,
    EncoderOnlyEmbedderM3ModelForInference,
)
from FlagEmbedding.finetune.embedder.encoder_only.m3.runner import EncoderOnlyEmbedderM3Runner
from FlagEmbedding.finetune.embedder.encoder_only.m3.trainer import EncoderOnlyEmbedderM3Trainer

__all__ = [
    "EncoderOnlyEmbedderM3ModelArguments",
    "EncoderOnlyEmbedderM3DataArguments",
    "EncoderOnlyEmbedderM3TrainingArguments",
    "EncoderOnlyEmbedderM3Model",
    "EncoderOnlyEmbedderM3ModelForInference",
    "EncoderOnlyEmbedderM3Trainer",
    "EncoderOnlyEmbedderM3Runner",
]
