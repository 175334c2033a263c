"""ICL embedder fine-tuning (``python -m FlagEmbedding.finetune.embedder.decoder_only.icl``)."""
from FlagEmbedding.finetune.embedder.decoder_only.icl.arguments import (
    DecoderOnlyEmbedderICLDataArguments,
    DecoderOnlyEmbedderICLModelArguments,
    DecoderOnlyEmbedderICLTrainingArguments,
)
from FlagEmbedding.finetune.embedder.decoder_only.icl.dataset import DecoderOnlyEmbedderICLSameDatasetTrainDataset
from FlagEmbedding.finetune.embedder.decoder_only.icl.modeling import BiDecoderOnlyEmbedderICLModel
from FlagEmbedding.finetune.embedder.decoder_only.icl.runner import DecoderOnlyEmbedderICLRunner
from FlagEmbedding.finetune.embedder.decoder_only.icl.trainer import DecoderOnlyEmbedderICLTrainer

__all__ = [
    "DecoderOnlyEmbedderICLModelArguments",
    "DecoderOnlyEmbedderICLDataArguments",
    "DecoderOnlyEmbedderICLTrainingArguments",
    "DecoderOnlyEmbedderICLTrainer",
    "DecoderOnlyEmbedderICLRunner",
    "DecoderOnlyEmbedderICLSameDatasetTrainDataset",
    "BiDecoderOnlyEmbedderICLModel",
]
