"""``torchrun -m FlagEmbedding.finetune.embedder.encoder_only.m3`` (or ``python -m``)."""
from FlagEmbedding.abc.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
    EncoderOnlyEmbedderM3DataArguments,
    EncoderOnlyEmbedderM3ModelArguments,
    EncoderOnlyEmbedderM3Runner,
    EncoderOnlyEmbedderM3TrainingArguments,
)

if __name__ == "__main__":
    run_main(
        EncoderOnlyEmbedderM3Runner, EncoderOnlyEmbedderM3ModelArguments, EncoderOnlyEmbedderM3DataArguments,
        EncoderOnlyEmbedderM3TrainingArguments,
    )
